"""The rating history of a report: its ratings, work orders, flags and appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import PermissionDenied
from grid.access import Principal
from incidents.handling.actions import can_see, not_found
from incidents.intake.filing import IntakeContext
from incidents.intake.tracking import secret_matches
from incidents.ratings.standing import READ_REPORT, is_reporter, is_staff

_RATINGS = text("""
    SELECT g.id, g.kind, g.work_order_id, g.overall, g.timeliness, g.convenience, g.comment,
           g.channel, g.defaulted, g.excluded, g.created_at, rb.username AS recorded_by
    FROM ratings g LEFT JOIN users rb ON rb.id = g.recorded_by_id
    WHERE g.incident_id = :id ORDER BY g.id
""")
_ORDERS = text("""
    SELECT w.id, w.status, w.due_at, w.revisited_at, w.escalation_level, w.contact_method,
           w.outcome, w.actions_taken, u.username AS assignee
    FROM work_orders w LEFT JOIN users u ON u.id = w.assignee_id
    WHERE w.incident_id = :id ORDER BY w.id
""")
_FLAGS = text("""
    SELECT f.id, f.rating_id, f.reason, f.status, f.created_at, f.decided_at,
           a.username AS flagged_by, d.username AS decided_by
    FROM rating_flags f JOIN ratings g ON g.id = f.rating_id
    JOIN users a ON a.id = f.flagged_by_id LEFT JOIN users d ON d.id = f.decided_by_id
    WHERE g.incident_id = :id ORDER BY f.id
""")
_APPEALS = text("""
    SELECT p.id, p.rating_id, p.reason, p.status, p.decision_note, p.created_at,
           p.decided_at
    FROM rating_appeals p JOIN ratings g ON g.id = p.rating_id
    WHERE g.incident_id = :id ORDER BY p.id
""")


def _plain(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


async def rating_history(
    session: AsyncSession,
    ctx: IntakeContext,
    tracking_number: str,
    principal: Principal | None,
    secret: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Every rating of a report, excluded ones included (marked), with its work orders:
    their public state for the reporter or secret holder; the revisit record, flags and
    appeals for staff who can see the report."""
    row = (await session.execute(READ_REPORT, {"t": tracking_number})).first()
    if row is None:
        raise not_found(tracking_number)
    staff = is_staff(principal)
    if staff:
        assert principal is not None
        if not await can_see(session, principal, row, now):
            raise not_found(tracking_number)
    elif not (
        is_reporter(principal, row.reporter_id)
        or (secret and secret_matches(secret, row.secret_hash, ctx.secret_key))
    ):
        raise PermissionDenied(
            "sign in as the reporter or give the secret from submission",
            "请登录上报账号或提供查询码",
        )
    ratings = [_plain(r) for r in (await session.execute(_RATINGS, {"id": row.id})).mappings()]
    orders = [_plain(r) for r in (await session.execute(_ORDERS, {"id": row.id})).mappings()]
    body: dict[str, Any] = {
        "tracking_number": row.tracking_number,
        "status": row.status,
        "ratings": ratings,
    }
    if staff:
        body["work_orders"] = orders
        body["flags"] = [
            _plain(r) for r in (await session.execute(_FLAGS, {"id": row.id})).mappings()
        ]
        body["appeals"] = [
            _plain(r) for r in (await session.execute(_APPEALS, {"id": row.id})).mappings()
        ]
    else:
        for rating in ratings:
            rating.pop("recorded_by")
        body["work_orders"] = [
            {k: o[k] for k in ("id", "status", "due_at", "revisited_at")} for o in orders
        ]
    return body
