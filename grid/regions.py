"""Region queries: the administrative tree and one region with its boundary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from grid.geojson_rows import as_geojson, feature
from grid.models import GridCell, Region


async def region_tree(session: AsyncSession) -> list[dict[str, Any]]:
    """Every region as a nested tree (no geometry), with each community's cell count."""
    cell_counts = (
        select(GridCell.community_id, func.count().label("cells"))
        .where(GridCell.in_force())
        .group_by(GridCell.community_id)
        .subquery()
    )
    query = (
        select(
            Region.id,
            Region.parent_id,
            Region.code,
            Region.name,
            Region.level,
            func.coalesce(cell_counts.c.cells, 0),
        )
        .outerjoin(cell_counts, cell_counts.c.community_id == Region.id)
        .order_by(Region.code)
    )
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    rows = (await session.execute(query)).all()
    for rid, _parent, code, name, level, cells in rows:
        node = {"code": code, "name": name, "level": level, "children": []}
        if level == "community":
            node["cell_count"] = cells
        nodes[rid] = node
    for rid, parent_id, *_ in rows:
        parent = nodes.get(parent_id) if parent_id is not None else None
        (parent["children"] if parent else roots).append(nodes[rid])
    return roots


async def region_feature(session: AsyncSession, code: str) -> dict[str, Any] | None:
    """One region as a GeoJSON Feature, with its parent's code and area in m²."""
    parent = Region.__table__.alias("parent")
    query = (
        select(
            Region.code,
            Region.name,
            Region.level,
            parent.c.code,
            # Area on the spheroid, never in square degrees.
            func.ST_Area(func.Geography(Region.boundary)),
            as_geojson(Region.boundary),
        )
        .outerjoin(parent, parent.c.id == Region.parent_id)
        .where(Region.code == code)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    code_, name, level, parent_code, area, geometry = row
    properties = {
        "code": code_,
        "name": name,
        "level": level,
        "parent_code": parent_code,
        "area_m2": round(area, 1),
    }
    return feature(geometry, properties, code_)


async def region_path(session: AsyncSession, code: str) -> str | None:
    """The ancestry path of the region with this code, or None."""
    return (await session.execute(select(Region.path).where(Region.code == code))).scalar()
