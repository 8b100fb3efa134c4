"""Idempotency-Key: a retried request gets the first answer again; the same key with a
different body is refused. Same-key requests are serialised by an advisory lock held
until the transaction ends, so two racing retries cannot both do the work."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.errors import InvalidInput

KEY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Replay:
    """The stored answer to an earlier request with the same key and body."""

    status_code: int
    body: dict[str, Any]


def request_fingerprint(*parts: Any) -> str:
    """A stable hash of what was asked (canonical JSON of the parts)."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    """A usable key, or a 422 naming the header."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"{KEY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters",
                           f"{KEY_HEADER} 应为 1 到 {MAX_KEY_LENGTH} 个可打印字符",
                           field=KEY_HEADER)
    return key


async def claim(session: AsyncSession, scope: str, key: str, fingerprint: str) -> Replay | None:
    """Lock the key for this transaction; the earlier answer when there is one (422 when
    it was for a different request)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": f"{scope}|{key}"})
    row = (await session.execute(text("""
        SELECT request_hash, status_code, response FROM idempotency_records
        WHERE key = :key AND scope = :scope
    """), {"key": key, "scope": scope})).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise InvalidInput(
            f"this {KEY_HEADER} was already used for a different request",
            f"该 {KEY_HEADER} 已用于另一个不同的请求", field=KEY_HEADER,
        )
    return Replay(row.status_code, row.response)


async def remember(
    session: AsyncSession, scope: str, key: str, fingerprint: str, status_code: int,
    body: dict[str, Any],
) -> None:
    """Store the answer in the same transaction as the work it describes."""
    await session.execute(text("""
        INSERT INTO idempotency_records (key, scope, request_hash, status_code, response)
        VALUES (:key, :scope, :hash, :status, CAST(:body AS jsonb))
    """), {"key": key, "scope": scope, "hash": fingerprint, "status": status_code,
           "body": json.dumps(body, ensure_ascii=False)})
