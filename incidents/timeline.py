"""The one writer of a report's timeline: the events that record each change and the
notifications (outbox messages) that announce it, as statements for one change and as SQL
fragments for set-based statements that must write everything in one round trip."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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


# The roles that hear about reports in their area.
MANAGER_ROLES = "('community_manager', 'street_manager', 'district_manager')"


def managers_over(region_path: str) -> str:
    """SELECT of the active managers whose region contains the one at `region_path` (an SQL
    text expression): who hears about a report there."""
    return f"""SELECT u.id FROM users u JOIN regions r ON r.id = u.region_id
                   WHERE u.is_active AND u.role IN {MANAGER_ROLES}
                     AND {region_path} LIKE r.path || '%'"""


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
    }
    await session.execute(_NOTIFY, params)
