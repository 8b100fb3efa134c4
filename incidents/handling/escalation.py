"""Escalation of reports nobody acts on: unaccepted past the accept deadline goes to the
cell's backup workers and the community's managers; overdue climbs one level at a time
(community -> street -> district) with a reminder to the assignee each time.

Rules (the escalator decides nothing else):

- **Unaccepted**: an assigned (or reopened) report past `accept_due_at` is escalated once
  per accept deadline: an 'escalation' event and an `incident.escalated` message to the
  backups of its cell in force that day (China date) and its community's managers. It is
  *not* reassigned: the backup or a manager takes it with the ordinary `assign` action,
  so nobody loses work they may be doing without having signed for it.
- **Overdue**: an open report past `resolve_due_at` is escalated at once to level 1
  (community), then one level further each time `interval` has passed since its last
  step (default one working day): 2 street, 3 district. Each step also reminds the
  assignee (`incident.reminder`). At the top it keeps reminding, at most once per
  interval, without further escalation events.
- A level is the managers of that role on the report's region chain; a level with no
  active manager falls to the next one up, and the city's admins catch the rest, so an
  escalation is never addressed to nobody.
- State is read from the events, keyed to the deadline in force: an event at or after
  the deadline belongs to it. A new deadline (reassigned, reopened, extended) starts
  afresh. `escalation_level` on the report is the highest level reached (0 worker,
  1 community, 2 street, 3 district); every escalation bumps `version`; a reminder alone
  changes nothing on the report and leaves `version` alone.

- **Rectification work orders** (好差评 follow-up) escalate like reports: an open work
  order past `due_at` climbs one level per interval above its assignee's own level (a
  community manager's order goes to the street, then the district), with a reminder to the
  assignee each time and reminders only at the top. Recorded as 'escalation' / 'reminder'
  events on its report with data {step: 'work_order', work_order: id, level}; the level
  reached is `work_orders.escalation_level`, the last step's time read from those events.
  A revisited order waits for the reporter's re-rating and is not escalated.

Concurrency: candidates are locked with FOR UPDATE SKIP LOCKED, so an escalator never
waits for a report someone is acting on (or another escalator holds); it is picked up on
the next run. Their state is then read again in a new statement: under READ COMMITTED
that statement sees whatever a concurrent escalator committed before we got the lock,
which the locking statement's own snapshot may not (a re-checked row keeps the old
snapshot for its subqueries). Two escalators therefore never escalate a report twice,
and a second run at the same `now` finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from grid.roles import MANAGER_LADDER, Role
from grid.sql_fragments import assignment_in_force
from incidents.handling.workdays import CHINA_TZ, DeadlineRule, WorkCalendar, deadline
from incidents.lifecycle import OPEN
from incidents.status import Status
from incidents.timeline import event_rows, notification_rows
from incidents.versioning import next_version

DEFAULT_INTERVAL = "1wd"
# Statuses in which a report waits for its assignee to sign for it (签收).
AWAITING_ACCEPTANCE = frozenset({Status.ASSIGNED, Status.REOPENED})
# Level -> who hears about it; the index is what escalation_level stores.
LEVELS = {1: "community", 2: "street", 3: "district"}
TOP_LEVEL = max(LEVELS)

# Notes on the staff timeline (which shows notes, not event data).
UNACCEPTED_NOTE = "超时未签收，已通知备岗网格员和社区"
OVERDUE_NOTES = {
    1: "逾期未办结，已上报社区",
    2: "逾期未办结，已上报街道",
    3: "逾期未办结，已上报区",
}
REMINDER_NOTE = "逾期未办结，已提醒处理人"


@dataclass
class EscalationRun:
    """What one run did (or, dry, would do)."""

    unaccepted: int = 0
    overdue: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS.values(), 0))
    reminders: int = 0
    work_orders: int = 0
    work_order_reminders: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        """One line for the CLI."""
        levels = ", ".join(f"{n} to {name}" for name, n in self.overdue.items())
        verb = "would escalate" if self.dry_run else "escalated"
        return (
            f"{verb} {self.unaccepted} unaccepted; overdue: {levels}; {self.reminders} reminder(s)"
            f"; work orders: {self.work_orders} escalated, {self.work_order_reminders} reminded"
        )


# Prefilter and lock. It may let through a report a concurrent escalator has just
# handled (see the module notes) or one whose working-day interval has not quite passed;
# the state read after the lock decides. `settled_before` is now minus the shortest time
# the interval can take, so nothing due is filtered out.
_LOCK = text("""
    SELECT i.id FROM incidents i
    WHERE (i.status = ANY(:awaiting) AND i.accept_due_at < :now
           AND NOT EXISTS (
               SELECT 1 FROM incident_events e
               WHERE e.incident_id = i.id AND e.kind = 'escalation'
                 AND e.data->>'step' = 'unaccepted' AND e.at >= i.accept_due_at))
       OR (i.status = ANY(:open) AND i.resolve_due_at < :now
           AND NOT EXISTS (
               SELECT 1 FROM incident_events e
               WHERE e.incident_id = i.id AND e.kind IN ('escalation', 'reminder')
                 AND e.data->>'step' = 'overdue' AND e.at >= i.resolve_due_at
                 AND e.at > :settled_before))
    ORDER BY i.id
    FOR UPDATE OF i SKIP LOCKED
