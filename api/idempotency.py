"""Idempotency-Key: a retried request gets the first answer again; the same key with a
different body is refused. Intake stores the answer in the statement that stores the
report (incidents.intake.filing.RetryKey), once: a retry that finds the key taken rolls its own
work back and replays the first answer. A retry racing the first request waits on the
key's row until the first one's transaction ends, so two racing retries can never both
store a report.

Staff writes (actions, notes, check-ins, extension requests, patrol visits: the worker's
phone replays its offline queue) share `answer_once` below, which claims the key first
and stores the answer at the end, in the same transaction as the write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import unit_of_work
from core.errors import InvalidInput
from grid.access import Principal

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200

KeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        max_length=MAX_KEY_LENGTH,
        description="one key per action: a retry with the same key and request gets the "
        "first answer again (header Idempotent-Replayed: true) and changes "
        "nothing; the same key with a different request is a 422",
    ),
]


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
                f"该 {KEY_HEADER} 已用于另一个不同的请求",
                field=KEY_HEADER,
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
        raise InvalidInput(
            f"{KEY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters",
            f"{KEY_HEADER} 应为 1 到 {MAX_KEY_LENGTH} 个可打印字符",
            field=KEY_HEADER,
        )
    return key


_EARLIER = text("""
    SELECT request_hash, status_code, response FROM idempotency_records
    WHERE key = :key AND scope = :scope
""")


async def earlier_answer(session: AsyncSession, scope: str, key: str) -> Replay:
    """The answer stored under a key that was found taken."""
    row = (await session.execute(_EARLIER, {"key": key, "scope": scope})).one()
    return Replay(row.request_hash, row.status_code, row.response)


def replayable(status_code: int = 200) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI note that an answer may be a replay (for a route's `responses`)."""
    return {
        status_code: {
            "headers": {
                REPLAYED_HEADER: {
                    "description": f"`true` when this is the stored answer to an earlier "
                    "request with "
                    f"the same {KEY_HEADER} (nothing was changed again)",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        }
    }


# Claiming the key is the first write: while the claim is uncommitted, a racing request
# with the same key waits on this row (the primary key's index) until the first one's
# transaction ends, then either finds the answer (replay) or, if the first was refused
# and rolled back, claims the key itself. So two requests with one key never both apply,
# and a retry never re-runs a step (which would be refused as an illegal move) instead of
# getting the first answer. The answer replaces the placeholder before the commit.
_CLAIM = text("""
    INSERT INTO idempotency_records (key, scope, request_hash, status_code, response)
    VALUES (:key, :scope, :hash, :status, '{}')
    ON CONFLICT (key, scope) DO NOTHING
    RETURNING true
""")
_ANSWER = text("""
    UPDATE idempotency_records SET response = CAST(:answer AS jsonb)
    WHERE key = :key AND scope = :scope
""")


def staff_scope(request: Request, principal: Principal) -> str:
    """Keys are the caller's own per route: `staff:{user id}:{method} {path template}`."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return f"staff:{principal.id}:{request.method} {path}"


async def answer_once(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    asked: tuple[Any, ...],
    work: Callable[[], Awaitable[dict[str, Any]]],
    status_code: int = 200,
) -> JSONResponse:
    """Run a staff write and commit it; with a key, once: the answer is stored under the
    key in the write's transaction, a retry of the same request (its path and what was
    `asked`: the body, the photos' hashes) replays it (same status,
    `Idempotent-Replayed: true`), a different request under the key is a 422, and a
    refused write (any error) rolls back and leaves the key free for a corrected retry."""
    # The unit of work is opened here, at the edge, not in the use case: the key's claim
    # and stored answer must commit with the write (a use case that commits joins it).
    async with unit_of_work(session):
        if key is None:
            return JSONResponse(jsonable_encoder(await work()), status_code)
        return await _claimed_answer(session, request, principal, key, asked, work, status_code)


async def _claimed_answer(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str,
    asked: tuple[Any, ...],
    work: Callable[[], Awaitable[dict[str, Any]]],
    status_code: int,
) -> JSONResponse:
    """Claim the key and do the work storing its answer, or replay the key's answer."""
    key = check_key(key)
    scope = staff_scope(request, principal)
    # The path is in it: the scope names the route, not the report it acted on.
    fingerprint = request_fingerprint(request.url.path, *asked)
    params = {"key": key, "scope": scope}
    claimed = (
        await session.execute(_CLAIM, {**params, "hash": fingerprint, "status": status_code})
    ).first()
    if claimed is None:
        replay = (await earlier_answer(session, scope, key)).for_request(fingerprint)
        return JSONResponse(replay.body, replay.status_code, headers={REPLAYED_HEADER: "true"})
    try:
        answer = jsonable_encoder(await work())
        await session.execute(_ANSWER, {**params, "answer": json.dumps(answer, ensure_ascii=False)})
    except BaseException:
        # Refused (403, 409, 422, ...): the claim goes with the rest of the work.
        await session.rollback()
        raise
    return JSONResponse(answer, status_code)
