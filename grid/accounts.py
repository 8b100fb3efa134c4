"""Password hashing (argon2 via pwdlib) and account look-ups."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_LENGTH = 8


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """Hash a password with argon2id and a fresh salt."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when the password matches the stored hash; False for any malformed hash."""
    try:
        return _hasher().verify(password, password_hash)
    except Exception:  # a corrupted or foreign hash must read as "wrong password"
        return False


# Verified against when the username is unknown, so a failed login takes the
# same time whether or not the account exists.
@lru_cache
def dummy_hash() -> str:
    """A hash of a random string, computed once."""
    return hash_password("not-a-real-password-7f3a")
