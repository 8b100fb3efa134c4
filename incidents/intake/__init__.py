"""Report intake: validation, location, routing, tracking numbers, text, phones, photos."""
