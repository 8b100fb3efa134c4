"""The one writer of a report's timeline: the events that record each change and the
notifications (outbox messages) that announce it, as statements for one change and as SQL
fragments for set-based statements that must write everything in one round trip."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from grid.roles import MANAGER_ROLES, Role
from incidents.models.reports import EVENT_KINDS
from incidents.status import Status

# In this order in every insert; a column left out takes its default (public: true,
# data: '{}', actor_id and the states: NULL).
EVENT_COLUMNS = (
    "incident_id",
    "kind",
    "actor_id",
    "actor_role",
    "from_status",
    "to_status",
    "note",
    "public",
    "data",
    "at",
)
NOTIFICATION_COLUMNS = ("topic", "incident_id", "recipient_ids", "payload", "created_at")


def _insert(table: str, order: tuple[str, ...], source: str | None, columns: dict[str, str]):
    unknown = set(columns) - set(order)
    if unknown:
        raise ValueError(f"{table} has no column {sorted(unknown)}")
    names = [c for c in order if c in columns]
    values = ", ".join(columns[c] for c in names)
    head = f"INSERT INTO {table} ({', '.join(names)})\n"
    return head + (f"VALUES ({values})" if source is None else f"SELECT {values}\n{source}")


def insert_events(source: str | None = None, **columns: str) -> str:
    """`INSERT INTO incident_events`: each column an SQL expression, over `source` (a FROM
    clause with its WHERE/ORDER BY) or, without one, a single VALUES row."""
    return _insert("incident_events", EVENT_COLUMNS, source, columns)


def insert_notifications(source: str | None = None, **columns: str) -> str:
    """`INSERT INTO outbox` (what the outbox worker delivers), built like insert_events."""
    return _insert("outbox", NOTIFICATION_COLUMNS, source, columns)


# The roles that hear about reports in their area: the managers bound to one (an admin
# hears of a report only when escalation climbs past every level).
AREA_MANAGER_ROLES = MANAGER_ROLES - {Role.ADMIN}
# actor_role of what the platform does on its own (escalations, routing, default ratings).
SYSTEM = "system"


def manager_params() -> dict[str, list[str]]:
    """The parameter a statement composing `managers_over` or `managers_of` binds."""
    return {"manager_roles": sorted(role.value for role in AREA_MANAGER_ROLES)}


def _managers(where: str) -> str:
    return f"""SELECT u.id FROM users u JOIN regions r ON r.id = u.region_id
                   WHERE u.is_active AND u.role = ANY(CAST(:manager_roles AS text[]))
                     AND {where}"""


def managers_over(region_path: str) -> str:
    """SELECT of the active managers whose region contains the one at `region_path` (an SQL
    text expression): who hears about a report there (bind `manager_params()`)."""
    return _managers(f"{region_path} LIKE r.path || '%'")


def managers_of(region_id: str) -> str:
    """SELECT of the active managers of exactly the region `region_id` (an SQL expression),
    in id order: who takes a report routed to that region's queue (bind `manager_params()`)."""
    return _managers(f"u.region_id = {region_id}") + "\n                   ORDER BY u.id"


def _fixed(value: str) -> str:
    """A vocabulary word as SQL text (a kind, topic, role or status the code names, never
    input)."""
    if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", value):
        raise ValueError(f"not a vocabulary word: {value!r}")
    return f"'{value}'"


