"""Choosing a place from lists, without a map: compound (小区) -> building -> unit.

A compound is a named residential area of the base map (basemap.compounds, from the demo
or an OSM/GIS import); a building belongs to the compound whose area covers its
footprint's point-on-surface (the register has no compound column: the base map's area is
the only link). A building in no compound is grouped by its address up to the house
number (…先烈路165号 for …先烈路165号3栋), so every building can be reached. Public
facts only: compound names, building addresses, unit numbers and floors; never a
household, person, landlord or rental flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound

# The nearest buildings considered when listing compounds around a point: enough for a
# neighbourhood, bounded for a city of any size (a KNN walk of the footprint index).
NEAREST_BUILDINGS = 3000
MAX_UNITS = 2000
# A compound id: c<base-map compound id>, or a:<address up to the house number>.
COMPOUND_ID = re.compile(r"^(?:c[0-9]{1,18}|a:[^\x00-\x1f]{1,200})$")

# The group a building's address falls in when no compound covers it: up to the first
# house number (…路165号); an address without one is its own group.
_ADDRESS_GROUP = r"COALESCE(substring(b.address from '^(.*?[0-9]+\s*号)'), b.address)"

# Buildings nearest :near (KNN on the footprint's GiST index; the point literal is in the
# column's SRID), each with the compound covering its point-on-surface, grouped.
_COMPOUNDS = text(f"""
    WITH near AS (
        SELECT b.id, b.address, ST_PointOnSurface(b.footprint) AS pt,
               b.footprint <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS d
        FROM buildings b
        ORDER BY b.footprint <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
        LIMIT :nearest
    ), grouped AS (
        SELECT COALESCE('c' || c.id, 'a:' || {_ADDRESS_GROUP}) AS id,
               COALESCE(c.name, {_ADDRESS_GROUP}) AS name,
               CASE WHEN c.id IS NULL THEN 'address' ELSE 'compound' END AS kind, near.d
        FROM near JOIN buildings b ON b.id = near.id
        LEFT JOIN LATERAL (
            SELECT c.id, c.name FROM basemap.compounds c
            WHERE c.geom && near.pt AND ST_Covers(c.geom, near.pt)
            ORDER BY c.id LIMIT 1
        ) c ON true
    )
    SELECT id, name, kind, count(*) AS buildings
    FROM grouped GROUP BY id, name, kind
    ORDER BY min(d), name
    LIMIT :limit
""")

_COMPOUND_BUILDINGS = text("""
    SELECT b.id, b.address, ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat
    FROM basemap.compounds c
    JOIN buildings b ON b.footprint && c.geom
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.footprint) AS pt) p
    WHERE c.id = :compound AND ST_Covers(c.geom, p.pt)
      -- the building's own compound is the first covering it (as in the list)
      AND NOT EXISTS (SELECT FROM basemap.compounds o
                      WHERE o.id < c.id AND o.geom && p.pt AND ST_Covers(o.geom, p.pt))
    ORDER BY b.address, b.id
    LIMIT :limit
""")

# Buildings of an address group: the address starts with the group (ILIKE wildcards in
# it escaped, then the exact group compared) and no compound covers the building.
_ADDRESS_BUILDINGS = text(f"""
    SELECT b.id, b.address, ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat
    FROM buildings b
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.footprint) AS pt) p
    WHERE b.address LIKE :prefix ESCAPE '\\' AND {_ADDRESS_GROUP} = :group
      AND NOT EXISTS (SELECT FROM basemap.compounds c
                      WHERE c.geom && p.pt AND ST_Covers(c.geom, p.pt))
    ORDER BY b.address, b.id
    LIMIT :limit
""")

_UNITS = text("""
    SELECT h.unit_number, h.floor FROM houses h
    WHERE h.building_id = :building
    ORDER BY h.floor, length(h.unit_number), h.unit_number
    LIMIT :limit
""")


@dataclass(frozen=True)
class CompoundEntry:
    """A compound, or an address group of buildings outside every compound."""

    id: str
    name: str
    kind: str  # compound | address
    buildings: int


@dataclass(frozen=True)
class BuildingEntry:
    """A building to choose, with a point to file the report at."""

    building_id: int
    address: str
    lon: float
    lat: float


@dataclass(frozen=True)
class UnitEntry:
    """A dwelling unit's number and floor (nothing about who lives there)."""

    unit_number: str
    floor: int


async def compounds_near(
    session: AsyncSession, lon: float, lat: float, limit: int
) -> list[CompoundEntry]:
    """The compounds (and address groups) of the buildings nearest lon/lat, nearest first."""
    rows = await session.execute(
        _COMPOUNDS, {"lon": lon, "lat": lat, "limit": limit, "nearest": NEAREST_BUILDINGS}
    )
    return [CompoundEntry(*row) for row in rows.all()]


def check_compound_id(value: str) -> str:
    """A compound id as compounds_near gives it, or a 422 naming `compound`."""
    if not COMPOUND_ID.match(value):
        raise InvalidInput(
            "compound must be an id from GET /addresses/compounds",
            "compound 应为小区列表中的编号",
            field="compound",
        )
    return value


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def compound_buildings(
    session: AsyncSession, compound: str, limit: int
) -> list[BuildingEntry]:
    """The buildings of a compound or address group, by address; 404 when it has none."""
    check_compound_id(compound)
    if compound.startswith("c"):
        rows = await session.execute(
            _COMPOUND_BUILDINGS, {"compound": int(compound[1:]), "limit": limit}
        )
    else:
        group = compound[2:]
        rows = await session.execute(
            _ADDRESS_BUILDINGS,
            {"prefix": _escape_like(group) + "%", "group": group, "limit": limit},
        )
    found = [BuildingEntry(*row) for row in rows.all()]
    if not found:
        raise NotFound(f"no buildings in compound {compound}", "该小区没有楼栋")
    return found


async def building_units(session: AsyncSession, building_id: int) -> list[UnitEntry]:
    """The units of a building by floor (empty for one without registered units); 404
    for an unknown building."""
    exists = (
        await session.execute(text("SELECT 1 FROM buildings WHERE id = :id"), {"id": building_id})
    ).first()
    if exists is None:
        raise NotFound(f"no building {building_id}", f"没有楼栋 {building_id}")
    rows = await session.execute(_UNITS, {"building": building_id, "limit": MAX_UNITS})
    return [UnitEntry(*row) for row in rows.all()]
