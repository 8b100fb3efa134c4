"""Personal data kept out of the access log: bearer tokens and Open311 API keys in query
strings; names, phone, ID and card numbers, e-mail, WeChat/QQ ids and plates typed into
searches, found with the same patterns as the redaction before publication
(incidents/publication/redaction.py), in whatever form they arrive (spaced, dashed,
+86, encoded)."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote_plus

from incidents.publication.redaction import (
    EMAIL_MASK,
    ID_MASK,
    IM_MASK,
    NUMBER_MASK,
    PHONE_MASK,
    PLATE_MASK,
    personal_numbers,
)

_SECRET = re.compile(r"((?:access_token|api_key)=)[^&\s\"]*")
# A query parameter's value, up to the next parameter, space or quote.
_QUERY_VALUE = re.compile(r"([?&][^=&\s\"?]+=)([^&\s\"]*)")
# Contiguous ID and mobile numbers anywhere else on the line (a path, a referrer).
_BARE = [
    (re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])"), "<id-number>"),
    (re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"), "<phone>"),
]
# Letters beyond ASCII in a searched value are a name or an address as typed: there is no
# telling a name from other text, so the whole value goes (over-masking is the safe mistake).
_WORDS = re.compile(r"[^\x00-\x7f]")
_TEXT = "<text>"
# The log stays ASCII: each publication mask becomes its kind.
_KIND = {
    PHONE_MASK: "<phone>",
    ID_MASK: "<id-number>",
    NUMBER_MASK: "<number>",
    EMAIL_MASK: "<email>",
    IM_MASK: "<im-id>",
    PLATE_MASK: "<plate>",
}


def _mask_value(raw: str) -> str:
    """One query value with its personal data masked, re-encoded for the log."""
    value = unquote_plus(raw)
    if _WORDS.search(value):
        return _TEXT
    found = personal_numbers(value)
    if not found:
        return raw
    parts, last = [], 0
    for start, end, mask in found:
        parts += [quote(value[last:start], safe=""), _KIND[mask]]
        last = end
    return "".join(parts) + quote(value[last:], safe="")


def mask_personal_data(line: str) -> str:
    """The text with tokens, names, and phone, ID and other personal numbers masked."""
    line = _SECRET.sub(r"\1***", line)
    line = _QUERY_VALUE.sub(lambda m: m.group(1) + _mask_value(m.group(2)), line)
    for pattern, replacement in _BARE:
        line = pattern.sub(replacement, line)
    return line


class MaskPersonalData(logging.Filter):
    """Masks personal data in a record's message arguments (uvicorn's access log passes
    the request line as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_personal_data(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def mask_access_log() -> None:
    """Install the mask on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskPersonalData) for f in access.filters):
        access.addFilter(MaskPersonalData())
