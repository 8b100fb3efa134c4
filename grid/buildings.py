"""Building queries: footprints inside a bbox, as bounded GeoJSON pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gis.geometry import BBox
from grid.geojson_rows import as_geojson, feature, intersects_bbox
from grid.models import Building, GridCell


async def building_page(
    session: AsyncSession, bbox: BBox, limit: int, after: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` buildings intersecting the bbox, ordered by id, and the next cursor."""
    query = (
        select(
            Building.id,
            Building.address,
            Building.use,
            Building.floors,
            GridCell.code,
            as_geojson(Building.footprint),
        )
        .outerjoin(GridCell, GridCell.id == Building.cell_id)
        .where(intersects_bbox(Building.footprint, bbox))
        .order_by(Building.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(Building.id > after)
    rows = (await session.execute(query)).all()
    features = [
        feature(
            geom,
            {"id": bid, "address": address, "use": use, "floors": floors, "cell_code": cell_code},
            bid,
        )
        for bid, address, use, floors, cell_code, geom in rows[:limit]
    ]
    next_cursor = rows[limit - 1][0] if len(rows) > limit else None
    return features, next_cursor
