"""A grid worker's patrol list: the buildings of their cells ranked by fire risk, with
each part of the score shown; patrol visits, and patrol coverage per cell.

The score is a weighted sum of parts, each worth at most the points in `WEIGHTS`:

| part | value | points |
|---|---|---|
| open fire hazards | open reports of a fire category at the building | 60 each, 2 at most |
| past fire hazards | fire reports resolved or closed, made in the last year | 10 each, 3 at most |
| rental density | share of the building's houses that are rented | 20 x share |
| building age | years since `built_year`, capped at 50 | 15 x years / 50 |
| vulnerable residents | residents with a vulnerability tag | 5 each, 4 at most |
| days since visit | China days since anyone's last patrol visit, capped at 30 | 10 x days / 30 |

- A live hazard weighs most: one open fire report (60) outranks what the other parts
  give any building short of the worst case (entirely rented, 50+ years old, 4+
  vulnerable residents and unvisited for a month: 20 + 15 + 20 + 10 = 65).
- Unknown building age counts as 25 years (half the points): old enough to look at, not
  enough to outrank a known old building. Never visited counts as the full 30 days.
- A report is at the building when its `building_id` is the building's, or when it has
  none and its point lies in the footprint (`ST_Covers`). Only reports routed to the
  worker's cells are looked at (the incidents' cell index keeps this cheap).
- Ties are broken by building id, so the list is stable.

Coverage: the share of a cell's buildings visited (by anyone) in the last 30 days.

A visit may carry photos (evidence, like a report's): the original with its EXIF and a
thumbnail, read only by the worker who made the visit and managers over the building's
area; never published, so no public copy is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from geoalchemy2 import WKTElement
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local_date
from core.errors import NotFound, PermissionDenied
from gis.crs import STORAGE_SRID
from grid.access import Principal, manager_over, worker_assigned_to_cell
from grid.sql_fragments import assignment_in_force, cell_in_force
from incidents.intake.photos import THUMBNAIL_MEDIA_TYPE, Photo
from incidents.models.handling import PatrolVisit, PatrolVisitPhoto
from incidents.status import HANDLED, OPEN

# Points per unit of each part (see the module notes), and how many units count at most.
WEIGHTS: dict[str, float] = {
    "open_fire_hazards": 60.0,
    "past_fire_hazards": 10.0,
    "rental_density": 20.0,
    "building_age": 15.0,
    "vulnerable_residents": 5.0,
    "days_since_visit": 10.0,
}
CAPS: dict[str, int] = {"open_fire_hazards": 2, "past_fire_hazards": 3, "vulnerable_residents": 4}
AGE_SPAN_YEARS = 50
UNKNOWN_AGE_YEARS = 25
VISIT_SPAN_DAYS = 30
PAST_HAZARD_DAYS = 365
COVERAGE_DAYS = 30

# The raw parts for every building of the worker's cells in force on :on (assignments in
# force that day, primary or backup), one statement.
_PARTS = text(f"""
WITH my_cells AS (
    SELECT DISTINCT c.id, c.code
    FROM cell_assignments ca
    JOIN grid_cells c ON c.id = ca.cell_id AND {cell_in_force("c")}
    WHERE ca.user_id = :worker AND {assignment_in_force("ca", ":on")}
),
mine AS (
    SELECT b.id, b.address, b.built_year, b.footprint, c.code AS cell_code,
           ST_PointOnSurface(b.footprint) AS point
    FROM buildings b JOIN my_cells c ON c.id = b.cell_id
),
fire AS (
    SELECT i.building_id, i.location, i.status = ANY(:open) AS is_open
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code AND k.group_code = 'fire'
    WHERE i.cell_id IN (SELECT id FROM my_cells)
      AND (i.status = ANY(:open)
           OR (i.status = ANY(:handled) AND i.created_at >= :past_since))
),
hazards AS (
    SELECT m.id, count(*) FILTER (WHERE f.is_open) AS open,
           count(*) FILTER (WHERE NOT f.is_open) AS past
    FROM mine m
    JOIN fire f ON f.building_id = m.id
                OR (f.building_id IS NULL AND ST_Covers(m.footprint, f.location))
    GROUP BY m.id
),
housing AS (
    SELECT h.building_id, count(*) AS houses, count(*) FILTER (WHERE h.is_rental) AS rented
    FROM houses h JOIN mine m ON m.id = h.building_id
    GROUP BY h.building_id
),
vulnerable AS (
    SELECT h.building_id, count(*) AS people
    FROM people p
    JOIN households hh ON hh.id = p.household_id
    JOIN houses h ON h.id = hh.house_id
    JOIN mine m ON m.id = h.building_id
    WHERE cardinality(p.vulnerability_tags) > 0
    GROUP BY h.building_id
),
visits AS (
    SELECT v.building_id, max(v.visited_at) AS last_at
    FROM patrol_visits v JOIN mine m ON m.id = v.building_id
    GROUP BY v.building_id
)
SELECT m.id, m.address, m.cell_code, m.built_year, ST_X(m.point) AS lon, ST_Y(m.point) AS lat,
       coalesce(hz.open, 0) AS open_hazards, coalesce(hz.past, 0) AS past_hazards,
       coalesce(ho.houses, 0) AS houses, coalesce(ho.rented, 0) AS rented,
       coalesce(vu.people, 0) AS vulnerable, vi.last_at
