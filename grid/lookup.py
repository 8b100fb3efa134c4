"""Point lookup: lon/lat -> grid cell, region chain and the person responsible."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.geometry import degrees_around
from grid.roles import AREA_MANAGER_ROLES
from grid.sql_fragments import assignment_in_force, cell_in_force_at

# A pin this close to a cell (GPS drift, the road between two cells) goes to that cell.
DEFAULT_TOLERANCE_M = 50.0


@dataclass(frozen=True)
class PointLookup:
    """Where a point falls and who answers for it."""

    match: str  # 'inside' | 'nearest' | 'outside'
    cell: dict[str, Any] | None
    regions: list[dict[str, str]] = field(default_factory=list)
    responsible: dict[str, Any] | None = None


@lru_cache
def point_lookup_sql() -> str:
    """The point lookup statement (sql/point_lookup.sql); report intake embeds it."""
    # Composed once (cached): the hot path reuses the finished text.
    raw = (Path(__file__).parent / "sql" / "point_lookup.sql").read_text()
    return raw.replace("{assignment_in_force}", assignment_in_force("ca", ":on"))


@lru_cache
def _statement():
    return text(point_lookup_sql())


def lookup_params(lon: float, lat: float, on: date, tolerance_m: float) -> dict[str, Any]:
    """The bound values of the point lookup statement."""
    return {
        "lon": lon,
        "lat": lat,
        "on": on,
        "tolerance_m": tolerance_m,
        "tolerance_deg": degrees_around(lat, tolerance_m),
        "area_managers": sorted(AREA_MANAGER_ROLES),
    }


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def lookup_point(
    session: AsyncSession,
    lon: float,
    lat: float,
    on: date,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> PointLookup:
    """Resolve a WGS84 point: its cell (covering, else nearest within tolerance), the
    region chain, and the primary worker, else a backup, else the area's manager."""
    row = (await session.execute(_statement(), lookup_params(lon, lat, on, tolerance_m))).one()
    raw_cell, regions, responsible = (_decode(v) for v in row)
    cell, match = None, "outside"
    if raw_cell is not None:
        match = raw_cell["match"]
        cell = {
            "id": raw_cell["id"],
            "code": raw_cell["code"],
            "name": raw_cell["name"],
            "distance_m": round(raw_cell["distance_m"], 1),
        }
    if responsible is not None:
        responsible.pop("rank", None)
        responsible.pop("since", None)
    return PointLookup(match=match, cell=cell, regions=regions or [], responsible=responsible)


_CELL_AT = text(f"""
    SELECT c.code FROM grid_cells c
    WHERE {cell_in_force_at("c", ":at")}
      AND c.boundary && ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
      AND ST_Covers(c.boundary, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY c.code LIMIT 1
""")


async def cell_code_at(session: AsyncSession, lon: float, lat: float, at) -> str | None:
    """History: the code of the cell that covered a point at a moment (any version)."""
    params = {"lon": lon, "lat": lat, "at": at}
    return (await session.execute(_CELL_AT, params)).scalar()
