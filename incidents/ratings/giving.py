"""Giving a rating: who may rate a closed report (or re-rate its rectification), when,
and storing it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, InvalidInput, PermissionDenied
from grid.access import Principal
from incidents.channels import STAFF_RATING_CHANNELS
from incidents.handling.actions import can_see, not_found
from incidents.intake.filing import IntakeContext
from incidents.intake.tracking import secret_matches
from incidents.lifecycle import ACTIONS
from incidents.ratings.scores import (
    BAD_SCORES,
    SCORE_LABELS,
    RatingIn,
    RatingRules,
)
from incidents.ratings.standing import LOCK_REPORT, is_reporter, is_staff
from incidents.ratings.work_orders import (
    LOCK_WORK_ORDER,
    no_work_order,
    open_work_order,
    work_order_report,
)
from incidents.timeline import notify, record_event
from incidents.versioning import next_version


@dataclass(frozen=True)
class _Rater:
    """Who gives a rating: the channel, the rater's account (if any), who recorded it."""

    channel: str
    rater_id: int | None
    recorded_by_id: int | None
    actor_id: int | None
    actor_role: str


_INSERT_HANDLING = text("""
    INSERT INTO ratings (incident_id, kind, overall, timeliness, convenience, comment,
                         channel, rater_id, recorded_by_id, created_at)
    VALUES (:incident_id, 'handling', :overall, :timeliness, :convenience, :comment,
            :channel, :rater_id, :recorded_by_id, :now)
    ON CONFLICT (incident_id) WHERE kind = 'handling' DO NOTHING
    RETURNING id
""")

_INSERT_RECTIFICATION = text("""
    INSERT INTO ratings (incident_id, work_order_id, kind, overall, timeliness, convenience,
                         comment, channel, rater_id, recorded_by_id, created_at)
    VALUES (:incident_id, :work_order_id, 'rectification', :overall, :timeliness,
            :convenience, :comment, :channel, :rater_id, :recorded_by_id, :now)
    ON CONFLICT (work_order_id) WHERE kind = 'rectification' DO NOTHING
    RETURNING id
""")

# Everyone who closed the report (verified the work): never the recorder of its rating.
_CLOSERS = text("""
    SELECT DISTINCT actor_id FROM incident_events
    WHERE incident_id = :id AND kind = 'transition' AND to_status = :closed
      AND actor_id IS NOT NULL
""")

# The reporter's own rating replacing a staff-recorded one (not a default rating), in
# place so the unique indexes still hold one; the old values come back for the timeline.
_REPLACE_STAFF_RATING = text("""
    WITH old AS (
        SELECT id, overall, channel, recorded_by_id FROM ratings
        WHERE kind = :kind AND recorded_by_id IS NOT NULL AND NOT defaulted
          AND CASE WHEN :kind = 'handling' THEN incident_id = :incident_id
                   ELSE work_order_id = CAST(:work_order_id AS bigint) END
          AND (:kind = 'handling'
               OR created_at + make_interval(days => :period) >= CAST(:now AS timestamptz))
        FOR UPDATE
    )
    UPDATE ratings r SET overall = :overall, timeliness = :timeliness,
        convenience = :convenience, comment = :comment, channel = :channel,
        rater_id = :rater_id, recorded_by_id = NULL, excluded = false, created_at = :now
    FROM old WHERE r.id = old.id
    RETURNING r.id, old.overall, old.channel, old.recorded_by_id
""")

_HAS_WORK_ORDER = text("SELECT EXISTS (SELECT FROM work_orders WHERE rating_id = :id)")