""")

# The locked reports as they are now, with what the escalator did for their current
# deadlines.
_STATE = text("""
    SELECT i.id, i.status, i.assignee_id, i.accept_due_at, i.resolve_due_at,
           coalesce(s.unaccepted_done, false) AS unaccepted_done,
           coalesce(s.overdue_level, 0) AS overdue_level, s.overdue_last_at
    FROM incidents i
    LEFT JOIN LATERAL (
        SELECT bool_or(e.data->>'step' = 'unaccepted' AND e.at >= i.accept_due_at)
                   AS unaccepted_done,
               max(CAST(e.data->>'level' AS integer)) FILTER (
                   WHERE e.kind = 'escalation' AND e.data->>'step' = 'overdue'
                     AND e.at >= i.resolve_due_at) AS overdue_level,
               max(e.at) FILTER (
                   WHERE e.data->>'step' = 'overdue' AND e.at >= i.resolve_due_at)
                   AS overdue_last_at
        FROM incident_events e
        WHERE e.incident_id = i.id AND e.kind IN ('escalation', 'reminder')
    ) s ON true
    WHERE i.id = ANY(:ids)
    ORDER BY i.id
""")

# Every active manager on each target's region chain (`target.chain`: ancestor ids), ranked
# community 1, street 2, district 3, and admins 4: shared by reports and work orders.
_MANAGERS_ON_CHAIN = """\
    SELECT t.ord, u.id AS user_id,
           array_position(CAST(:manager_ladder AS text[]), CAST(u.role AS text)) AS rank
    FROM target t JOIN users u ON u.region_id = ANY(t.chain)
    WHERE u.is_active AND u.role = ANY(:manager_ladder)
    UNION ALL
    SELECT t.ord, u.id, 4 FROM target t JOIN users u ON u.role = :admin AND u.is_active
