"""好差评: the reporter's rating of a closed report, the rectification work order a bad
rating opens (revisit, re-rating), default ratings after the rating period, and the review
of false or malicious ratings (flag, second manager's decision, the rater's appeal).

Rules chosen here (the issue leaves them open):

- **Who rates**: the reporter's own account (a resident account that filed the report);
  anyone presenting the report's secret from submission; or staff who can see the report
  recording a rating given by phone or at a terminal (`channel`). Staff who filed a report
  for someone rate through the phone/terminal channel, never as "the reporter". The
  report's assignee and handler may not record a rating of their own work.
- **Staff may not pre-empt the reporter** (issue 15, item 4): a rating recorded by staff
  (phone/terminal) may not be recorded by the report's assignee, handler or anyone who
  closed it (verified the work), nor a re-rating by the work order's assignee or the one
  who recorded its revisit (revisit and re-rating by different people). The reporter's
  own rating stands: within the rating period it REPLACES a staff-recorded one (the row
  is updated in place; the timeline's 'rating' event keeps what was replaced and who
  recorded it). A work order the staff-recorded rating opened stays open; a bad rating
  of the reporter's opens one if there is none.
- **Once**: one handling rating per report and one re-rating per work order, held by the
  partial unique indexes (INSERT .. ON CONFLICT DO NOTHING: a second rating, even a
  concurrent one, is a 409, never a 500), except the reporter's replacing a staff-recorded
  one. A rating comes within `period_days` of closing (a re-rating within `period_days`
  of the revisit's staff-recorded re-rating, to be replaced); after that the default
  rating stands.
- **Work order**: an overall 1 or 2 (not a default rating, which is nobody's opinion)
  opens one, assigned up the handler's chain: the nearest level above the handler's role
  that has an active manager on the report's region chain (worker -> community manager,
  community manager -> street manager, street -> district, district -> an admin); within
  a level the longest-standing account (lowest id). Due in working days.
- **Re-rating**: after the revisit is recorded; it closes the work order. A bad re-rating
  opens no further order: it is recorded and counted.
- **Review**: a flag needs a second manager to confirm (403 for the flagger); confirmed,
  the rating is `excluded` from statistics and stays in the history. The rater may appeal
  once per exclusion; a manager who took part in excluding it may not decide the appeal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.settings import Settings
from grid.access import Principal, region_in_reach
from grid.roles import MANAGER_ROLES, STAFF_ROLES
from incidents.handling.actions import can_see, not_found
from incidents.handling.workdays import DeadlineRule, deadline
from incidents.intake.filing import IntakeContext
from incidents.intake.text import printable_text
from incidents.intake.tracking import secret_matches
from incidents.lifecycle import ACTIONS
from incidents.models.ratings import CONTACT_METHODS

SCORE_LABELS = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}
BAD_SCORES = frozenset({1, 2})
STAFF_RATING_CHANNELS = frozenset({"phone", "terminal"})
MAX_TEXT = 2000


class RatingIn(BaseModel):
    """A rating as the rater gives it: overall 1-5, timeliness and convenience, a comment."""

    model_config = ConfigDict(str_strip_whitespace=True)

    overall: int = Field(ge=1, le=5, description="1 非常不满意 .. 5 非常满意")
    timeliness: int | None = Field(None, ge=1, le=5)
    convenience: int | None = Field(None, ge=1, le=5)
    comment: str | None = Field(None, max_length=MAX_TEXT)

    @field_validator("comment")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return printable_text(value) or None


@dataclass(frozen=True)
class RatingRules:
    """The configurable parts: days to rate, the default score, the revisit deadline."""

    period_days: int = 7
    default_score: int = 3
    rectification_deadline: DeadlineRule | str = "10wd"

    @classmethod
    def from_settings(cls, settings: Settings) -> RatingRules:
        """The rules as configured (GRIDGOV_RATING_PERIOD_DAYS and friends)."""
        return cls(
            settings.rating_period_days,
            settings.default_rating,
            DeadlineRule.parse(settings.rectification_deadline),
        )


@dataclass(frozen=True)
class _Rater:
    """Who gives a rating: the channel, the rater's account (if any), who recorded it."""

    channel: str
    rater_id: int | None
    recorded_by_id: int | None
    actor_id: int | None
    actor_role: str


