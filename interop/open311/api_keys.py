"""Trusted Open311 clients and their API keys: created and revoked from the CLI, kept only
as a SHA-256, looked up by that hash on each request that presents one."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

KEY_PREFIX = "gg311_"
# Characters of the key kept in clear, so an operator can tell keys apart.
SHOWN_CHARS = 12
MAX_NAME = 100


@dataclass(frozen=True)
class TrustedClient:
    """A client whose key was presented and is in force."""

    id: int
    name: str


@dataclass(frozen=True)
class ClientRecord:
    """A client as the CLI lists it (never its key)."""

    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_api_key(api_key: str) -> str:
    """SHA-256 of a key: a random 256-bit key cannot be guessed, so no slow hash is
    needed, and the hash can be looked up by index."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidInput(
            f"a client name has 1 to {MAX_NAME} printable characters",
            f"客户端名称应为 1 到 {MAX_NAME} 个可打印字符",
            field="name",
        )
    return name


def create_client_key(conn: Connection, name: str) -> str:
    """A new client with a fresh key; the key is returned once and never stored. A name
    already in use (even revoked) is a conflict: history keeps pointing at it."""
    name = _check_name(name)
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    created = conn.execute(
        text("""
        INSERT INTO open311_clients (name, key_hash, key_prefix) VALUES (:n, :h, :p)
        ON CONFLICT (name) DO NOTHING RETURNING id
    """),
        {"n": name, "h": hash_api_key(api_key), "p": api_key[:SHOWN_CHARS]},
    ).first()
    if created is None:
        raise Conflict(
            f"a client named {name!r} exists already", f"已有名为 {name} 的客户端", field="name"
        )
    return api_key


def revoke_client_key(conn: Connection, name: str) -> datetime:
    """Revoke a client's key (its requests stay attributed to it); returns when it was
    revoked, the first time if it was already."""
    row = conn.execute(
        text("""
        UPDATE open311_clients SET revoked_at = coalesce(revoked_at, now())
        WHERE name = :n RETURNING revoked_at
    """),
        {"n": name.strip()},
    ).first()
    if row is None:
        raise NotFound(
            f"no Open311 client named {name!r}", f"没有名为 {name} 的客户端", field="name"
        )
    return row.revoked_at


def list_clients(conn: Connection) -> list[ClientRecord]:
    """Every client, newest first."""
    rows = conn.execute(
        text("""
        SELECT name, key_prefix, created_at, revoked_at FROM open311_clients
        ORDER BY created_at DESC, id DESC
    """)
    )
    return [ClientRecord(*row) for row in rows]


_FIND = text("""
    SELECT id, name FROM open311_clients WHERE key_hash = :h AND revoked_at IS NULL
""")


async def client_for_key(session: AsyncSession, api_key: str | None) -> TrustedClient | None:
    """The client holding this key; None when no key is given (an empty parameter counts
    as none, as the spec says); 403 for an unknown or revoked key."""
    if api_key is None or not api_key.strip():
        return None
    row = (await session.execute(_FIND, {"h": hash_api_key(api_key.strip())})).first()
    if row is None:
        raise PermissionDenied(
            "the api_key is not valid (unknown or revoked)",
            "api_key 无效（不存在或已吊销）",
            field="api_key",
        )
    return TrustedClient(row.id, row.name)
