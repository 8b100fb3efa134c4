"""The managers' coverage map: figures per grid cell, and the same figures per region one
level below a region (district -> street -> community -> its cells) for the drill-down.

Every figure is computed in SQL, one statement per level shown, and is an aggregate:
no personal data. Windows are counted back from `now`:

- **staffed**: a cell has a primary worker today (a region: the share of its cells that
  have one).
- **open / overdue**: reports open now, and those of them past their resolve deadline
  (a region: also per cell in force, so small and large regions compare on one scale).
- **response time**: the median hours from report to acceptance (签收) of the reports
  made in the last `RESPONSE_DAYS` days that were accepted; rejected, duplicate and
  119-referred reports leave it (nobody was meant to accept them).
- **satisfaction**: overall 4-5 among the valid handling ratings of the reports made in
  the last `SATISFACTION_DAYS` days.
- **hazard density**: fire-hazard reports (fire categories except the emergency "fire
  burning now"; rejected and duplicate reports left out) made in the last
  `HAZARD_DAYS` days per 100 buildings of the register. Per building rather than per
  km²: fire risk lives in buildings, and a park or a lake would dilute a density by area.
- **patrol coverage**: the share of the buildings visited on patrol by anyone in the
  last `PATROL_DAYS` days (as /patrol/coverage counts it).

A cell's reports are those routed to it; a region's are those whose region (the cell's
community, or the region whose queue took a point outside every cell) lies in it, as in
incidents/publication/statistics.py. Figures with nothing to count (no ratings, no accepted report,
no building, no cell) are None: the map shows them as "no data".

Scope is enforced in the statements: a manager's area is a region path prefix, and
every child, cell and trail entry is filtered by it, whatever region was asked for.

Cost: a level's answer is small (the regions below one region, or one community's
cells), but a region's figures gather everything below it. Its open, overdue and
fire-hazard counts and its ratings are sums of per-region, per-day counts the database
keeps in the same transaction as every change (incident_day_counts and
incident_rating_day_counts, migrations 0026 and 0028), so the district level reads a
few counts per community and day, the last 90 days' reports for the median response
time (which does not add up; by index only, migration 0027), and every building
(bench/dashboard_bench.py measures it). A cell's figures are counted from its own
reports. An index on `buildings (cell_id) INCLUDE (id)` lets the buildings and their
visits be counted from the index alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import CHINA_TZ, local_date
from core.errors import NotFound, PermissionDenied
from gis.geometry import BBox
from grid.access import Principal
from grid.sql_fragments import assignment_in_force, cell_in_force
from incidents.handling.patrol import COVERAGE_DAYS
from incidents.status import NOT_HAZARD, SET_ASIDE
from incidents.status import OPEN as OPEN_STATUSES

SATISFACTION_DAYS = 30
RESPONSE_DAYS = 90
HAZARD_DAYS = 365
PATROL_DAYS = COVERAGE_DAYS
# Region outlines are simplified for the wire to about a metre (degrees at the equator);
# drawn at district or street zoom, a metre is far below a pixel.
_OUTLINE_TOLERANCE_DEG = 0.00001
_LEVELS_BELOW = {
    "city": "district",
    "district": "street",
    "street": "community",
    "community": "cell",
}

# Both levels run one statement of the same shape: `unit` is what the map shows (cells,
# or the regions below one region), `unit_cell` the cells in force of each unit,
# `reported` each unit's report rows that some figure reads row by row, `tallied` its
# open, overdue and fire-hazard counts and `rated` its ratings. Only those five differ by
# level (a cell counts its rows; a region sums the counts kept per day, see _REGIONS),
# each defined the same way for both; every other figure below is defined once. Each figure is
# aggregated apart (ratings, buildings), so no join multiplies another's rows.
_FIGURES = """
responded AS (
    SELECT unit_id, count(*) AS accepted,
        percentile_cont(0.5) WITHIN GROUP (
            ORDER BY extract(epoch FROM accepted_at - created_at) / 3600) AS response_hours
    FROM reported
    WHERE created_at >= :response_since AND accepted_at IS NOT NULL
      AND status <> ALL(:set_aside)
    GROUP BY unit_id
),
staffing AS (
    SELECT u.unit_id, count(*) AS cells,
        count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM cell_assignments a
            WHERE a.cell_id = u.cell_id AND a.kind = 'primary'
              AND {assignment_in_force})) AS staffed
    FROM unit_cell u GROUP BY u.unit_id
),
stock AS (
    SELECT u.unit_id, count(*) AS buildings, count(*) FILTER (WHERE {visited}) AS visited
    FROM unit_cell u JOIN buildings b ON b.cell_id = u.cell_id
    GROUP BY u.unit_id
)
SELECT u.code, u.name, u.level, {geometry} AS geometry,
    coalesce(s.cells, 0) AS cells, coalesce(s.staffed, 0) AS staffed,
    coalesce(t.open, 0) AS open, coalesce(t.overdue, 0) AS overdue,
    coalesce(t.fire_reports, 0) AS fire_reports,
    coalesce(rs.accepted, 0) AS accepted, rs.response_hours,
    coalesce(rt.ratings, 0) AS ratings, coalesce(rt.satisfied, 0) AS satisfied,
    coalesce(st.buildings, 0) AS buildings, coalesce(st.visited, 0) AS visited