_INCIDENT = """
    SELECT i.id, i.tracking_number, i.status, i.secret_hash, i.reporter_id, i.assignee_id,
           i.handler_id, i.cell_id, i.region_id, i.closed_at, r.path AS region_path
    FROM incidents i LEFT JOIN regions r ON r.id = i.region_id
"""
# Shared with take_action's FOR UPDATE: a report cannot be reopened while it is rated.
_LOCK_INCIDENT = text(_INCIDENT + " WHERE i.tracking_number = :t FOR SHARE OF i")
_READ_INCIDENT = text(_INCIDENT + " WHERE i.tracking_number = :t")

_LOCK_WORK_ORDER = text("""
    SELECT w.id, w.incident_id, w.status, w.assignee_id, w.revisited_by_id, w.version,
           i.tracking_number,
           i.reporter_id, r.path AS region_path
    FROM work_orders w JOIN incidents i ON i.id = w.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE w.id = :id
    FOR UPDATE OF w
""")

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

_EVENT = text("""
    INSERT INTO incident_events (incident_id, kind, actor_id, actor_role, note, public,
                                 data, at)
    VALUES (:incident_id, :kind, :actor_id, :role, :note, :public, CAST(:data AS jsonb), :now)
""")

_NOTIFY_USERS = text("""
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    VALUES (:topic, :incident_id, CAST(:ids AS int[]), CAST(:payload AS jsonb), :now)
""")

# The active managers whose region contains the report's, except the one acting.
_NOTIFY_MANAGERS = text("""
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    SELECT CAST(:topic AS text), CAST(:incident_id AS bigint), ARRAY(
        SELECT u.id FROM users u JOIN regions r ON r.id = u.region_id
        WHERE u.is_active
          AND u.role IN ('community_manager', 'street_manager', 'district_manager')
          AND CAST(:region_path AS text) LIKE r.path || '%'
          AND u.id <> CAST(:actor_id AS integer)
        ORDER BY u.id), CAST(:payload AS jsonb), CAST(:now AS timestamptz)
""")

