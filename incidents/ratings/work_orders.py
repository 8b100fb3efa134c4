"""The rectification work order a bad rating opens: who gets it, its revisit, the lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, manager_over
from grid.roles import MANAGER_LADDER, MANAGER_ROLES, Role
from grid.sql_fragments import reach_params, region_within_reach
from incidents.handling.workdays import deadline
from incidents.intake.filing import IntakeContext
from incidents.models.ratings import CONTACT_METHODS
from incidents.ratings.scores import RatingRules, given_text
from incidents.timeline import notify, record_event
from incidents.versioning import next_version

LOCK_WORK_ORDER = text("""
    SELECT w.id, w.incident_id, w.status, w.assignee_id, w.revisited_by_id, w.version,
           i.tracking_number,
           i.reporter_id, r.path AS region_path
    FROM work_orders w JOIN incidents i ON i.id = w.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE w.id = :id
    FOR UPDATE OF w
""")


# Up the handler's chain: the nearest level above the handler's role with an active
# manager on the report's region chain (ancestor ids from its path), admins at the top.
# Ranks 1..4 are the places on the ladder, admins last; anyone else ranks 0.
_CHAIN_PARAMS = {
    "ranks": [r.value for r in (*MANAGER_LADDER, Role.ADMIN)],
    "area_managers": [r.value for r in MANAGER_LADDER],
    "admin": Role.ADMIN.value,
}
_CHAIN_ASSIGNEE = text("""
    WITH report AS (
        SELECT coalesce(CAST(string_to_array(trim(BOTH '/' FROM r.path), '/') AS int[]),
                        '{}') AS chain,
               coalesce((SELECT array_position(CAST(:ranks AS text[]), CAST(h.role AS text))
                         FROM users h WHERE h.id = i.handler_id), 0) AS handler_rank,
               i.handler_id
        FROM incidents i LEFT JOIN regions r ON r.id = i.region_id
        WHERE i.id = :incident_id
    ), ranked AS (
        SELECT u.id, array_position(CAST(:ranks AS text[]), CAST(u.role AS text)) AS rank
        FROM report JOIN users u ON u.is_active AND (
            (u.role = ANY(:area_managers) AND u.region_id = ANY(report.chain))
            OR u.role = :admin)
        WHERE u.id IS DISTINCT FROM report.handler_id
    )
    SELECT ranked.id FROM ranked, report
    WHERE ranked.rank > least(report.handler_rank, 3)
    ORDER BY ranked.rank, ranked.id
    LIMIT 1
""")

_OPEN_WORK_ORDER = text("""
    INSERT INTO work_orders (incident_id, rating_id, assignee_id, due_at, created_at)
    VALUES (:incident_id, :rating_id, :assignee_id, :due_at, :now)
    RETURNING id
""")


async def open_work_order(
    session: AsyncSession,
    row: Any,
    rating_id: int,
    rules: RatingRules,
    ctx: IntakeContext,
    now: datetime,
) -> dict[str, Any]:
    """The rectification work order of a bad rating, up the handler's chain."""
    assignee_id = (
        await session.execute(_CHAIN_ASSIGNEE, {"incident_id": row.id, **_CHAIN_PARAMS})
    ).scalar()
    due_at = deadline(now, rules.rectification_deadline, ctx.calendar)
    order_id = (
        await session.execute(
            _OPEN_WORK_ORDER,
            {
                "incident_id": row.id,
                "rating_id": rating_id,
                "assignee_id": assignee_id,
                "due_at": due_at,
                "now": now,
            },
        )
    ).scalar_one()
    await record_event(
        session,
        row.id,
        "work_order",
        None,
        "system",
        now,
        note="差评，已生成整改工单",
        data={
            "work_order": order_id,
            "step": "opened",
            "assignee": assignee_id,
            "due_at": due_at.isoformat(),
        },
    )
    await notify(
        session,
        "work_order.opened",
        row.id,
        {
            "tracking_number": row.tracking_number,
            "work_order": order_id,
            "due_at": due_at.isoformat(),
        },
        now,
        recipients=[assignee_id],
        unless_nobody=True,
    )
    return {"id": order_id, "status": "open", "due_at": due_at.isoformat()}


def no_work_order(work_order_id: int) -> NotFound:
    """404 for a work order that is not there or not the caller's to see."""
    return NotFound(
        f"no work order {work_order_id} for you", f"未找到编号为 {work_order_id} 的整改工单"
    )