FROM unit u
LEFT JOIN staffing s ON s.unit_id = u.unit_id
LEFT JOIN tallied t ON t.unit_id = u.unit_id
LEFT JOIN responded rs ON rs.unit_id = u.unit_id
LEFT JOIN rated rt ON rt.unit_id = u.unit_id
LEFT JOIN stock st ON st.unit_id = u.unit_id
ORDER BY u.code
"""
# A report row as the figures read it; `fire` = a fire hazard (not the emergency), by the
# database's one definition (migrations/sql/incident_day_counts.sql).
_REPORT_COLUMNS = """
    i.id, i.status, i.created_at, i.accepted_at, i.resolve_due_at,
    category_fire_hazard(k.group_code, k.is_emergency) AS fire
"""
_REPORT_CATEGORY = "JOIN incident_categories k ON k.code = i.category_code"
# A cell's rows: open now, or within a window some figure reads (the year only for fire
# hazards).
_CELL_REPORT_WINDOW = """(i.status = ANY(:open_statuses) OR i.created_at >= :recent_since
    OR (i.created_at >= :hazard_since AND category_fire_hazard(k.group_code, k.is_emergency)))"""

# Cells in force within the scope and a filter (a bbox, or one community), at most
# :limit by code. A few buildings each: a visit is looked up per building (the visits'
# building and time index).
_CELLS = """
WITH unit AS (
    SELECT c.id AS unit_id, c.code, c.name, 'cell' AS level, c.boundary
    FROM grid_cells c
    JOIN regions g ON g.id = c.community_id
    WHERE {cell_in_force}
      AND (CAST(:scope AS text) IS NULL OR g.path LIKE CAST(:scope AS text) || '%')
      AND {where}
    ORDER BY c.code
    LIMIT :limit
),
unit_cell AS (SELECT unit_id, unit_id AS cell_id FROM unit),
reported AS (
    SELECT u.unit_id, {report_columns}
    FROM unit u JOIN incidents i ON i.cell_id = u.unit_id {report_category}
    WHERE {cell_report_window}
),
tallied AS (
    SELECT unit_id,
        count(*) FILTER (WHERE status = ANY(:open_statuses)) AS open,
        count(*) FILTER (WHERE status = ANY(:open_statuses) AND resolve_due_at < :now)
            AS overdue,
        count(*) FILTER (WHERE fire AND created_at >= :hazard_since
                           AND status <> ALL(:not_hazards)) AS fire_reports
    FROM reported GROUP BY unit_id
),
rated AS (
    SELECT n.unit_id, count(*) AS ratings, count(*) FILTER (WHERE r.overall >= 4) AS satisfied
    FROM reported n
    JOIN ratings r ON r.incident_id = n.id AND r.kind = 'handling' AND NOT r.excluded
    WHERE n.created_at >= :rating_since
    GROUP BY n.unit_id
),
"""
_CELL_VISITED = """EXISTS (
    SELECT 1 FROM patrol_visits v
    WHERE v.building_id = b.id AND v.visited_at > :patrol_since AND v.visited_at <= :now)"""
# Identifiers are never taken from input: the filter is one of these fixed fragments.
_CELL_FILTERS = {
    "bbox": "c.boundary && ST_MakeEnvelope(:w, :s, :e, :n, 4326)",
    "community": "c.community_id = :community",
}

# The children of a region (or the top-level regions) within the scope, each gathering
# everything below it. Paths hold only digits and '/', so LIKE needs no escaping;
# `below` maps every region at or under a child to that child (a few hundred rows), so
# cells and reports are gathered by equality joins. Over a district the buildings are
# many: the visited ones are hashed once (one scan of the window's visits) rather than
# looked up one by one.
#
# A region's open, overdue and fire-hazard counts are sums of incident_day_counts, and
# its ratings sums of incident_rating_day_counts (kept by triggers in the same
# transaction as every change, migrations 0026 and 0028), not a scan of its reports: the
# open ones carry their deadline, so overdue is exact at `now`; fire hazards and ratings
# are counted by the China day of report, the whole days of a window from the counts
# and its first, partial day (from the window's start to the next midnight) from the
# rows (one day's, by index). Only the reports of the last RESPONSE_DAYS are read row by
# row, for the one figure that does not add up, the median response time (from the
# index on region and time of report that covers its columns, migration 0027).
_REGIONS = """
WITH unit AS (
    SELECT g.id AS unit_id, g.code, g.name, g.level, g.path, g.boundary
    FROM regions g
    WHERE {parent}
      AND (CAST(:scope AS text) IS NULL OR g.path LIKE CAST(:scope AS text) || '%')
),
below AS (
    SELECT u.unit_id, g.id AS region_id
    FROM unit u JOIN regions g ON g.path LIKE u.path || '%'
),
unit_cell AS (
    SELECT b.unit_id, c.id AS cell_id
    FROM below b JOIN grid_cells c ON c.community_id = b.region_id
    WHERE {cell_in_force}
),
reported AS (
    SELECT b.unit_id, i.id, i.status, i.created_at, i.accepted_at
    FROM below b JOIN incidents i ON i.region_id = b.region_id
    WHERE i.created_at >= :recent_since
),
open_counts AS (
    SELECT b.unit_id, sum(s.incidents) AS open,
        sum(s.incidents) FILTER (WHERE s.due_at < :now) AS overdue
    FROM below b JOIN incident_day_counts s
      ON s.region_id = b.region_id AND s.status = ANY(:open_statuses)
    GROUP BY b.unit_id
),
hazard_counts AS (
    SELECT b.unit_id, sum(s.incidents) AS fire_reports
    FROM below b JOIN incident_day_counts s
      ON s.region_id = b.region_id AND s.fire_hazard AND s.created_on >= :hazard_first_day
    WHERE s.status <> ALL(:not_hazards)
    GROUP BY b.unit_id
),
hazard_edge AS (
    SELECT b.unit_id, count(*) AS fire_reports
    FROM below b JOIN incidents i ON i.region_id = b.region_id {report_category}
    WHERE i.created_at >= :hazard_since AND i.created_at < :hazard_whole_days_since
      AND category_fire_hazard(k.group_code, k.is_emergency) AND i.status <> ALL(:not_hazards)
    GROUP BY b.unit_id
),
tallied AS (
    SELECT u.unit_id, coalesce(o.open, 0) AS open, coalesce(o.overdue, 0) AS overdue,
        coalesce(h.fire_reports, 0) + coalesce(e.fire_reports, 0) AS fire_reports
    FROM unit u
    LEFT JOIN open_counts o ON o.unit_id = u.unit_id
    LEFT JOIN hazard_counts h ON h.unit_id = u.unit_id
    LEFT JOIN hazard_edge e ON e.unit_id = u.unit_id
),
rating_counts AS (
    SELECT b.unit_id, sum(s.ratings) AS ratings, sum(s.satisfied) AS satisfied
    FROM below b JOIN incident_rating_day_counts s
      ON s.region_id = b.region_id AND s.created_on >= :rating_first_day
    GROUP BY b.unit_id
),
rating_edge AS (
    SELECT b.unit_id, count(*) AS ratings, count(*) FILTER (WHERE r.overall >= 4) AS satisfied
    FROM below b JOIN incidents i ON i.region_id = b.region_id
    JOIN ratings r ON r.incident_id = i.id AND r.kind = 'handling' AND NOT r.excluded
    WHERE i.created_at >= :rating_since AND i.created_at < :rating_whole_days_since
    GROUP BY b.unit_id
),
rated AS (
    SELECT u.unit_id, coalesce(c.ratings, 0) + coalesce(e.ratings, 0) AS ratings,
        coalesce(c.satisfied, 0) + coalesce(e.satisfied, 0) AS satisfied
    FROM unit u
    LEFT JOIN rating_counts c ON c.unit_id = u.unit_id
    LEFT JOIN rating_edge e ON e.unit_id = u.unit_id
),
"""
_REGION_VISITED = """b.id IN (
    SELECT v.building_id FROM patrol_visits v
    WHERE v.visited_at > :patrol_since AND v.visited_at <= :now)"""
_REGION_PARENTS = {"region": "g.parent_id = :parent", "top": "g.parent_id IS NULL"}


def _statement(units: str, visited: str, geometry: str, **choice: str) -> Any:
    """A level's statement: its units (with a chosen filter) followed by the figures."""
    fragments = {
        "report_columns": _REPORT_COLUMNS,
        "report_category": _REPORT_CATEGORY,
        "cell_report_window": _CELL_REPORT_WINDOW,
        "cell_in_force": cell_in_force("c"),
    }
    return text(
        units.format(**fragments, **choice)
        + _FIGURES.format(
            visited=visited,
            geometry=geometry,
            assignment_in_force=assignment_in_force("a", ":today"),
        )
    )