# Up the handler's chain: the nearest level above the handler's role with an active
# manager on the report's region chain (ancestor ids from its path), admins at the top.
_CHAIN_ASSIGNEE = text("""
    WITH report AS (
        SELECT coalesce(CAST(string_to_array(trim(BOTH '/' FROM r.path), '/') AS int[]),
                        '{}') AS chain,
               coalesce((SELECT CASE h.role WHEN 'community_manager' THEN 1
                                            WHEN 'street_manager' THEN 2
                                            WHEN 'district_manager' THEN 3
                                            WHEN 'admin' THEN 4 ELSE 0 END
                         FROM users h WHERE h.id = i.handler_id), 0) AS handler_rank,
               i.handler_id
        FROM incidents i LEFT JOIN regions r ON r.id = i.region_id
        WHERE i.id = :incident_id
    ), ranked AS (
        SELECT u.id, CASE u.role WHEN 'community_manager' THEN 1 WHEN 'street_manager' THEN 2
                                 WHEN 'district_manager' THEN 3 ELSE 4 END AS rank
        FROM report JOIN users u ON u.is_active AND (
            (u.role IN ('community_manager', 'street_manager', 'district_manager')
             AND u.region_id = ANY(report.chain)) OR u.role = 'admin')
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


def _is_staff(principal: Principal | None) -> bool:
    return principal is not None and principal.role in STAFF_ROLES


def _manager_over(principal: Principal, region_path: str | None) -> bool:
    return principal.role in MANAGER_ROLES and (
        principal.is_admin or (region_path is not None and region_in_reach(principal, region_path))
    )


def _is_reporter(principal: Principal | None, reporter_id: int | None) -> bool:
    """The reporter's own account: a resident account that filed the report (staff who
    filed for a caller are not the reporter)."""
    return (
        principal is not None
        and not _is_staff(principal)
        and reporter_id is not None
        and principal.id == reporter_id
    )


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
        if principal is None or not _is_staff(principal):
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
    if _is_reporter(principal, row.reporter_id):
        assert principal is not None
        return _Rater("account", principal.id, None, principal.id, principal.role.value)
    if secret:
        if not secret_matches(secret, row.secret_hash, ctx.secret_key):
            raise PermissionDenied("the secret does not match this report", "查询码与该上报不符")
        rater_id = principal.id if principal is not None and not _is_staff(principal) else None
        return _Rater("secret", rater_id, None, rater_id, "reporter")
    if _is_staff(principal):
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


async def _event(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    actor_id: int | None,
    role: str,
    note: str | None,
    public: bool,
    data: dict[str, Any],
    now: datetime,
) -> None:
    await session.execute(
        _EVENT,
        {
            "incident_id": incident_id,
            "kind": kind,
            "actor_id": actor_id,
            "role": role,
            "note": note,
            "public": public,
            "data": json.dumps(data),
            "now": now,
        },
    )


async def _notify(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    recipients: list[int | None],
    payload: dict[str, Any],
    now: datetime,
) -> None:
    ids = sorted({r for r in recipients if r is not None})
    if ids:
        await session.execute(
            _NOTIFY_USERS,
            {
                "topic": topic,
                "incident_id": incident_id,
                "ids": ids,
                "payload": json.dumps(payload, default=str),
                "now": now,
            },
        )


async def _notify_managers(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    region_path: str | None,
    actor_id: int,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    await session.execute(
        _NOTIFY_MANAGERS,
        {
            "topic": topic,
            "incident_id": incident_id,
            "region_path": region_path or "",
            "actor_id": actor_id,
            "payload": json.dumps(payload),
            "now": now,
        },
    )


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
    the revisit), in the caller's transaction; an overall 1 or 2 on the handling opens a
    rectification work order up the handler's chain."""
    row = (await session.execute(_LOCK_INCIDENT, {"t": tracking_number})).first()
    if row is None:
        raise not_found(tracking_number)
    order = None
    if work_order_id is not None:
        order = (await session.execute(_LOCK_WORK_ORDER, {"id": work_order_id})).first()
        if order is None or order.incident_id != row.id:
            raise _no_work_order(work_order_id)
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
    if replaced is not None:
        return await _replaced_answer(session, row, order, rating, rater, replaced, rules, ctx, now)
    await _event(
        session,
        row.id,
        "rating",
        rater.actor_id,
        rater.actor_role,
        f"{'整改' if order else ''}评价：{SCORE_LABELS[rating.overall]}（{rating.overall}）",
        True,
        {
            "rating": rating_id,
            "kind": kind,
            "overall": rating.overall,
            "channel": rater.channel,
            "work_order": work_order_id,
        },
        now,
    )
    answer: dict[str, Any] = {
        "rating_id": rating_id,
        "kind": kind,
        "overall": rating.overall,
        "label": SCORE_LABELS[rating.overall],
        "channel": rater.channel,
        "work_order": None,
    }
    if order is not None:
        await session.execute(
            text("""
            UPDATE work_orders SET status = 'closed', version = version + 1 WHERE id = :id
        """),
            {"id": order.id},
        )
        await _event(
            session,
            row.id,
            "work_order",
            rater.actor_id,
            rater.actor_role,
            "整改已评价，工单办结",
            False,
            {"work_order": order.id, "step": "closed", "overall": rating.overall},
            now,
        )
        await _notify(
            session,
            "work_order.rerated",
            row.id,
            [order.assignee_id],
            {
                "tracking_number": row.tracking_number,
                "work_order": order.id,
                "overall": rating.overall,
            },
            now,
        )
        answer["work_order"] = {"id": order.id, "status": "closed"}
    elif rating.overall in BAD_SCORES:
        answer["work_order"] = await _open_work_order(session, row, rating_id, rules, ctx, now)
    return answer


