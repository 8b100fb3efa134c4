"""Grid cell queries: a bounded GeoJSON page, one cell, and who is responsible for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gis.geometry import BBox
from grid.access import assignment_valid_on
from grid.geojson_rows import as_geojson, feature, intersects_bbox
from grid.models import CellAssignment, GridCell, Region, User
from grid.roles import Role


@dataclass(frozen=True)
class CellRef:
    """A cell's identity and the ancestry path of its community (for area checks)."""

    id: int
    code: str
    name: str
    community_code: str
    community_path: str


async def cell_page(
    session: AsyncSession, bbox: BBox | None, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` cells as GeoJSON Features ordered by code, and the next cursor."""
    query = (
        select(
            GridCell.code, GridCell.name, Region.code, Region.name, as_geojson(GridCell.boundary)
        )
        .join(Region, Region.id == GridCell.community_id)
        .where(GridCell.in_force())
        .order_by(GridCell.code)
        .limit(limit + 1)
    )
    if bbox is not None:
        query = query.where(intersects_bbox(GridCell.boundary, bbox))
    if after is not None:
        query = query.where(GridCell.code > after)
    rows = (await session.execute(query)).all()
    features = [
        feature(
            geom,
            {"code": code, "name": name, "community_code": ccode, "community_name": cname},
            code,
        )
        for code, name, ccode, cname, geom in rows[:limit]
    ]
    next_cursor = rows[limit - 1][0] if len(rows) > limit else None
    return features, next_cursor


async def find_cell(session: AsyncSession, code: str) -> CellRef | None:
    """The cell with this code, or None."""
    query = (
        select(GridCell.id, GridCell.code, GridCell.name, Region.code, Region.path)
        .join(Region, Region.id == GridCell.community_id)
        .where(GridCell.code == code, GridCell.in_force())
    )
    row = (await session.execute(query)).first()
    return CellRef(*row) if row else None


async def cell_responsibility(session: AsyncSession, cell: CellRef, on: date) -> dict[str, Any]:
    """The cell's primary and backup workers on a day, and its community managers."""
    workers = (
        await session.execute(
            select(
                CellAssignment.kind,
                CellAssignment.valid_from,
                CellAssignment.valid_to,
                User.username,
                User.display_name,
                User.phone,
            )
            .join(User, User.id == CellAssignment.user_id)
            .where(CellAssignment.cell_id == cell.id, *assignment_valid_on(on))
            .order_by(CellAssignment.kind.desc(), CellAssignment.valid_from)
        )
    ).all()
    managers = (
        await session.execute(
            select(User.username, User.display_name, User.phone)
            .join(Region, Region.id == User.region_id)
            .where(
                Region.code == cell.community_code,
                User.role == Role.COMMUNITY_MANAGER,
                User.is_active.is_(True),
            )
            .order_by(User.username)
        )
    ).all()

    def person(username: str, name: str, phone: str | None) -> dict[str, Any]:
        return {"username": username, "display_name": name, "phone": phone}

    def assigned(wanted: str) -> list[dict[str, Any]]:
        return [
            {**person(u, n, p), "valid_from": f.isoformat(), "valid_to": t and t.isoformat()}
            for kind, f, t, u, n, p in workers
            if kind == wanted
        ]

    return {
        "cell_code": cell.code,
        "on": on.isoformat(),
        "primary": assigned("primary"),
        "backups": assigned("backup"),
        "community_managers": [person(*m) for m in managers],
    }


async def cell_feature(session: AsyncSession, cell: CellRef) -> dict[str, Any]:
    """A cell as a GeoJSON Feature with its community and area in m² (public fields)."""
    query = (
        select(
            Region.name,
            func.ST_Area(func.Geography(GridCell.boundary)),
            as_geojson(GridCell.boundary),
        )
        .join(Region, Region.id == GridCell.community_id)
        .where(GridCell.id == cell.id)
    )
    community_name, area, geometry = (await session.execute(query)).one()
    properties = {
        "code": cell.code,
        "name": cell.name,
        "community_code": cell.community_code,
        "community_name": community_name,
        "area_m2": round(area, 1),
    }
    return feature(geometry, properties, cell.code)


async def cells_extent(session: AsyncSession) -> tuple[float, float, float, float] | None:
    """The lon/lat extent of every grid cell, or None when there are none."""
    row = (
        await session.execute(
            select(
                func.ST_XMin(func.ST_Extent(GridCell.boundary)),
                func.ST_YMin(func.ST_Extent(GridCell.boundary)),
                func.ST_XMax(func.ST_Extent(GridCell.boundary)),
                func.ST_YMax(func.ST_Extent(GridCell.boundary)),
            )
        )
    ).one()
    return None if row[0] is None else tuple(float(v) for v in row)