_CUSTOM_PLAN = text("SET LOCAL plan_cache_mode = force_custom_plan")
_CELL_GEOMETRY = "ST_AsGeoJSON(u.boundary, 6)"
_REGION_GEOMETRY = "ST_AsGeoJSON(ST_SimplifyPreserveTopology(u.boundary, :tolerance), 6)"
_CELL_STATEMENTS = {
    name: _statement(_CELLS, _CELL_VISITED, _CELL_GEOMETRY, where=where)
    for name, where in _CELL_FILTERS.items()
}
_REGION_STATEMENTS = {
    name: _statement(_REGIONS, _REGION_VISITED, _REGION_GEOMETRY, parent=parent)
    for name, parent in _REGION_PARENTS.items()
}


def _whole_days(window: str, since: datetime) -> dict[str, Any]:
    """A window's whole China days (its first day and first midnight), which the region
    levels sum from the day counts; before that midnight it is counted from the rows."""
    first_day = local_date(since) + timedelta(days=1)
    return {
        f"{window}_first_day": first_day,
        f"{window}_whole_days_since": datetime.combine(first_day, time(0), CHINA_TZ),
    }


def _windows(now: datetime) -> dict[str, Any]:
    """The parameters every coverage statement shares: now, today and the windows."""
    hazard_since = now - timedelta(days=HAZARD_DAYS)
    rating_since = now - timedelta(days=SATISFACTION_DAYS)
    return {
        "now": now,
        "today": local_date(now),
        "open_statuses": sorted(OPEN_STATUSES),
        "set_aside": sorted(SET_ASIDE),  # nobody was meant to accept these
        "not_hazards": sorted(NOT_HAZARD),
        "rating_since": rating_since,
        **_whole_days("rating", rating_since),
        "response_since": now - timedelta(days=RESPONSE_DAYS),
        "hazard_since": hazard_since,
        **_whole_days("hazard", hazard_since),
        "patrol_since": now - timedelta(days=PATROL_DAYS),
        "recent_since": now - timedelta(days=max(SATISFACTION_DAYS, RESPONSE_DAYS)),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(row: Any) -> dict[str, Any]:
    """The figures both levels show, from a row of either statement."""
    hours = row.response_hours
    return {
        "open": row.open,
        "overdue": row.overdue,
        "ratings": row.ratings,
        "satisfaction": _share(row.satisfied, row.ratings),
        "accepted": row.accepted,
        "response_hours": None if hours is None else round(float(hours), 1),
        "fire_reports": row.fire_reports,
        "buildings": row.buildings,
        "hazard_density": (
            round(100 * row.fire_reports / row.buildings, 2) if row.buildings else None
        ),
        "visited": row.visited,
        "patrol_coverage": _share(row.visited, row.buildings),
    }


def _feature(row: Any, **properties: Any) -> dict[str, Any]:
    """A unit (cell or region) as a GeoJSON Feature with its code, name and properties."""
    return {
        "type": "Feature",
        "id": row.code,
        "geometry": json.loads(row.geometry),
        "properties": {"code": row.code, "name": row.name, **properties},
    }


def _cell_features(rows: list[Any]) -> list[dict[str, Any]]:
    return [_feature(row, level="cell", staffed=row.staffed > 0, **_figures(row)) for row in rows]


async def cell_coverage(
    session: AsyncSession, scope_path: str | None, box: BBox, now: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """The cells in force in a bbox within an area (a region path; None for everywhere)
    with their coverage figures as GeoJSON Features, at most `limit` by code."""
    params = {
        "scope": scope_path,
        "limit": limit,
        "w": box.min_lon,
        "s": box.min_lat,
        "e": box.max_lon,
        "n": box.max_lat,
    }
    rows = (await session.execute(_CELL_STATEMENTS["bbox"], params | _windows(now))).all()
    return _cell_features(rows)


async def community_cell_coverage(
    session: AsyncSession,
    scope_path: str | None,
    community_id: int,
    now: datetime,
    *,
    limit: int,
) -> list[dict[str, Any]]:
    """The cells in force of one community within an area, with their figures."""
    params = {"scope": scope_path, "limit": limit, "community": community_id}
    rows = (await session.execute(_CELL_STATEMENTS["community"], params | _windows(now))).all()
    return _cell_features(rows)


async def region_coverage(
    session: AsyncSession, scope_path: str | None, parent_id: int | None, now: datetime
) -> list[dict[str, Any]]:
    """The regions right below a region (None: the top-level regions) within an area,
    each with the figures of everything below it, as GeoJSON Features by code."""
    if parent_id is None:
        statement, params = _REGION_STATEMENTS["top"], {}
    else:
        statement, params = _REGION_STATEMENTS["region"], {"parent": parent_id}
    params |= {"scope": scope_path, "tolerance": _OUTLINE_TOLERANCE_DEG}
    # Planned for this call's windows: the generic plan a prepared statement falls back to
    # after five runs guesses the day ranges and took twice as long (bench, 300k reports).
    await session.execute(_CUSTOM_PLAN)
    rows = (await session.execute(statement, params | _windows(now))).all()
    return [
        _feature(
            row,
            level=row.level,
            cells=row.cells,
            staffed_cells=row.staffed,
            staffed_share=_share(row.staffed, row.cells),
            **_figures(row),
            open_per_cell=round(row.open / row.cells, 2) if row.cells else None,
            overdue_per_cell=round(row.overdue / row.cells, 2) if row.cells else None,
        )
        for row in rows
    ]


# ---- Drill-down: where a manager starts, and the way back up ----------------------


@dataclass(frozen=True)
class Area:
    """A region as the drill-down shows it."""

    id: int
    code: str
    name: str
    level: str
    path: str

    def public(self) -> dict[str, str]:
        """Code, name and level: what the breadcrumb needs."""
        return {"code": self.code, "name": self.name, "level": self.level}


_AREA_COLUMNS = "SELECT id, code, name, level, path FROM regions"
_AREA_BY_CODE = text(f"{_AREA_COLUMNS} WHERE code = :code")
_AREA_BY_ID = text(f"{_AREA_COLUMNS} WHERE id = :id")
_CITIES = text(f"{_AREA_COLUMNS} WHERE parent_id IS NULL ORDER BY code LIMIT 2")
# The only child of a region, when it has exactly one (regions only: a community's
# children are cells).
_ONLY_CHILD = text(f"""
    {_AREA_COLUMNS} WHERE parent_id = :parent
      AND (CAST(:scope AS text) IS NULL OR path LIKE CAST(:scope AS text) || '%')
    ORDER BY code LIMIT 2
""")
# A region and its ancestors inside the area, top first (ids from the path).
_TRAIL = text(f"""
    {_AREA_COLUMNS}
    WHERE id = ANY (CAST(string_to_array(trim(BOTH '/' FROM CAST(:path AS text)), '/') AS int[]))
      AND (CAST(:scope AS text) IS NULL OR path LIKE CAST(:scope AS text) || '%')
    ORDER BY length(path)
""")


async def _area(session: AsyncSession, statement: Any, **params: Any) -> Area | None:
    row = (await session.execute(statement, params)).first()
    return None if row is None else Area(*row)


async def _top(session: AsyncSession, principal: Principal) -> Area | None:
    """The region a manager's area is (admins: the only city, else None: every city)."""
    if not principal.is_admin:
        return await _area(session, _AREA_BY_ID, id=principal.region_id)
    cities = (await session.execute(_CITIES)).all()
    return Area(*cities[0]) if len(cities) == 1 else None


async def _start(session: AsyncSession, top: Area | None, scope: str | None) -> Area | None:
    """Where the map opens: the top of the area, or lower while a region has only one
    child region (a district of one street opens on that street's communities)."""
    area = top
    while area is not None and area.level != "community":
        children = (await session.execute(_ONLY_CHILD, {"parent": area.id, "scope": scope})).all()
        if len(children) != 1:
            break
        area = Area(*children[0])
    return area


async def drill_down(
    session: AsyncSession,
    principal: Principal,
    code: str | None,
    now: datetime,
    *,
    cell_limit: int,
) -> dict[str, Any]:
    """The level below a region (by code; default: where the caller's map opens) within
    the caller's area, as a FeatureCollection with the trail back up: regions with their
    figures, or a community's cells. A region outside the area is refused."""
    scope = None if principal.is_admin else principal.region_path
    if scope is None and not principal.is_admin:  # staff always have a region; never widen
        raise PermissionDenied()
    top = await _top(session, principal)
    if code is None:
        region = await _start(session, top, scope)
    else:
        region = await _area(session, _AREA_BY_CODE, code=code)
        if region is None:
            raise NotFound(f"No region with code {code}", f"未找到区域 {code}")
        if scope is not None and not region.path.startswith(scope):
            raise PermissionDenied("This region is outside your area", "该区域不在您的管辖范围内")
    if region is None:  # an admin over several cities: the cities themselves
        level, features = "city", await region_coverage(session, scope, None, now)
        trail: list[Area] = []
    else:
        level = _LEVELS_BELOW[region.level]
        if level == "cell":
            features = await community_cell_coverage(
                session, scope, region.id, now, limit=cell_limit
            )
        else:
            features = await region_coverage(session, scope, region.id, now)
        rows = (await session.execute(_TRAIL, {"path": region.path, "scope": scope})).all()
        trail = [Area(*row) for row in rows]
    return {
        "type": "FeatureCollection",
        "region": region and region.public(),
        "level": level,
        "trail": [area.public() for area in trail],
        # An admin over several cities goes back up to all of them, past any one city.
        "all_regions": principal.is_admin and top is None,
        "windows": {
            "satisfaction_days": SATISFACTION_DAYS,
            "response_days": RESPONSE_DAYS,
            "hazard_days": HAZARD_DAYS,
            "patrol_days": PATROL_DAYS,
        },
        "features": features,
        "numberReturned": len(features),
        "truncated": level == "cell" and len(features) == cell_limit,
    }
