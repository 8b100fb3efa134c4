"""The intake bench's correctness checks: what an HTTP slice stored, and every answered
report looked up by its tracking number in the cell an independent ST_Covers finds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

# Every report answered 201, by its tracking number: stored exactly once, in the cell an
# independent ST_Covers on grid_cells finds for the WGS-84 point the client meant (not
# grid/sql/point_lookup.sql, which the product uses).
CHECK_REPORTS = text("""
    WITH sent AS (
        SELECT * FROM unnest(CAST(:numbers AS text[]), CAST(:lons AS float8[]),
                             CAST(:lats AS float8[])) AS t(tracking_number, lon, lat)
    ), found AS (
        SELECT s.tracking_number,
               (SELECT count(*) FROM incidents i
                WHERE i.tracking_number = s.tracking_number) AS stored,
               (SELECT i.cell_id FROM incidents i
                WHERE i.tracking_number = s.tracking_number LIMIT 1) AS cell_id,
               (SELECT c.id FROM grid_cells c
                WHERE c.active_from IS NOT NULL AND c.active_to IS NULL
                  AND ST_Covers(c.boundary, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                LIMIT 1) AS covering
        FROM sent s
    )
    SELECT count(*) AS checked,
           count(*) FILTER (WHERE stored <> 1) AS missing,
           count(*) FILTER (WHERE stored = 1 AND cell_id IS DISTINCT FROM covering)
               AS wrong_cell
    FROM found
""")


def check_reports(engine: Engine, answered: list[tuple[str, float, float]]) -> dict[str, int]:
    """Check the answered reports (see CHECK_REPORTS), then forget them."""
    if not answered:
        return {"checked": 0, "missing": 0, "wrong_cell": 0}
    numbers, lons, lats = (list(column) for column in zip(*answered, strict=True))
    with engine.connect() as conn:
        row = (
            conn.execute(CHECK_REPORTS, {"numbers": numbers, "lons": lons, "lats": lats})
            .mappings()
            .one()
        )
    answered.clear()
    return {k: int(v) for k, v in row.items()}


def count_stored(engine: Engine) -> dict[str, Any]:
    """What an HTTP slice left in the database (its reports come through the 'web'
    channel; the baseline files its own as 'terminal')."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("""
            WITH web AS (SELECT * FROM incidents WHERE channel = 'web')
            SELECT (SELECT count(*) FROM web) AS incidents,
                   (SELECT count(*) FROM web WHERE assignee_id IS NOT NULL) AS assigned,
                   (SELECT count(*) FROM web
                    WHERE routing_rule IS NULL OR routing_rule = 'outside') AS unrouted,
                   (SELECT count(*) FROM incident_events e JOIN web ON web.id = e.incident_id
                    WHERE e.kind = 'created') AS created_events,
                   (SELECT count(*) FROM incident_events e JOIN web ON web.id = e.incident_id
                    WHERE e.kind = 'assignment') AS assignment_events,
                   (SELECT count(*) FROM outbox o JOIN web ON web.id = o.incident_id) AS outbox,
                   (SELECT count(*) FROM idempotency_records) AS idempotency_records,
                   (SELECT count(*) FROM web WHERE input_system = 'gcj02') AS gcj02
        """)
            )
            .mappings()
            .one()
        )
        rules = dict(
            conn.execute(
                text(
                    "SELECT routing_rule, count(*) FROM incidents WHERE channel = 'web' "
                    "GROUP BY 1 ORDER BY 2 DESC"
                )
            ).all()
        )
    return {**{k: int(v) for k, v in row.items()}, "by_rule": rules}
