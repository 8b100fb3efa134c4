"""Exact ID-number searches of the people register, limited and alerted per account.

A full ID number matches exactly, and a record shows the age and the last four
characters, so one person's number is a few hundred guesses away (region from the
address, birth date from the age). Each account gets ID_SEARCH_LIMIT exact searches per
window, then 429; every refused search, and every burst (ID_SEARCH_BURST within a minute,
refused or not), is written to the audit log as an `alert`. The counts live in
PostgreSQL beside the other rate limits, so all worker processes share them, and they
hold whatever `rate_limits_enabled` says: this is a privacy control, not a throttle."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import text

from api.abuse import audit_actor
from gis import audit
from gis.errors import TooManyRequests
from grid.access import Principal

ID_SEARCH_LIMIT = (20, 3600)  # exact ID searches per account, per window of seconds
ID_SEARCH_BURST = (5, 60)  # this many in a minute is alerted even under the limit

# Both windows counted in one statement, as gis/abuse.py counts its limits.
_HIT = text(
    "INSERT INTO rate_limit_counters AS c (key, window_start, hits) "
    "SELECT k, s, 1 FROM unnest(CAST(:keys AS text[]), CAST(:starts AS timestamptz[])) "
    "AS t(k, s) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1 "
    "RETURNING key, hits"
)


def _window_start(now: float, seconds: int) -> datetime:
    return datetime.fromtimestamp(now // seconds * seconds, UTC)


async def guard_exact_id_search(request: Request, principal: Principal) -> None:
    """Count one exact ID search of the account; alert on a burst, and alert and raise
    TooManyRequests (429) over the limit. The search text itself is never recorded."""
    (limit, seconds), (burst, burst_seconds) = ID_SEARCH_LIMIT, ID_SEARCH_BURST
    now = time.time()
    hourly_key = f"id_search:account:{principal.id}"
    burst_key = f"id_search_burst:account:{principal.id}"
    actor = audit_actor(request, principal)
    # Autocommit: the count and the alert stand although the request then fails.
    async with request.app.state.autocommit() as conn:
        rows = dict((await conn.execute(_HIT, {
            "keys": [hourly_key, burst_key],
            "starts": [_window_start(now, seconds), _window_start(now, burst_seconds)],
        })).all())
        searches, recent = rows[hourly_key], rows[burst_key]
        if recent == burst:  # once per burst window, when it is reached
            await audit.record(conn, "alert", actor, "id_search", principal.id,
                               kind="id_search_burst", searches_in_window=recent,
                               window_seconds=burst_seconds, path=request.url.path)
        if searches > limit:
            await audit.record(conn, "alert", actor, "id_search", principal.id,
                               kind="id_search_over_limit", searches_in_window=searches,
                               limit=limit, window_seconds=seconds, refused=True,
                               path=request.url.path)
    if searches > limit:
        raise TooManyRequests(max(1, math.ceil(seconds - now % seconds)), "ID-number search")