"""
# Bound wherever _MANAGERS_ON_CHAIN is: rank 1..3 is the place on the ladder.
_CHAIN_PARAMS = {"manager_ladder": [r.value for r in MANAGER_LADDER], "admin": Role.ADMIN.value}

# Each escalation's staff-only event, naming who was told, and its message to them.
_ESCALATED = "FROM target t JOIN recipients r ON r.ord = t.ord ORDER BY t.ord"
_escalation_events = event_rows(
    "escalation",
    rows=_ESCALATED,
    incident_id="t.incident_id",
    note="t.note",
    data="jsonb_build_object('step', t.step, 'level', t.level, 'recipients', r.ids)",
)
_escalation_notifications = notification_rows(
    "incident.escalated",
    rows=_ESCALATED,
    incident_id="t.incident_id",
    recipients="r.ids",
    payload="""jsonb_build_object('tracking_number', t.tracking_number, 'status', t.status,
                                  'step', t.step, 'level', t.level)""",
)

# One statement for every escalation of the run: recipients, the report's level and
# version, the event and the message. Recipients of a level are the managers of that
# role on the report's region chain (ancestor ids from the path, so users.region_id's
# index is used); with none, the nearest level up that has some; admins come last. The
# unaccepted step adds the cell's backups in force today. The assignee is left out: the
# reminder is theirs.
_ESCALATE = text(f"""
WITH plan AS (
    SELECT p.incident_id, p.step, p.level, p.note, p.ord
    FROM unnest(CAST(:ids AS bigint[]), CAST(:steps AS text[]), CAST(:levels AS int[]),
                CAST(:notes AS text[])) WITH ORDINALITY AS p(incident_id, step, level, note, ord)
), target AS (
    SELECT plan.*, i.tracking_number, i.status, i.assignee_id, i.cell_id,
           coalesce(CAST(string_to_array(trim(BOTH '/' FROM r.path), '/') AS int[]),
                    '{{}}') AS chain
    FROM plan JOIN incidents i ON i.id = plan.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
), ranked AS (
{_MANAGERS_ON_CHAIN}), reached AS (
    SELECT r.ord, r.user_id, r.rank, min(r.rank) OVER (PARTITION BY r.ord) AS nearest
    FROM ranked r JOIN target t ON t.ord = r.ord
    WHERE r.rank >= t.level
), backups AS (
    SELECT t.ord, ca.user_id FROM target t
    JOIN cell_assignments ca ON ca.cell_id = t.cell_id AND ca.kind = 'backup'
    JOIN users u ON u.id = ca.user_id
    WHERE t.step = 'unaccepted' AND u.is_active
      AND {assignment_in_force("ca", ":today")}
), recipients AS (
    SELECT t.ord, ARRAY(
        SELECT DISTINCT x.user_id FROM (
            SELECT user_id FROM reached WHERE reached.ord = t.ord AND rank = nearest
            UNION SELECT user_id FROM backups WHERE backups.ord = t.ord) x
        WHERE x.user_id IS DISTINCT FROM t.assignee_id
        ORDER BY x.user_id) AS ids
    FROM target t
), bumped AS (
    UPDATE incidents i
    SET escalation_level = greatest(i.escalation_level, top.level),
        {next_version("i")}, updated_at = :now
    FROM (SELECT incident_id, max(level) AS level FROM plan GROUP BY incident_id) top
    WHERE i.id = top.incident_id
), events AS (
{_escalation_events}
)
{_escalation_notifications}
""")

# A reminder to the assignee of each overdue report in the plan (all have one): a
# staff-only event and a message to them.
_reminder_events = event_rows(
    "reminder",
    rows="FROM target ORDER BY ord",
    incident_id="id",
    note=":note",
    data="jsonb_build_object('step', 'overdue', 'level', level)",
)
_reminder_notifications = notification_rows(
    "incident.reminder",
    rows="FROM target ORDER BY ord",
    incident_id="id",
    recipients="ARRAY[assignee_id]",
    payload="""jsonb_build_object('tracking_number', tracking_number, 'level', level,
                                  'resolve_due_at', to_jsonb(resolve_due_at))""",
)
_REMIND = text(f"""
WITH target AS (
    SELECT i.id, i.tracking_number, i.assignee_id, i.resolve_due_at, p.level, p.ord
    FROM unnest(CAST(:ids AS bigint[]), CAST(:levels AS int[]))
         WITH ORDINALITY AS p(incident_id, level, ord)
    JOIN incidents i ON i.id = p.incident_id
), events AS (
{_reminder_events}
)
{_reminder_notifications}
""")


# Open work orders past due whose last step (if any) is at least the shortest interval
# old; as with reports, the state read after the lock decides.
_WO_LOCK = text("""
    SELECT w.id FROM work_orders w
    WHERE w.status = 'open' AND w.due_at < :now
      AND NOT EXISTS (
          SELECT 1 FROM incident_events e
          WHERE e.incident_id = w.incident_id AND e.kind IN ('escalation', 'reminder')
            AND e.data->>'step' = 'work_order' AND e.data->>'work_order' = CAST(w.id AS text)
            AND e.at > :settled_before)
    ORDER BY w.id
    FOR UPDATE OF w SKIP LOCKED