async def _rater(
    session: AsyncSession,
    ctx: IntakeContext,
    row: Any,
    principal: Principal | None,
    secret: str | None,
    channel: str | None,
    now: datetime,
    *,
    staff_denied: set[int],
) -> _Rater:
    """Who is rating and through which channel; 403/404/422 for anyone else."""
    if channel is not None:
        if channel not in STAFF_RATING_CHANNELS:
            raise InvalidInput(
                "channel is 'phone' or 'terminal' (staff recording a rating)",
                "渠道应为 phone 或 terminal",
                field="channel",
            )
        if principal is None or not is_staff(principal):
            raise PermissionDenied(
                "only staff record ratings given by phone or at a terminal",
                "只有工作人员可代录电话或终端评价",
            )
        if not await can_see(session, principal, row, now):
            raise not_found(row.tracking_number)
        if principal.id in staff_denied:
            raise PermissionDenied(
                "you may not record a rating of your own work", "不能代录对本人工作的评价"
            )
        return _Rater(channel, row.reporter_id, principal.id, principal.id, principal.role.value)
    if is_reporter(principal, row.reporter_id):
        assert principal is not None
        return _Rater("account", principal.id, None, principal.id, principal.role.value)
    if secret:
        if not secret_matches(secret, row.secret_hash, ctx.secret_key):
            raise PermissionDenied("the secret does not match this report", "查询码与该上报不符")
        rater_id = principal.id if principal is not None and not is_staff(principal) else None
        return _Rater("secret", rater_id, None, rater_id, "reporter")
    if is_staff(principal):
        assert principal is not None
        # Outside their area staff learn nothing, not even that the report exists.
        if not await can_see(session, principal, row, now):
            raise not_found(row.tracking_number)
        raise InvalidInput(
            "staff record a rating given by phone or at a terminal: give the channel",
            "代录评价请注明渠道（phone 或 terminal）",
            field="channel",
        )
    if principal is not None:
        raise PermissionDenied("only the reporter rates this report", "只有上报人可以评价")
    raise InvalidInput(
        "sign in as the reporter or give the secret from submission",
        "请登录上报账号或填写上报时获得的查询码",
        field="secret",
    )


@commits
async def rate(
    session: AsyncSession,
    ctx: IntakeContext,
    tracking_number: str,
    rating: RatingIn,
    principal: Principal | None,
    secret: str | None,
    now: datetime,
    channel: str | None = None,
    *,
    rules: RatingRules = RatingRules(),
    work_order_id: int | None = None,
) -> dict[str, Any]:
    """Rate a closed report once (or, with `work_order_id`, its rectification once, after
    the revisit), committed; an overall 1 or 2 on the handling opens a
    rectification work order up the handler's chain."""
    row = (await session.execute(LOCK_REPORT, {"t": tracking_number})).first()
    if row is None:
        raise not_found(tracking_number)
    order = None
    if work_order_id is not None:
        order = (await session.execute(LOCK_WORK_ORDER, {"id": work_order_id})).first()
        if order is None or order.incident_id != row.id:
            raise no_work_order(work_order_id)
    closers = set(
        (
            await session.execute(_CLOSERS, {"id": row.id, "closed": ACTIONS["close"].target})
        ).scalars()
    )
    denied = {row.assignee_id, row.handler_id, *closers} | (
        {order.assignee_id, order.revisited_by_id} if order else set()
    )
    rater = await _rater(
        session,
        ctx,
        row,
        principal,
        secret,
        channel,
        now,
        staff_denied={d for d in denied if d is not None},
    )
    kind = "rectification" if order is not None else "handling"
    # The reporter may replace a staff-recorded re-rating that closed the order.
    replacing = order is not None and order.status == "closed" and rater.recorded_by_id is None
    _check_open_to_rating(row, order, replacing, rules, now)
    params = {
        "incident_id": row.id,
        "work_order_id": work_order_id,
        "overall": rating.overall,
        "timeliness": rating.timeliness,
        "convenience": rating.convenience,
        "comment": rating.comment,
        "channel": rater.channel,
        "rater_id": rater.rater_id,
        "recorded_by_id": rater.recorded_by_id,
        "now": now,
    }
    insert = _INSERT_RECTIFICATION if order is not None else _INSERT_HANDLING
    rating_id = None if replacing else (await session.execute(insert, params)).scalar()
    replaced = None
    if rating_id is None and rater.recorded_by_id is None:
        # The reporter's own rating stands over one staff recorded for them.
        replaced = (
            await session.execute(
                _REPLACE_STAFF_RATING, {**params, "kind": kind, "period": rules.period_days}
            )
        ).first()
        rating_id = replaced and replaced.id
    if rating_id is None:
        raise Conflict(
            "already rated: a report (or a rectification) is rated once",
            "已评价过，每件上报（或整改）只能评价一次",
        )
    label = SCORE_LABELS[rating.overall]
    note = f"{'整改' if order else ''}评价：{label}（{rating.overall}）"
    data: dict[str, Any] = {
        "rating": rating_id,
        "kind": kind,
        "overall": rating.overall,
        "channel": rater.channel,
        "work_order": work_order_id,
    }
    if replaced is not None:
        # The timeline keeps what was replaced and who recorded it.
        note = f"{'整改' if order else ''}评价（本人，替代代录评价）：{label}（{rating.overall}）"
        data["replaced"] = {
            "overall": replaced.overall,
            "channel": replaced.channel,
            "recorded_by": replaced.recorded_by_id,
        }
    await record_event(
        session,
        row.id,
        "rating",
        rater.actor_id,
        rater.actor_role,
        now,
        note=note,
        public=True,
        data=data,
    )
    answer: dict[str, Any] = {
        "rating_id": rating_id,
        "kind": kind,
        "overall": rating.overall,
        "label": label,
        "channel": rater.channel,
        "work_order": None,
    }
    bad = order is None and rating.overall in BAD_SCORES
    if replaced is not None:
        # A work order the staff-recorded rating opened stays open; a bad rating of the
        # reporter's opens one if there is none.
        answer["work_order"] = order and {"id": order.id, "status": order.status}
        answer["replaced_staff_recorded"] = True
        bad = bad and not (await session.execute(_HAS_WORK_ORDER, {"id": rating_id})).scalar()
    elif order is not None:
        answer["work_order"] = await _close_rerated(session, row, order, rater, rating, now)
    if bad:
        answer["work_order"] = await open_work_order(session, row, rating_id, rules, ctx, now)
    return answer