def event_rows(
    kind: str,
    *,
    rows: str,
    incident_id: str,
    data: str,
    note: str = "NULL",
    public: bool = False,
    actor_id: str = "NULL",
    actor_role: str | None = None,
    from_status: Status | None = None,
    to_status: Status | None = None,
    at: str = ":now",
    returning: bool = False,
) -> str:
    """The INSERT of one `kind` event per row of `rows` (a FROM clause with its WHERE and
    ORDER BY; ids follow that order), as the body of a CTE. `kind`, `public` and the
    statuses are fixed; the rest are SQL expressions over `rows` (`actor_role` without one:
    the system). With `returning`, the statement returns the event ids."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"no event kind {kind!r}")
    columns = {
        "incident_id": incident_id,
        "kind": _fixed(kind),
        "actor_id": actor_id,
        "actor_role": actor_role or _fixed(SYSTEM),
        "note": note,
        "public": "true" if public else "false",
        "data": data,
        "at": at,
    }
    for name, status in (("from_status", from_status), ("to_status", to_status)):
        if status is not None:
            columns[name] = _fixed(Status(status).value)
    return insert_events(rows, **columns) + ("\nRETURNING id" if returning else "")


def notification_rows(
    topic: str | None = None,
    *,
    rows: str,
    incident_id: str,
    recipients: str,
    payload: str,
    topic_sql: str | None = None,
    at: str = ":now",
    returning: bool = False,
) -> str:
    """The INSERT of one `topic` notification per row of `rows`, built like event_rows;
    `topic_sql` instead of `topic` when the topic depends on the row. `recipients` is an
    int[] expression (`managers_over`/`managers_of` compose into one)."""
    if (topic is None) == (topic_sql is None):
        raise ValueError("give topic or topic_sql")
    columns = {
        "topic": topic_sql or _fixed(topic or ""),
        "incident_id": incident_id,
        "recipient_ids": recipients,
        "payload": payload,
        "created_at": at,
    }
    return insert_notifications(rows, **columns) + ("\nRETURNING id" if returning else "")


_EVENT = text(
    insert_events(
        incident_id=":incident_id",
        kind=":kind",
        actor_id=":actor_id",
        actor_role=":actor_role",
        from_status=":from_status",
        to_status=":to_status",
        note=":note",
        public=":public",
        data="CAST(:data AS jsonb)",
        at=":now",
    )
    + "\nRETURNING id"
)

# The named accounts and (with a region path) the managers over it, each once, in id
# order, without the one acting.
_NOTIFY = text(
    insert_notifications(
        topic="CAST(:topic AS text)",
        incident_id="CAST(:incident_id AS bigint)",
        recipient_ids=f"""ARRAY(
            SELECT DISTINCT x FROM unnest(
                CAST(:recipients AS integer[])
                || CASE WHEN CAST(:managers_of AS text) IS NULL THEN '{{}}'::int[] ELSE ARRAY(
                    {managers_over("CAST(:managers_of AS text)")}) END) AS x
            WHERE x IS NOT NULL AND x IS DISTINCT FROM CAST(:except_id AS integer)
            ORDER BY x)""",
        payload="CAST(:payload AS jsonb)",
        created_at="CAST(:now AS timestamptz)",
    )
)


def _json(value: dict[str, Any] | None) -> str:
    return json.dumps(value or {}, ensure_ascii=False, default=str)


async def record_event(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    actor_id: int | None,
    actor_role: str,
    now: datetime,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    public: bool = False,
    data: dict[str, Any] | None = None,
) -> int:
    """One event on a report's timeline (staff-only unless `public`); returns its id."""
    params = {
        "incident_id": incident_id,
        "kind": kind,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "public": public,
        "data": _json(data),
        "now": now,
    }
    return (await session.execute(_EVENT, params)).scalar_one()


async def notify(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    payload: dict[str, Any],
    now: datetime,
    *,
    recipients: Iterable[int | None] = (),
    managers_of: str | None = None,
    except_id: int | None = None,
    unless_nobody: bool = False,
) -> None:
    """A notification to `recipients` and, given a region path, the managers over it,
    leaving out `except_id` (the one acting). An empty recipient list still reaches
    webhooks and the live stream, unless `unless_nobody`: then nothing is written."""
    ids = [r for r in recipients if r is not None]
    if unless_nobody and not ids and managers_of is None:
        return
    params = {
        "topic": topic,
        "incident_id": incident_id,
        "recipients": ids,
        "managers_of": managers_of,
        "except_id": except_id,
        "payload": _json(payload),
        "now": now,
        **manager_params(),
    }
    await session.execute(_NOTIFY, params)
