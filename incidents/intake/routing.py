"""Routing: which cell, queue and person a reported spot goes to, and the rule that
decided it (recorded on the report).

The decision is SQL on the point lookup's row, so report intake can route and write a
report in one statement (see incidents.intake.filing)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from core.errors import InvalidInput
from grid.lookup import lookup_params, point_lookup_sql

# The route of the point from the lookup's row (`found`: cell, regions, responsible):
#  * the cell covering the point (or within tolerance of it) goes to its on-duty primary
#    worker, else a backup, else the nearest manager up the chain; a cell with nobody at
#    all goes to the queue (rule 'inside'/'nearest', level 'queue');
#  * a point outside every cell goes to the queue of the deepest region covering it
#    ('<level>_queue'), or to the city-wide queue ('outside');
#  * region_code is the cell's community, or that deepest region, or NULL;
#  * in_service_area: the point is in a cell or region, or within the routing tolerance
#    of a region's boundary. This is THE service-area predicate: intake refuses a point
#    outside it on every channel (web, API, Open311, 12345 rows, staff), so nothing is
#    filed at latitude 90, in Tokyo or at 0,0. The box around the point literal (in the
#    column's SRID) lets the GiST index on boundary answer it; the distance is measured
#    on the spheroid.
# One row: rule, level, cell_id, cell_code, region_code, assignee_id, in_service_area.
_DECISION = """
SELECT CASE WHEN found.cell IS NOT NULL THEN found.cell ->> 'match'
            WHEN found.regions IS NOT NULL THEN (found.regions -> -1 ->> 'level') || '_queue'
            ELSE 'outside' END AS rule,
       CASE WHEN found.cell IS NOT NULL AND found.responsible IS NOT NULL
            THEN found.responsible ->> 'level' ELSE 'queue' END AS level,
       CAST(found.cell ->> 'id' AS integer) AS cell_id,
       found.cell ->> 'code' AS cell_code,
       found.regions -> -1 ->> 'code' AS region_code,
       CASE WHEN found.cell IS NOT NULL
            THEN CAST(found.responsible ->> 'id' AS integer) END AS assignee_id,
       (found.cell IS NOT NULL OR found.regions IS NOT NULL OR EXISTS (
            SELECT FROM regions r
            WHERE r.boundary && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                                          :tolerance_deg)
              AND ST_DWithin(r.boundary::geography,
                             ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                             :tolerance_m))) AS in_service_area
FROM found
"""


@lru_cache
def route_sql() -> str:
    """A statement selecting the route of :lon/:lat on :on (bind route_params) as one
    row: rule, level, cell_id, cell_code, region_code, assignee_id, in_service_area."""
    # Composed of fixed text only (every value is bound), so the point lookup keeps one
    # home (grid/sql/point_lookup.sql) and intake can embed the whole decision.
    return f"WITH found AS (\n{point_lookup_sql()}\n)\n{_DECISION}"


def route_params(lon: float, lat: float, on: date, tolerance_m: float) -> dict[str, Any]:
    """The values route_sql() binds: a WGS84 point, the day whose assignments count, and
    how far from a cell a point may be and still go to it."""
    return lookup_params(lon, lat, on, tolerance_m)


def outside_service_area(field: str, tolerance_m: float) -> InvalidInput:
    """The refusal of a point outside the service area (in_service_area false), naming
    the field the point came from."""
    return InvalidInput(
        f"the location is outside the service area (not within {tolerance_m:g} m of any "
        "region served here)",
        f"该位置不在本平台服务范围内（距任何辖区边界超过 {tolerance_m:g} 米）",
        field=field,
    )