""")

# The locked work orders as they are now: level reached, the assignee's own level (a
# community manager is level 1, an admin stands with the district), and the time of the
# last step.
_WO_STATE = text("""
    SELECT w.id, w.status, w.due_at, w.assignee_id, w.escalation_level,
           CASE WHEN u.role = :admin THEN 3
                ELSE coalesce(array_position(CAST(:manager_ladder AS text[]),
                                             CAST(u.role AS text)), 0) END
               AS assignee_level,
           (SELECT max(e.at) FROM incident_events e
            WHERE e.incident_id = w.incident_id AND e.kind IN ('escalation', 'reminder')
              AND e.data->>'step' = 'work_order'
              AND e.data->>'work_order' = CAST(w.id AS text)) AS last_at
    FROM work_orders w LEFT JOIN users u ON u.id = w.assignee_id
    WHERE w.id = ANY(:ids)
    ORDER BY w.id
""")

# Each work-order escalation's event on its report and its message, as for reports.
_wo_escalation_events = event_rows(
    "escalation",
    rows=_ESCALATED,
    incident_id="t.incident_id",
    note="t.note",
    data="""jsonb_build_object('step', 'work_order', 'work_order', t.work_order_id,
                               'level', t.level, 'recipients', r.ids)""",
)
_wo_escalation_notifications = notification_rows(
    "work_order.escalated",
    rows=_ESCALATED,
    incident_id="t.incident_id",
    recipients="r.ids",
    payload="""jsonb_build_object('tracking_number', t.tracking_number,
                                  'work_order', t.work_order_id, 'level', t.level,
                                  'due_at', to_jsonb(t.due_at))""",
)

# Every work-order escalation of the run in one statement; recipients as for reports (the
# managers of the level on the report's region chain, else the nearest level up, admins
# last), without the assignee.
_WO_ESCALATE = text(f"""
WITH plan AS (
    SELECT p.work_order_id, p.level, p.note, p.ord
    FROM unnest(CAST(:ids AS bigint[]), CAST(:levels AS int[]), CAST(:notes AS text[]))
         WITH ORDINALITY AS p(work_order_id, level, note, ord)
), target AS (
    SELECT plan.*, w.incident_id, w.assignee_id, w.due_at, i.tracking_number,
           coalesce(CAST(string_to_array(trim(BOTH '/' FROM r.path), '/') AS int[]),
                    '{{}}') AS chain
    FROM plan JOIN work_orders w ON w.id = plan.work_order_id
    JOIN incidents i ON i.id = w.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
), ranked AS (
{_MANAGERS_ON_CHAIN}), reached AS (
    SELECT r.ord, r.user_id, r.rank, min(r.rank) OVER (PARTITION BY r.ord) AS nearest
    FROM ranked r JOIN target t ON t.ord = r.ord
    WHERE r.rank >= t.level AND r.user_id IS DISTINCT FROM t.assignee_id
), recipients AS (
    SELECT t.ord, ARRAY(
        SELECT DISTINCT x.user_id FROM reached x
        WHERE x.ord = t.ord AND x.rank = x.nearest ORDER BY x.user_id) AS ids
    FROM target t
), bumped AS (
    UPDATE work_orders w
    SET escalation_level = greatest(w.escalation_level, t.level), {next_version("w")}
    FROM target t WHERE w.id = t.work_order_id
), events AS (
{_wo_escalation_events}
)
{_wo_escalation_notifications}
""")

# A reminder to the assignee of each overdue work order in the plan.
_wo_reminder_events = event_rows(
    "reminder",
    rows="FROM target ORDER BY ord",
    incident_id="incident_id",
    note=":note",
    data="jsonb_build_object('step', 'work_order', 'work_order', id, 'level', level)",
)
_wo_reminder_notifications = notification_rows(
    "work_order.reminder",
    rows="FROM target ORDER BY ord",
    incident_id="incident_id",
    recipients="ARRAY[assignee_id]",
    payload="""jsonb_build_object('tracking_number', tracking_number, 'work_order', id,
                                  'level', level, 'due_at', to_jsonb(due_at))""",
)
_WO_REMIND = text(f"""
WITH target AS (
    SELECT w.id, w.incident_id, w.assignee_id, w.due_at, i.tracking_number, p.level, p.ord
    FROM unnest(CAST(:ids AS bigint[]), CAST(:levels AS int[]))
         WITH ORDINALITY AS p(work_order_id, level, ord)
    JOIN work_orders w ON w.id = p.work_order_id
    JOIN incidents i ON i.id = w.incident_id
), events AS (
{_wo_reminder_events}
)
{_wo_reminder_notifications}
""")

WORK_ORDER_NOTES = {
    1: "整改工单逾期未回访，已上报社区",
    2: "整改工单逾期未回访，已上报街道",
    3: "整改工单逾期未回访，已上报区",
}
WORK_ORDER_REMINDER_NOTE = "整改工单逾期未回访，已提醒承办人"


@dataclass
class _Plan:
    escalations: list[tuple[int, str, int]] = field(default_factory=list)  # id, step, level
    reminders: list[tuple[int, int]] = field(default_factory=list)  # id, level


def escalate(
    conn: Connection | Session,
    now: datetime,
    *,
    calendar: WorkCalendar,
    interval: DeadlineRule | str = DEFAULT_INTERVAL,
    dry_run: bool = False,
) -> EscalationRun:
    """Escalate what is due at `now` inside the caller's transaction (the caller commits);
    with `dry_run`, only count what would be done."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    rule = DeadlineRule.parse(interval) if isinstance(interval, str) else interval
    run = _escalate_reports(conn, now, rule, calendar, dry_run)
    orders = _plan_work_orders(conn, now, rule, calendar)
    if not dry_run:
        _write_work_orders(conn, orders, now)
    run.work_orders = len(orders.escalations)
    run.work_order_reminders = len(orders.reminders)
    return run