FROM mine m
LEFT JOIN hazards hz ON hz.id = m.id
LEFT JOIN housing ho ON ho.building_id = m.id
LEFT JOIN vulnerable vu ON vu.building_id = m.id
LEFT JOIN visits vi ON vi.building_id = m.id
""")


def _capped(part: str, count: int) -> float:
    return WEIGHTS[part] * min(count, CAPS[part])


def score_parts(row: Any, on: date) -> dict[str, dict[str, Any]]:
    """Each part of a building's score: the value the worker can check, and its points."""
    share = row.rented / row.houses if row.houses else 0.0
    age = None if row.built_year is None else max(on.year - row.built_year, 0)
    age_points = (
        WEIGHTS["building_age"]
        * min(UNKNOWN_AGE_YEARS if age is None else age, AGE_SPAN_YEARS)
        / AGE_SPAN_YEARS
    )
    days = None if row.last_at is None else (on - local_date(row.last_at)).days
    visit_points = (
        WEIGHTS["days_since_visit"]
        * min(VISIT_SPAN_DAYS if days is None else max(days, 0), VISIT_SPAN_DAYS)
        / VISIT_SPAN_DAYS
    )
    return {
        "open_fire_hazards": {
            "value": row.open_hazards,
            "points": _capped("open_fire_hazards", row.open_hazards),
        },
        "past_fire_hazards": {
            "value": row.past_hazards,
            "points": _capped("past_fire_hazards", row.past_hazards),
        },
        "rental_density": {
            "value": round(share, 4),
            "houses": row.houses,
            "rented": row.rented,
            "points": WEIGHTS["rental_density"] * share,
        },
        "building_age": {"value": age, "built_year": row.built_year, "points": age_points},
        "vulnerable_residents": {
            "value": row.vulnerable,
            "points": _capped("vulnerable_residents", row.vulnerable),
        },
        "days_since_visit": {
            "value": days,
            "last_visit_at": row.last_at and row.last_at.isoformat(),
            "points": visit_points,
        },
    }


async def patrol_list(
    session: AsyncSession, worker: Principal, on: date, limit: int, now: datetime
) -> list[dict[str, Any]]:
    """The buildings of the worker's cells in force on `on`, riskiest first (score desc,
    then building id), at most `limit`, each with the parts of its score."""
    rows = (
        await session.execute(
            _PARTS,
            {
                "worker": worker.id,
                "on": on,
                "open": sorted(OPEN),
                "handled": sorted(HANDLED),
                "past_since": now - timedelta(days=PAST_HAZARD_DAYS),
            },
        )
    ).all()
    buildings = []
    for row in rows:
        parts = score_parts(row, on)
        for part in parts.values():
            part["points"] = round(part["points"], 2)
        buildings.append(
            {
                "building_id": row.id,
                "address": row.address,
                "cell_code": row.cell_code,
                # A point inside the footprint, for the worker's map.
                "lon": row.lon,
                "lat": row.lat,
                # Summed before rounding would differ by a hundredth at most; sum what is shown.
                "score": round(sum(part["points"] for part in parts.values()), 2),
                "parts": parts,
            }
        )
    buildings.sort(key=lambda b: (-b["score"], b["building_id"]))
    return buildings[:limit]


@dataclass(frozen=True)
class VisitIn:
    """What a worker records at a building on patrol."""

    building_id: int
    note: str | None = None
    hazards_found: int = 0
    lon: float | None = None
    lat: float | None = None


_BUILDING_CELL = text("SELECT cell_id FROM buildings WHERE id = :id")


