"""Free text from clients: what may be stored."""

from __future__ import annotations


def printable_text(value: str | None) -> str | None:
    """The value, unless it holds control characters (a NUL cannot be stored as text and
    none belongs in a report); line breaks and tabs are fine. For pydantic validators."""
    if value is not None and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("contains control characters")
    return value
