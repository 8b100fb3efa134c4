"""Free text from clients: the one rule for what may be stored, as pydantic types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

# Line breaks and tabs belong in prose; no other control character does (a NUL cannot
# even be stored as text).
_PROSE_CONTROLS = "\n\r\t"


def has_control_characters(value: str, allowed: str = _PROSE_CONTROLS) -> bool:
    """Whether the value holds a control character (below U+0020) other than `allowed`."""
    return any(ord(c) < 32 and c not in allowed for c in value)


def _plain(value: str | None) -> str | None:
    if value is not None and has_control_characters(value):
        raise ValueError("contains control characters")
    return value


def _single_line(value: str | None) -> str | None:
    if value is not None and has_control_characters(value, allowed=""):
        raise ValueError("contains line breaks or control characters")
    return value


# Prose: a description, a note, a reason; line breaks and tabs kept.
PlainText = Annotated[str, AfterValidator(_plain)]
# A name, an address, a username: one line, no control character at all.
SingleLineText = Annotated[str, AfterValidator(_single_line)]
# The optional spellings hold the None inside, so a field's max_length still reaches the
# string ("at most N characters"); `PlainText | None` would get pydantic's generic
# "at most N items" instead.
PlainTextOrNone = Annotated[str | None, AfterValidator(_plain)]
SingleLineTextOrNone = Annotated[str | None, AfterValidator(_single_line)]
