"""Tracking numbers for reporters, and the secret that lets them rate without an account."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from incidents.handling.workdays import CHINA_TZ

# Crockford's base32: no I, L, O or U, so a number read out on the phone is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_CHARS = 8  # 32**8 ~ 10**12 per day: collisions stay negligible at any volume
# What new_tracking_number makes, as request models and paths check it.
TRACKING_NUMBER_PATTERN = r"^[0-9]{6}-[0-9A-Z]{8}$"


def new_tracking_number(now: datetime) -> str:
    """`YYMMDD-XXXXXXXX`: the China date of submission and eight random characters."""
    day = now.astimezone(CHINA_TZ).strftime("%y%m%d")
    # One read of the system's randomness rather than one per character; 256 is a
    # multiple of 32, so every character stays equally likely.
    chars = (_ALPHABET[byte % len(_ALPHABET)] for byte in secrets.token_bytes(_RANDOM_CHARS))
    return f"{day}-{''.join(chars)}"


def new_secret() -> str:
    """The reporter's secret for rating later; shown once, stored only as a keyed hash."""
    return secrets.token_urlsafe(18)


def secret_hash(secret: str, key: str) -> str:
    """Keyed hash of a reporter's secret."""
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str, key: str) -> bool:
    """Constant-time check of a presented secret."""
    return hmac.compare_digest(secret_hash(secret, key), stored_hash)
