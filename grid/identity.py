"""ID numbers: stored as a keyed hash (HMAC-SHA256) plus the last four characters."""

from __future__ import annotations

import hashlib
import hmac
import re

# 18-character resident ID (GB 11643): 17 digits and a digit or X check character.
_ID_PATTERN = re.compile(r"^[0-9]{17}[0-9X]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def normalise_id_number(raw: str) -> str:
    """Upper-case, strip spaces; raises ValueError for a malformed or mis-checked number."""
    value = re.sub(r"\s+", "", raw).upper()
    if not _ID_PATTERN.match(value):
        raise ValueError("an ID number has 17 digits followed by a digit or X")
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != value[17]:
        raise ValueError("the ID number's check character does not match")
    return value


def id_number_hash(id_number: str, key: bytes) -> str:
    """Keyed hash of a normalised ID number: equal numbers match, none can be read back."""
    return hmac.new(key, id_number.encode("ascii"), hashlib.sha256).hexdigest()


def masked_id_number(last4: str | None) -> str | None:
    """The only display form of an ID number: 14 stars and the last four characters."""
    return None if last4 is None else "*" * 14 + last4
