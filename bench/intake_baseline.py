"""The intake bench's baseline: the same database work as the product's intake, as raw
SQL over asyncpg (no HTTP, no ORM), frozen as intake did it when the bench was made."""

from __future__ import annotations

import argparse
import itertools
import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

TOLERANCE_M = 30.0  # GRIDGOV_ROUTING_TOLERANCE_M's default, as the server uses it

# The baseline's write: a frozen copy of the statement incidents/intake/filing.py ran when this
# benchmark was written (incident, 'created' and 'assignment' events, outbox row in one
# round trip), so optimising the product never moves the reference. Its reports are filed
# through the 'terminal' channel, so they are never counted as the HTTP run's.
BASELINE_INSERT = """
WITH region AS (
    SELECT id FROM regions WHERE code = :region_code
), incident AS (
    INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
        input_lon, input_lat, input_system, address, building_id, cell_id, region_id,
        assignee_id, routing_rule, responsible_level, description, answers, channel,
        reporter_id, reporter_name, reporter_phone, accept_due_at, resolve_due_at,
        created_at, updated_at)
    VALUES (:tracking_number, :secret_hash, :category, :status,
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :input_lon, :input_lat, :input_system,
        NULL, NULL, :cell_id, (SELECT id FROM region), :assignee_id, :rule,
        :level, :description, CAST(:answers AS jsonb), 'terminal', NULL,
        NULL, NULL, :accept_due_at, :resolve_due_at, :now, :now)
    RETURNING id
), created AS (
    INSERT INTO incident_events (incident_id, kind, actor_id, actor_role, to_status, data, at)
    SELECT id, 'created', NULL, 'reporter', 'submitted',
           jsonb_build_object('channel', 'terminal'), :now FROM incident
    RETURNING id
), assigned AS (
    INSERT INTO incident_events (incident_id, kind, actor_role, from_status, to_status,
                                 data, at)
    SELECT incident.id, 'assignment', 'system', 'submitted', 'assigned',
           jsonb_build_object('rule', CAST(:rule AS text), 'level', CAST(:level AS text)), :now
    FROM incident, created WHERE CAST(:assignee_id AS integer) IS NOT NULL
), notified AS (
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    SELECT CASE WHEN CAST(:assignee_id AS integer) IS NULL THEN 'incident.queued'
                ELSE 'incident.assigned' END,
           incident.id,
           CASE WHEN CAST(:assignee_id AS integer) IS NOT NULL
                THEN ARRAY[CAST(:assignee_id AS integer)]
                ELSE ARRAY(SELECT u.id FROM users u JOIN region ON u.region_id = region.id
                           WHERE u.is_active AND u.role IN
                             ('community_manager', 'street_manager', 'district_manager'))
           END,
           jsonb_build_object('tracking_number', CAST(:tracking_number AS text),
                              'category', CAST(:category AS text),
                              'resolve_due_at', CAST(:resolve_due_at_text AS text)),
           :now
    FROM incident
)
SELECT id FROM incident
"""


def positional(sql: str) -> tuple[str, list[str]]:
    """A :name statement as asyncpg's $n form, with the parameter names in order."""
    compiled = text(sql).compile(dialect=asyncpg_dialect())
    return compiled.string, list(compiled.positiontup or [])


@asynccontextmanager
async def baseline_pool(args: argparse.Namespace):
    url = make_url(args.database_url)
    pool = await asyncpg.create_pool(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
        min_size=args.baseline_pool,
        max_size=args.baseline_pool,
    )
    try:
        yield pool
    finally:
        await pool.close()


def raw_reporter(pool: asyncpg.Pool, categories: list[str], points: list, deadlines: dict):
    """The same database work as raw SQL over asyncpg, no HTTP, no ORM: per report one
    transaction with the point lookup (grid/sql/point_lookup.sql) and the insert of the
    incident, its events and its outbox row (BASELINE_INSERT)."""
    from grid.lookup import lookup_params, point_lookup_sql
    from incidents.handling.workdays import deadline
    from incidents.intake.tracking import new_secret, new_tracking_number, secret_hash

    lookup_sql, lookup_names = positional(point_lookup_sql())
    insert_sql, insert_names = positional(BASELINE_INSERT)
    counter = itertools.count()

    async def report() -> int:
        n = next(counter)
        _, _, system, lon, lat = points[n % len(points)]
        category = categories[n % len(categories)]
        now = datetime.now(UTC)
        calendar, tier = deadlines[category]
        accept_due = deadline(now, tier.accept, calendar)
        resolve_due = deadline(now, tier.resolve, calendar)
        # The lookup's values as the product binds them (its roles bound since issue 17).
        lookup = lookup_params(lon, lat, now.date(), TOLERANCE_M)
        async with pool.acquire() as conn, conn.transaction():
            cell, regions, responsible = await conn.fetchrow(
                lookup_sql, *(lookup[k] for k in lookup_names)
            )
            values = {
                **route(cell, regions, responsible),
                "tracking_number": new_tracking_number(now),
                "secret_hash": secret_hash(new_secret(), "bench"),
                "category": category,
                "lon": lon,
                "lat": lat,
                "input_lon": lon,
                "input_lat": lat,
                "input_system": system,
                "description": f"bench report {n}",
                "answers": "{}",
                "accept_due_at": accept_due,
                "resolve_due_at": resolve_due,
                "resolve_due_at_text": resolve_due.isoformat(),
                "now": now,
            }
            await conn.fetchval(insert_sql, *(values[k] for k in insert_names))
        return 201

    return report


def route(cell: str | None, regions: str | None, responsible: str | None) -> dict[str, Any]:
    """The routing decision (incidents/intake/routing.py) taken in Python from the point lookup's
    row (JSON text), as intake took it when this benchmark was written."""
    cell_d = json.loads(cell) if cell else None
    chain = json.loads(regions) if regions else []
    person = json.loads(responsible) if responsible else None
    deepest = chain[-1] if chain else None
    if cell_d is None:
        rule = f"{deepest['level']}_queue" if deepest else "outside"
        level, assignee = "queue", None
    else:
        rule = cell_d["match"]
        level, assignee = (person["level"], person["id"]) if person else ("queue", None)
    return {
        "rule": rule,
        "level": level,
        "cell_id": cell_d and cell_d["id"],
        "region_code": deepest and deepest["code"],
        "assignee_id": assignee,
        "status": "assigned" if assignee is not None else "submitted",
    }
