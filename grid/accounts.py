"""Password hashing (argon2 via pwdlib), account look-ups and signing in (audited)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.audit import Actor
from core.database import commits
from grid.models import User

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


@commits
async def check_credentials(
    session: AsyncSession, username: str, password: str, ip: str | None
) -> User | None:
    """The active account the username and password name, or None; a failure is audited
    (committed) alike for a wrong password, an unknown or a disabled account."""
    user = (
        await session.execute(select(User).where(User.username == username))
    ).scalar_one_or_none()
    # Verify against a dummy hash for unknown users: same time, same answer.
    ok = verify_password(password, user.password_hash if user else dummy_hash())
    if user is None or not ok or not user.is_active:
        actor = Actor(user.id if user else None, username[:100], None, ip)
        await audit.record(session, "login_failed", actor)
        return None
    return user


@commits
async def record_sign_in(session: AsyncSession, user: User, ip: str | None) -> None:
    """Audit a successful sign-in, committed."""
    await audit.record(session, "login", Actor(user.id, user.username, user.role, ip))
