"""What rating work writes beside itself: the report's timeline events and notifications."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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


async def record_event(
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
    """One event on the report's timeline."""
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


async def notify_users(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    recipients: list[int | None],
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """A notification to the given accounts (none when there is nobody to tell)."""
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


async def notify_managers(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    region_path: str | None,
    actor_id: int,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """A notification to every active manager over the report's region but the actor."""
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
