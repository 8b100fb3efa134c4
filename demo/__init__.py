"""The demo city and its data, and the README's screenshots: tooling, not the product."""