def _escalate_reports(
    conn: Connection | Session,
    now: datetime,
    rule: DeadlineRule,
    calendar: WorkCalendar,
    dry_run: bool,
) -> EscalationRun:
    ids = (
        conn.execute(
            _LOCK,
            {
                "now": now,
                "awaiting": sorted(AWAITING_ACCEPTANCE),
                "open": sorted(OPEN),
                "settled_before": now - _shortest(rule),
            },
        )
        .scalars()
        .all()
    )
    if not ids:
        return EscalationRun(dry_run=dry_run)
    rows = conn.execute(_STATE, {"ids": list(ids)}).all()
    plan = _plan(rows, now, rule, calendar)
    if not dry_run:
        _write(conn, plan, now)
    return _counts(plan, dry_run)


def _plan(rows: Any, now: datetime, rule: DeadlineRule, calendar: WorkCalendar) -> _Plan:
    """What each locked report is due for, judged on its state read after the lock."""
    plan = _Plan()
    for row in rows:
        if (
            row.status in AWAITING_ACCEPTANCE
            and row.accept_due_at is not None
            and row.accept_due_at < now
            and not row.unaccepted_done
        ):
            plan.escalations.append((row.id, "unaccepted", 1))
        if not (row.status in OPEN and row.resolve_due_at is not None and row.resolve_due_at < now):
            continue
        last = row.overdue_last_at
        if last is not None and deadline(last, rule, calendar) > now:
            continue
        level = row.overdue_level
        if level < TOP_LEVEL:
            level += 1
            plan.escalations.append((row.id, "overdue", level))
        if row.assignee_id is not None:
            plan.reminders.append((row.id, level))
    return plan