@commits
async def record_revisit(
    session: AsyncSession,
    principal: Principal,
    work_order_id: int,
    contact_method: str | None,
    outcome: str | None,
    actions_taken: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Record the revisit of an open work order (how the reporter was contacted, the
    outcome, what was done), whole or not at all; by its assignee or a manager over it."""
    order = (await session.execute(LOCK_WORK_ORDER, {"id": work_order_id})).first()
    if order is None or not (
        principal.id == order.assignee_id or manager_over(principal, order.region_path)
    ):
        raise no_work_order(work_order_id)
    if contact_method not in CONTACT_METHODS:
        raise InvalidInput(
            f"contact_method is one of {', '.join(CONTACT_METHODS)}",
            "请填写回访方式",
            field="contact_method",
        )
    outcome = given_text(
        outcome, "outcome", "the revisit record needs the outcome", "回访记录缺少回访结果"
    )
    actions_taken = given_text(
        actions_taken,
        "actions_taken",
        "the revisit record needs what was done",
        "回访记录缺少整改措施",
    )
    if order.status != "open":
        raise Conflict(
            f"the work order is {order.status}, not open", "该整改工单已回访，不能重复记录"
        )
    await session.execute(
        text(f"""
        UPDATE work_orders SET status = 'revisited', {next_version()},
            revisited_at = :now, revisited_by_id = :by, contact_method = :method,
            outcome = :outcome, actions_taken = :actions
        WHERE id = :id
    """),
        {
            "id": order.id,
            "now": now,
            "by": principal.id,
            "method": contact_method,
            "outcome": outcome,
            "actions": actions_taken,
        },
    )
    await record_event(
        session,
        order.incident_id,
        "work_order",
        principal.id,
        principal.role.value,
        now,
        note=outcome,
        data={"work_order": order.id, "step": "revisited", "contact_method": contact_method},
    )
    # The reporter is asked to rate the rectification.
    await notify(
        session,
        "work_order.revisited",
        order.incident_id,
        {"tracking_number": order.tracking_number, "work_order": order.id},
        now,
        recipients=[order.reporter_id],
        unless_nobody=True,
    )
    return {"id": order.id, "status": "revisited", "revisited_at": now.isoformat()}


async def work_order_report(session: AsyncSession, work_order_id: int) -> str:
    """The tracking number of a work order's report (404 when there is no such order)."""
    number = (
        await session.execute(
            text("""
        SELECT i.tracking_number FROM work_orders w JOIN incidents i ON i.id = w.incident_id
        WHERE w.id = :id
    """),
            {"id": work_order_id},
        )
    ).scalar()
    if number is None:
        raise no_work_order(work_order_id)
    return number


_WORK_ORDERS = text(f"""
    SELECT w.id, w.status, w.due_at, w.escalation_level, w.created_at, w.revisited_at,
           i.tracking_number, g.overall, u.username AS assignee, w.due_at < :now AS overdue
    FROM work_orders w
    JOIN incidents i ON i.id = w.incident_id
    JOIN ratings g ON g.id = w.rating_id
    LEFT JOIN regions r ON r.id = i.region_id
    LEFT JOIN users u ON u.id = w.assignee_id
    WHERE w.status = ANY(:statuses)
      AND (CASE WHEN CAST(:mine AS boolean) THEN w.assignee_id = CAST(:me AS integer)
                ELSE {region_within_reach("r.path")} END)
    ORDER BY w.due_at, w.id
    LIMIT :limit
""")


async def list_work_orders(
    session: AsyncSession,
    principal: Principal,
    *,
    mine: bool,
    statuses: list[str],
    now: datetime,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Work orders by due date: the caller's own, or (managers) every one in their area."""
    if not mine and principal.role not in MANAGER_ROLES:
        raise PermissionDenied(
            "only managers list the work orders of their area", "只有管理人员可查看辖区整改工单"
        )
    rows = (
        (
            await session.execute(
                _WORK_ORDERS,
                {
                    "statuses": statuses,
                    "mine": mine,
                    "me": principal.id,
                    **reach_params(principal),
                    "limit": limit,
                    "now": now,
                },
            )
        )
        .mappings()
        .all()
    )
    return [
        {
            **row,
            "due_at": row["due_at"].isoformat(),
            "created_at": row["created_at"].isoformat(),
            "revisited_at": row["revisited_at"] and row["revisited_at"].isoformat(),
        }
        for row in rows
    ]