async def _replaced_answer(
    session: AsyncSession,
    row: Any,
    order: Any,
    rating: RatingIn,
    rater: _Rater,
    replaced: Any,
    rules: RatingRules,
    ctx: IntakeContext,
    now: datetime,
) -> dict[str, Any]:
    """The reporter's rating has replaced a staff-recorded one: the timeline keeps both;
    a bad handling rating opens a work order when none is open for it already."""
    kind = "rectification" if order is not None else "handling"
    await _event(
        session,
        row.id,
        "rating",
        rater.actor_id,
        rater.actor_role,
        f"{'整改' if order else ''}评价（本人，替代代录评价）：{SCORE_LABELS[rating.overall]}"
        f"（{rating.overall}）",
        True,
        {
            "rating": replaced.id,
            "kind": kind,
            "overall": rating.overall,
            "channel": rater.channel,
            "work_order": order and order.id,
            "replaced": {
                "overall": replaced.overall,
                "channel": replaced.channel,
                "recorded_by": replaced.recorded_by_id,
            },
        },
        now,
    )
    answer: dict[str, Any] = {
        "rating_id": replaced.id,
        "kind": kind,
        "overall": rating.overall,
        "label": SCORE_LABELS[rating.overall],
        "channel": rater.channel,
        "work_order": order and {"id": order.id, "status": order.status},
        "replaced_staff_recorded": True,
    }
    if (
        order is None
        and rating.overall in BAD_SCORES
        and not (await session.execute(_HAS_WORK_ORDER, {"id": replaced.id})).scalar()
    ):
        answer["work_order"] = await _open_work_order(session, row, replaced.id, rules, ctx, now)
    return answer


async def _open_work_order(
    session: AsyncSession,
    row: Any,
    rating_id: int,
    rules: RatingRules,
    ctx: IntakeContext,
    now: datetime,
) -> dict[str, Any]:
    """The rectification work order of a bad rating, up the handler's chain."""
    assignee_id = (await session.execute(_CHAIN_ASSIGNEE, {"incident_id": row.id})).scalar()
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
    await _event(
        session,
        row.id,
        "work_order",
        None,
        "system",
        "差评，已生成整改工单",
        False,
        {
            "work_order": order_id,
            "step": "opened",
            "assignee": assignee_id,
            "due_at": due_at.isoformat(),
        },
        now,
    )
    await _notify(
        session,
        "work_order.opened",
        row.id,
        [assignee_id],
        {
            "tracking_number": row.tracking_number,
            "work_order": order_id,
            "due_at": due_at.isoformat(),
        },
        now,
    )
    return {"id": order_id, "status": "open", "due_at": due_at.isoformat()}


def _no_work_order(work_order_id: int) -> NotFound:
    return NotFound(
        f"no work order {work_order_id} for you", f"未找到编号为 {work_order_id} 的整改工单"
    )