@commits
async def rerate_rectification(
    session: AsyncSession,
    ctx: IntakeContext,
    work_order_id: int,
    rating: RatingIn,
    principal: Principal | None,
    secret: str | None,
    now: datetime,
    channel: str | None = None,
    *,
    rules: RatingRules = RatingRules(),
) -> dict[str, Any]:
    """The reporter's re-rating of a rectification work order's report, once, after the
    revisit; committed, it closes the work order."""
    number = await work_order_report(session, work_order_id)
    return await rate(
        session,
        ctx,
        number,
        rating,
        principal,
        secret,
        now,
        channel,
        rules=rules,
        work_order_id=work_order_id,
    )


def _check_open_to_rating(
    row: Any, order: Any, replacing: bool, rules: RatingRules, now: datetime
) -> None:
    """409 unless the report is closed and within its rating period (or the work order is
    revisited, or re-rated by staff for the reporter to replace)."""
    if order is not None:
        if order.status != "revisited" and not replacing:
            raise Conflict(
                "the work order is already re-rated"
                if order.status == "closed"
                else "the revisit is not recorded yet; rate the rectification after it",
                "该整改工单已评价" if order.status == "closed" else "回访尚未完成，暂不能评价整改",
            )
    else:
        if row.status != "closed":
            raise Conflict(
                f"only a closed report can be rated (this one is {row.status})",
                f"上报办结后才能评价（当前状态：{row.status}）",
            )
        if row.closed_at is not None and now > row.closed_at + timedelta(days=rules.period_days):
            raise Conflict(
                f"the {rules.period_days}-day rating period is over",
                f"已超过 {rules.period_days} 天评价期限",
            )


async def _close_rerated(
    session: AsyncSession,
    row: Any,
    order: Any,
    rater: _Rater,
    rating: RatingIn,
    now: datetime,
) -> dict[str, Any]:
    """The re-rating closes the work order; its assignee hears the score."""
    await session.execute(
        text(f"UPDATE work_orders SET status = 'closed', {next_version()} WHERE id = :id"),
        {"id": order.id},
    )
    await record_event(
        session,
        row.id,
        "work_order",
        rater.actor_id,
        rater.actor_role,
        now,
        note="整改已评价，工单办结",
        data={"work_order": order.id, "step": "closed", "overall": rating.overall},
    )
    await notify(
        session,
        "work_order.rerated",
        row.id,
        {"tracking_number": row.tracking_number, "work_order": order.id, "overall": rating.overall},
        now,
        recipients=[order.assignee_id],
        unless_nobody=True,
    )
    return {"id": order.id, "status": "closed"}