def _write(conn: Connection | Session, plan: _Plan, now: datetime) -> None:
    if plan.escalations:
        ids, steps, levels = (list(column) for column in zip(*plan.escalations, strict=True))
        notes = [
            UNACCEPTED_NOTE if step == "unaccepted" else OVERDUE_NOTES[level]
            for step, level in zip(steps, levels, strict=True)
        ]
        conn.execute(
            _ESCALATE,
            {
                "ids": ids,
                "steps": steps,
                "levels": levels,
                "notes": notes,
                "now": now,
                "today": now.astimezone(CHINA_TZ).date(),
                **_CHAIN_PARAMS,
            },
        )
    if plan.reminders:
        ids, levels = (list(column) for column in zip(*plan.reminders, strict=True))
        conn.execute(_REMIND, {"ids": ids, "levels": levels, "note": REMINDER_NOTE, "now": now})


def _plan_work_orders(
    conn: Connection | Session, now: datetime, rule: DeadlineRule, calendar: WorkCalendar
) -> _Plan:
    """Lock the open work orders past due and decide, on their state read after the lock,
    which climb a level (from above the assignee's own) and whose assignee is reminded."""
    plan = _Plan()
    ids = (
        conn.execute(_WO_LOCK, {"now": now, "settled_before": now - _shortest(rule)})
        .scalars()
        .all()
    )
    if not ids:
        return plan
    for row in conn.execute(_WO_STATE, {"ids": list(ids), **_CHAIN_PARAMS}):
        if row.status != "open" or row.due_at >= now:
            continue
        if row.last_at is not None and deadline(row.last_at, rule, calendar) > now:
            continue
        level = max(row.escalation_level, row.assignee_level)
        if level < TOP_LEVEL:
            level += 1
            plan.escalations.append((row.id, "work_order", level))
        if row.assignee_id is not None:
            plan.reminders.append((row.id, level))
    return plan


def _write_work_orders(conn: Connection | Session, plan: _Plan, now: datetime) -> None:
    if plan.escalations:
        ids, _steps, levels = (list(column) for column in zip(*plan.escalations, strict=True))
        notes = [WORK_ORDER_NOTES[level] for level in levels]
        conn.execute(
            _WO_ESCALATE,
            {"ids": ids, "levels": levels, "notes": notes, "now": now, **_CHAIN_PARAMS},
        )
    if plan.reminders:
        ids, levels = (list(column) for column in zip(*plan.reminders, strict=True))
        conn.execute(
            _WO_REMIND, {"ids": ids, "levels": levels, "note": WORK_ORDER_REMINDER_NOTE, "now": now}
        )


def _counts(plan: _Plan, dry_run: bool) -> EscalationRun:
    run = EscalationRun(reminders=len(plan.reminders), dry_run=dry_run)
    for _id, step, level in plan.escalations:
        if step == "unaccepted":
            run.unaccepted += 1
        else:
            run.overdue[LEVELS[level]] += 1
    return run


def _shortest(rule: DeadlineRule) -> timedelta:
    """The least time the interval can take: a working day is at least a calendar day."""
    if rule.unit == "wd":
        return timedelta(days=rule.amount)
    return timedelta(hours=rule.amount) if rule.unit == "h" else timedelta(minutes=rule.amount)