def _required(value: str | None, field: str, what: str, zh: str) -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"the revisit record needs {what}", f"回访记录缺少{zh}", field=field)
    return value.strip()


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
    order = (await session.execute(_LOCK_WORK_ORDER, {"id": work_order_id})).first()
    if order is None or not (
        principal.id == order.assignee_id or _manager_over(principal, order.region_path)
    ):
        raise _no_work_order(work_order_id)
    if contact_method not in CONTACT_METHODS:
        raise InvalidInput(
            f"contact_method is one of {', '.join(CONTACT_METHODS)}",
            "请填写回访方式",
            field="contact_method",
        )
    outcome = _required(outcome, "outcome", "the outcome", "回访结果")
    actions_taken = _required(actions_taken, "actions_taken", "what was done", "整改措施")
    if order.status != "open":
        raise Conflict(
            f"the work order is {order.status}, not open", "该整改工单已回访，不能重复记录"
        )
    await session.execute(
        text("""
        UPDATE work_orders SET status = 'revisited', version = version + 1,
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
    await _event(
        session,
        order.incident_id,
        "work_order",
        principal.id,
        principal.role.value,
        outcome,
        False,
        {"work_order": order.id, "step": "revisited", "contact_method": contact_method},
        now,
    )
    # The reporter is asked to rate the rectification.
    await _notify(
        session,
        "work_order.revisited",
        order.incident_id,
        [order.reporter_id],
        {"tracking_number": order.tracking_number, "work_order": order.id},
        now,
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
        raise _no_work_order(work_order_id)
    return number


_WORK_ORDERS = text("""
    SELECT w.id, w.status, w.due_at, w.escalation_level, w.created_at, w.revisited_at,
           i.tracking_number, g.overall, u.username AS assignee, w.due_at < :now AS overdue
    FROM work_orders w
    JOIN incidents i ON i.id = w.incident_id
    JOIN ratings g ON g.id = w.rating_id
    LEFT JOIN regions r ON r.id = i.region_id
    LEFT JOIN users u ON u.id = w.assignee_id
    WHERE w.status = ANY(:statuses)
      AND (CASE WHEN CAST(:mine AS boolean) THEN w.assignee_id = CAST(:me AS integer)
                ELSE CAST(:admin AS boolean) OR r.path LIKE CAST(:path AS text) || '%' END)
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
                    "admin": principal.is_admin,
                    "path": principal.region_path or "\x7f",
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


# --- history --------------------------------------------------------------------------

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
    row = (await session.execute(_READ_INCIDENT, {"t": tracking_number})).first()
    if row is None:
        raise not_found(tracking_number)
    staff = _is_staff(principal)
    if staff:
        assert principal is not None
        if not await can_see(session, principal, row, now):
            raise not_found(tracking_number)
    elif not (
        _is_reporter(principal, row.reporter_id)
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


# --- review of false or malicious ratings ---------------------------------------------

_LOCK_RATING = text("""
    SELECT g.id, g.incident_id, g.excluded, g.defaulted, g.rater_id, i.tracking_number,
           i.reporter_id, i.secret_hash, r.path AS region_path
    FROM ratings g JOIN incidents i ON i.id = g.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE g.id = :id
    FOR UPDATE OF g
""")


def _no_rating(rating_id: int) -> NotFound:
    return NotFound(f"no rating {rating_id} for you", f"未找到编号为 {rating_id} 的评价")


def _reason(value: str | None, field: str = "reason") -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"give the {field}", "请填写理由", field=field)
    return value.strip()


async def flag_rating(
    session: AsyncSession,
    manager: Principal,
    rating_id: int,
    reason: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A manager over the report flags a rating as false or malicious; one pending flag
    per rating; another manager decides it."""
    rating = (await session.execute(_LOCK_RATING, {"id": rating_id})).first()
    if rating is None or not _manager_over(manager, rating.region_path):
        raise _no_rating(rating_id)
    reason = _reason(reason)
    if rating.excluded:
        raise Conflict("the rating is already excluded", "该评价已被剔除")
    if rating.defaulted:
        raise Conflict(
            "a default rating is nobody's opinion and cannot be false", "默认评价不属于恶意评价"
        )
    flag_id = (
        await session.execute(
            text("""
        INSERT INTO rating_flags (rating_id, flagged_by_id, reason, created_at)
        VALUES (:rating, :by, :reason, :now)
        ON CONFLICT (rating_id) WHERE status = 'pending' DO NOTHING
        RETURNING id
    """),
            {"rating": rating_id, "by": manager.id, "reason": reason, "now": now},
        )
    ).scalar()
    if flag_id is None:
        raise Conflict(
            "the rating already has a flag waiting for a decision", "该评价已有待审核的标记"
        )
    await _event(
        session,
        rating.incident_id,
        "rating",
        manager.id,
        manager.role.value,
        reason,
        False,
        {"rating": rating_id, "step": "flagged", "flag": flag_id},
        now,
    )
    await _notify_managers(
        session,
        "rating.flagged",
        rating.incident_id,
        rating.region_path,
        manager.id,
        {"tracking_number": rating.tracking_number, "rating": rating_id, "flag": flag_id},
        now,
    )
    return {"id": flag_id, "rating_id": rating_id, "status": "pending"}


async def decide_flag(
    session: AsyncSession,
    manager: Principal,
    flag_id: int,
    confirm: bool,
    now: datetime,
) -> dict[str, Any]:
    """A second manager confirms a flag (the rating is excluded from statistics and stays in
    the history) or dismisses it; the flagger may not decide their own flag."""
    flag = (
        await session.execute(
            text("""
        SELECT f.id, f.rating_id, f.status, f.flagged_by_id FROM rating_flags f
        WHERE f.id = :id FOR UPDATE
    """),
            {"id": flag_id},
        )
    ).first()
    rating = flag and (await session.execute(_LOCK_RATING, {"id": flag.rating_id})).first()
    if flag is None or rating is None or not _manager_over(manager, rating.region_path):
        raise NotFound(f"no rating flag {flag_id} for you", f"未找到编号为 {flag_id} 的标记")
    if manager.id == flag.flagged_by_id:
        raise PermissionDenied(
            "a second manager decides a flag, not the one who raised it",
            "标记须由另一名管理人员审核",
        )
    if flag.status != "pending":
        raise Conflict(f"the flag is already {flag.status}", "该标记已审核")
    status = "confirmed" if confirm else "dismissed"
    await session.execute(
        text("""
        UPDATE rating_flags SET status = :status, decided_by_id = :by, decided_at = :now
        WHERE id = :id
    """),
        {"status": status, "by": manager.id, "now": now, "id": flag_id},
    )
    if confirm:
        await session.execute(
            text("UPDATE ratings SET excluded = true WHERE id = :id"), {"id": rating.id}
        )
    await _event(
        session,
        rating.incident_id,
        "rating",
        manager.id,
        manager.role.value,
        "评价经复核剔除" if confirm else "评价标记未通过复核",
        False,
        {"rating": rating.id, "step": f"flag_{status}", "flag": flag_id},
        now,
    )
    if confirm:
        await _notify(
            session,
            "rating.excluded",
            rating.incident_id,
            [rating.rater_id or rating.reporter_id],
            {"tracking_number": rating.tracking_number, "rating": rating.id},
            now,
        )
    return {"id": flag_id, "rating_id": rating.id, "status": status, "excluded": confirm}


async def appeal(
    session: AsyncSession,
    ctx: IntakeContext,
    rating_id: int,
    reason: str | None,
    principal: Principal | None,
    secret: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The rater appeals against the exclusion of their rating (once per exclusion)."""
    rating = (await session.execute(_LOCK_RATING, {"id": rating_id})).first()
    is_rater = rating is not None and (
        (
            principal is not None
            and principal.id in (rating.rater_id, rating.reporter_id)
            and not _is_staff(principal)
        )
        or (bool(secret) and secret_matches(secret or "", rating.secret_hash, ctx.secret_key))
    )
    if not is_rater:
        raise _no_rating(rating_id)
    reason = _reason(reason)
    if not rating.excluded:
        raise Conflict("only an excluded rating can be appealed", "只有被剔除的评价可以申诉")
    appealed = (
        await session.execute(
            text("""
        SELECT EXISTS (
            SELECT 1 FROM rating_appeals p WHERE p.rating_id = :id AND p.created_at >= (
                SELECT max(f.decided_at) FROM rating_flags f
                WHERE f.rating_id = :id AND f.status = 'confirmed'))
    """),
            {"id": rating_id},
        )
    ).scalar()
    if appealed:
        raise Conflict("this exclusion has already been appealed", "该评价已申诉过")
    appeal_id = (
        await session.execute(
            text("""
        INSERT INTO rating_appeals (rating_id, reason, created_at)
        VALUES (:rating, :reason, :now) RETURNING id
    """),
            {"rating": rating_id, "reason": reason, "now": now},
        )
    ).scalar_one()
    actor_id = principal.id if principal is not None else None
    await _event(
        session,
        rating.incident_id,
        "rating",
        actor_id,
        "reporter",
        reason,
        False,
        {"rating": rating_id, "step": "appealed", "appeal": appeal_id},
        now,
    )
    await _notify_managers(
        session,
        "rating.appealed",
        rating.incident_id,
        rating.region_path,
        actor_id or 0,
        {"tracking_number": rating.tracking_number, "rating": rating_id, "appeal": appeal_id},
        now,
    )
    return {"id": appeal_id, "rating_id": rating_id, "status": "pending"}


async def decide_appeal(
    session: AsyncSession,
    manager: Principal,
    appeal_id: int,
    upheld: bool,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A manager over the report decides an appeal, with a note; upheld restores the rating.
    Managers who flagged or confirmed the exclusion may not decide it."""
    row = (
        await session.execute(
            text("""
        SELECT p.id, p.rating_id, p.status FROM rating_appeals p WHERE p.id = :id FOR UPDATE
    """),
            {"id": appeal_id},
        )
    ).first()
    rating = row and (await session.execute(_LOCK_RATING, {"id": row.rating_id})).first()
    if row is None or rating is None or not _manager_over(manager, rating.region_path):
        raise NotFound(f"no rating appeal {appeal_id} for you", f"未找到编号为 {appeal_id} 的申诉")
    note = _reason(note, "note")
    involved = (
        await session.execute(
            text("""
        SELECT flagged_by_id, decided_by_id FROM rating_flags
        WHERE rating_id = :id AND status = 'confirmed' ORDER BY decided_at DESC, id DESC LIMIT 1
    """),
            {"id": rating.id},
        )
    ).first()
    if involved is not None and manager.id in tuple(involved):
        raise PermissionDenied(
            "a manager who excluded the rating may not decide its appeal",
            "参与剔除该评价的管理人员不能审理申诉",
        )
    if row.status != "pending":
        raise Conflict(f"the appeal is already {row.status}", "该申诉已处理")
    status = "upheld" if upheld else "rejected"
    await session.execute(
        text("""
        UPDATE rating_appeals SET status = :status, decided_by_id = :by, decision_note = :note,
            decided_at = :now
        WHERE id = :id
    """),
        {"status": status, "by": manager.id, "note": note, "now": now, "id": appeal_id},
    )
    if upheld:
        await session.execute(
            text("UPDATE ratings SET excluded = false WHERE id = :id"), {"id": rating.id}
        )
    await _event(
        session,
        rating.incident_id,
        "rating",
        manager.id,
        manager.role.value,
        note,
        False,
        {"rating": rating.id, "step": f"appeal_{status}", "appeal": appeal_id},
        now,
    )
    await _notify(
        session,
        "rating.appeal_decided",
        rating.incident_id,
        [rating.rater_id or rating.reporter_id],
        {
            "tracking_number": rating.tracking_number,
            "rating": rating.id,
            "appeal": appeal_id,
            "status": status,
        },
        now,
    )
    return {"id": appeal_id, "rating_id": rating.id, "status": status, "excluded": not upheld}


# --- default ratings ----------------------------------------------------------------

# Reports closed before the cutoff with no handling rating get the default. Locked FOR
# SHARE SKIP LOCKED so a report someone is acting on (or rating) is left for the next
# run; ON CONFLICT covers a rating committed after this statement's snapshot, so two
# runs at once, or a run racing a rater, never record two ratings.
_DEFAULT_HANDLING = text("""
WITH due AS (
    SELECT i.id FROM incidents i
    WHERE i.status = 'closed' AND i.closed_at < :cutoff
      AND NOT EXISTS (SELECT 1 FROM ratings g
                      WHERE g.incident_id = i.id AND g.kind = 'handling')
    ORDER BY i.id
    FOR SHARE OF i SKIP LOCKED
), rated AS (
    INSERT INTO ratings (incident_id, kind, overall, channel, defaulted, created_at)
    SELECT id, 'handling', CAST(:score AS smallint), 'default', true, CAST(:now AS timestamptz)
    FROM due
    ON CONFLICT (incident_id) WHERE kind = 'handling' DO NOTHING
    RETURNING id, incident_id
), events AS (
    INSERT INTO incident_events (incident_id, kind, actor_role, note, public, data, at)
    SELECT incident_id, 'rating', 'system', CAST(:note AS text), true,
           jsonb_build_object('rating', id, 'kind', 'handling',
                              'overall', CAST(:score AS integer),
                              'channel', 'default', 'defaulted', true), CAST(:now AS timestamptz)
    FROM rated
)
SELECT count(*) FROM rated
""")

# Revisited work orders the reporter did not re-rate in time: the default re-rating
# closes them.
_DEFAULT_RECTIFICATION = text("""
WITH due AS (
    SELECT w.id, w.incident_id FROM work_orders w
    WHERE w.status = 'revisited' AND w.revisited_at < :cutoff
    ORDER BY w.id
    FOR UPDATE OF w SKIP LOCKED
), rated AS (
    INSERT INTO ratings (incident_id, work_order_id, kind, overall, channel, defaulted,
                         created_at)
    SELECT incident_id, id, 'rectification', CAST(:score AS smallint), 'default', true,
           CAST(:now AS timestamptz) FROM due
    ON CONFLICT (work_order_id) WHERE kind = 'rectification' DO NOTHING
    RETURNING id, incident_id, work_order_id
), closed AS (
    UPDATE work_orders w SET status = 'closed', version = w.version + 1
    FROM rated WHERE w.id = rated.work_order_id
), events AS (
    INSERT INTO incident_events (incident_id, kind, actor_role, note, public, data, at)
    SELECT incident_id, 'rating', 'system', CAST(:note AS text), true,
           jsonb_build_object('rating', id, 'kind', 'rectification',
                              'overall', CAST(:score AS integer),
                              'channel', 'default', 'defaulted', true,
                              'work_order', work_order_id), CAST(:now AS timestamptz)
    FROM rated
)
SELECT count(*) FROM rated
""")

_COUNT_DUE = text("""
    SELECT (SELECT count(*) FROM incidents i
            WHERE i.status = 'closed' AND i.closed_at < :cutoff
              AND NOT EXISTS (SELECT 1 FROM ratings g
                              WHERE g.incident_id = i.id AND g.kind = 'handling')),
           (SELECT count(*) FROM work_orders w
            WHERE w.status = 'revisited' AND w.revisited_at < :cutoff)
""")


@dataclass(frozen=True)
class DefaultRun:
    """Default ratings one run recorded (or, dry, would record)."""

    handling: int
    rectification: int
    dry_run: bool = False

    def summary(self) -> str:
        """One line for the CLI."""
        verb = "would record" if self.dry_run else "recorded"
        return (
            f"{verb} {self.handling + self.rectification} default rating(s) "
            f"({self.handling} of handling, {self.rectification} of rectifications)"
        )


def default_ratings(
    conn: Connection | Session,
    now: datetime,
    period_days: int,
    default_score: int,
    *,
    dry_run: bool = False,
) -> DefaultRun:
    """Record the default rating (marked defaulted) for every closed report not rated within
    `period_days` of closing, and every revisited work order not re-rated within that long
    of its revisit (closing it); set-based, idempotent, safe to run concurrently. Default
    ratings open no work order. In the caller's transaction."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if default_score not in SCORE_LABELS:
        raise ValueError("the default score is 1 to 5")
    cutoff = now - timedelta(days=period_days)
    if dry_run:
        handling, rectification = conn.execute(_COUNT_DUE, {"cutoff": cutoff}).one()
        return DefaultRun(handling, rectification, dry_run=True)
    params = {
        "cutoff": cutoff,
        "score": default_score,
        "now": now,
        "note": f"默认评价：{SCORE_LABELS[default_score]}（{default_score}）",
    }
    handling = conn.execute(_DEFAULT_HANDLING, params).scalar_one()
    rectification = conn.execute(_DEFAULT_RECTIFICATION, params).scalar_one()
    return DefaultRun(handling, rectification)
