"""Idempotency-Key: a retried request gets the first answer again; the same key with a
different body is refused. Intake stores the answer in the statement that stores the
report (incidents.intake.RetryKey), once: a retry that finds the key taken rolls its own
work back and replays the first answer. A retry racing the first request waits on the
key's row until the first one's transaction ends, so two racing retries can never both
store a report."""

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
    """The stored answer to an earlier request with the same key."""

    request_hash: str
    status_code: int
    body: dict[str, Any]

    def for_request(self, fingerprint: str) -> Replay:
        """This answer when it was to the same request; else a 422 naming the header."""
        if self.request_hash != fingerprint:
            raise InvalidInput(
                f"this {KEY_HEADER} was already used for a different request",
                f"该 {KEY_HEADER} 已用于另一个不同的请求", field=KEY_HEADER,
            )
        return self


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


_EARLIER = text("""
    SELECT request_hash, status_code, response FROM idempotency_records
    WHERE key = :key AND scope = :scope
""")


async def earlier_answer(session: AsyncSession, scope: str, key: str) -> Replay:
    """The answer stored under a key that was found taken."""
    row = (await session.execute(_EARLIER, {"key": key, "scope": scope})).one()
    return Replay(row.request_hash, row.status_code, row.response)
