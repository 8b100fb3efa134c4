"""Personal data kept out of the access log: bearer tokens and Open311 API keys in query
strings, ID numbers and mobile numbers typed into searches."""

from __future__ import annotations

import logging
import re

_MASKS = [
    (re.compile(r"((?:access_token|api_key)=)[^&\s\"]*"), r"\1***"),
    # An 18-character ID number (URL-encoded or not), and a mainland mobile number.
    (re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])"), "<id-number>"),
    (re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"), "<phone>"),
]


def mask_personal_data(line: str) -> str:
    """The text with tokens, ID numbers and phone numbers masked."""
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    return line


class MaskPersonalData(logging.Filter):
    """Masks personal data in a record's message arguments (uvicorn's access log passes
    the request line as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_personal_data(a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def mask_access_log() -> None:
    """Install the mask on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskPersonalData) for f in access.filters):
        access.addFilter(MaskPersonalData())
