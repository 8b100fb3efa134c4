"""Exact ID-number searches of the people register, limited and alerted per account.

A full ID number matches exactly, and a record shows the age and the last four
characters, so one person's number is a few hundred guesses away (region from the
address, birth date from the age). Each account gets ID_SEARCH_LIMIT exact searches per
window, then 429; every refused search, and every burst (ID_SEARCH_BURST within a minute,
refused or not), is written to the audit log as an `alert`. The counts live in
PostgreSQL beside the other rate limits, so all worker processes share them, and they
hold whatever `rate_limits_enabled` says (RateLimiter.count): this is a privacy control,
not a throttle."""

from __future__ import annotations

from fastapi import Request

from api.abuse import audit_actor
from core import audit
from grid.access import Principal

ID_SEARCH_LIMIT = (20, 3600)  # exact ID searches per account, per window of seconds
ID_SEARCH_BURST = (5, 60)  # this many in a minute is alerted even under the limit
# The burst window is only counted (for the alert); the limit is the account's.
_RULES = {"account": ID_SEARCH_LIMIT, "burst": (None, ID_SEARCH_BURST[1])}


async def guard_exact_id_search(request: Request, principal: Principal) -> None:
    """Count one exact ID search of the account; alert on a burst, and alert and raise
    TooManyRequests (429) over the limit. The search text itself is never recorded."""
    (limit, seconds), (burst, burst_seconds) = ID_SEARCH_LIMIT, ID_SEARCH_BURST
    tally = await request.app.state.limiter.count(
        "id_search", _RULES, account=principal.id, burst=principal.id
    )
    searches, recent = tally.hits["account"], tally.hits["burst"]
    alerts = []
    if recent == burst:  # once per burst window, when it is reached
        alerts.append(
            {
                "kind": "id_search_burst",
                "searches_in_window": recent,
                "window_seconds": burst_seconds,
            }
        )
    if searches > limit:
        alerts.append(
            {
                "kind": "id_search_over_limit",
                "searches_in_window": searches,
                "limit": limit,
                "window_seconds": seconds,
                "refused": True,
            }
        )
    if alerts:
        actor = audit_actor(request, principal)
        # Autocommit: the alert stands although the request then fails.
        async with request.app.state.autocommit() as conn:
            for alert in alerts:
                await audit.record(
                    conn, "alert", actor, "id_search", principal.id, **alert, path=request.url.path
                )
    tally.refuse("ID-number search")