async def record_visit(
    session: AsyncSession,
    worker: Principal,
    visit: VisitIn,
    now: datetime,
    photos: Sequence[Photo] = (),
) -> dict[str, Any]:
    """Record a patrol visit to a building of one of the worker's cells, with its photos
    (the caller commits); 404 for no such building, 403 for a building outside their
    cells."""
    found = (await session.execute(_BUILDING_CELL, {"id": visit.building_id})).first()
    if found is None:
        raise NotFound(f"No building {visit.building_id}", f"未找到楼栋 {visit.building_id}")
    cell_id = found.cell_id
    if cell_id is None or not await worker_assigned_to_cell(
        session, worker.id, cell_id, local_date(now)
    ):
        raise PermissionDenied(
            "This building is not in your grid cells", "该楼栋不在您负责的网格内"
        )
    location = None
    if visit.lon is not None and visit.lat is not None:
        location = WKTElement(f"POINT({visit.lon!r} {visit.lat!r})", srid=STORAGE_SRID)
    row = PatrolVisit(
        building_id=visit.building_id,
        user_id=worker.id,
        location=location,
        note=visit.note,
        hazards_found=visit.hazards_found,
        visited_at=now,
    )
    session.add(row)
    await session.flush()
    stored = [
        PatrolVisitPhoto(
            visit_id=row.id,
            sha256=photo.sha256,
            media_type=photo.media_type,
            width=photo.width,
            height=photo.height,
            original=photo.original,
            thumbnail=photo.thumbnail,
            taken_at=photo.taken_at,
        )
        for photo in photos
    ]
    session.add_all(stored)
    await session.flush()
    return {
        "id": row.id,
        "building_id": row.building_id,
        "visited_at": now.isoformat(),
        "hazards_found": row.hazards_found,
        "note": row.note,
        "located": location is not None,
        "photo_ids": [p.id for p in stored],
    }


VisitPhotoCopy = Literal["original", "thumbnail"]

# The photo with who may read it: the visiting worker, and managers over the region of
# the cell the building is in now (no cell: the worker and admins only).
_VISIT_PHOTO = text("""
SELECT v.user_id, r.path AS region_path, p.media_type,
       CASE WHEN :copy = 'thumbnail' THEN p.thumbnail ELSE p.original END AS data
FROM patrol_visit_photos p
JOIN patrol_visits v ON v.id = p.visit_id
JOIN buildings b ON b.id = v.building_id
LEFT JOIN grid_cells c ON c.id = b.cell_id
LEFT JOIN regions r ON r.id = c.community_id
WHERE p.id = :photo AND p.visit_id = :visit
""")


async def visit_photo(
    session: AsyncSession,
    principal: Principal,
    visit_id: int,
    photo_id: int,
    copy: VisitPhotoCopy,
) -> tuple[bytes, str]:
    """A visit's photo (the original keeps its EXIF: evidence) for the worker who made the
    visit and managers over the building's area; 404 for anyone else, so whether it
    exists is not told."""
    found = (
        await session.execute(_VISIT_PHOTO, {"photo": photo_id, "visit": visit_id, "copy": copy})
    ).first()
    if found is None or not (
        found.user_id == principal.id or manager_over(principal, found.region_path)
    ):
        raise NotFound(
            f"No photo {photo_id} on visit {visit_id}", f"巡查记录 {visit_id} 没有照片 {photo_id}"
        )
    return found.data, THUMBNAIL_MEDIA_TYPE if copy == "thumbnail" else found.media_type


_COVERAGE = text(f"""
WITH cells AS (
    SELECT c.id, c.code, c.name FROM grid_cells c
    WHERE c.community_id = :community AND {cell_in_force("c")}
),
visits AS (
    SELECT v.building_id, max(v.visited_at) AS last_at
    FROM patrol_visits v
    JOIN buildings b ON b.id = v.building_id
    JOIN cells c ON c.id = b.cell_id
    WHERE v.visited_at <= :now
    GROUP BY v.building_id
)
SELECT c.code, c.name, count(b.id) AS buildings,
       count(vi.building_id) FILTER (WHERE vi.last_at > :since) AS visited,
       max(vi.last_at) AS last_visit_at
FROM cells c
LEFT JOIN buildings b ON b.cell_id = c.id
LEFT JOIN visits vi ON vi.building_id = b.id
GROUP BY c.id, c.code, c.name
ORDER BY c.code
""")


async def patrol_coverage(
    session: AsyncSession, community_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Per cell in force of a community: buildings, those visited in the last 30 days,
    their share (None for a cell without buildings) and the last visit."""
    rows = (
        await session.execute(
            _COVERAGE,
            {
                "community": community_id,
                "now": now,
                "since": now - timedelta(days=COVERAGE_DAYS),
            },
        )
    ).all()
    return [
        {
            "code": row.code,
            "name": row.name,
            "buildings": row.buildings,
            "visited_last_30_days": row.visited,
            "coverage": round(row.visited / row.buildings, 4) if row.buildings else None,
            "last_visit_at": row.last_visit_at and row.last_visit_at.isoformat(),
        }
        for row in rows
    ]
