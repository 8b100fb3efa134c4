"""Mapbox vector tiles of the public layers: grid cells, building footprints and incidents
at their public (coarsened) place, cut by PostGIS (`ST_AsMVT`).

Every query filters and encodes the stored EPSG:3857 columns (migration 0009), so the
GiST index answers the envelope test and no row is transformed per request. Only public
fields are selected: never a description, reporter, assignee or exact pin.

Incidents shown: every report except rejected and duplicate ones, closed ones only for
`RECENTLY_CLOSED_DAYS` after closing (the public map tells what is open and what was
handled lately, not the whole archive).
"""

from __future__ import annotations

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.errors import InvalidInput, NotFound

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
# Below these zooms a layer is served as counts on a grid, not one feature per row.
INCIDENT_DETAIL_ZOOM = 13
BUILDING_DETAIL_ZOOM = 13
# Aggregation grid: this many cells across a tile (256 px tiles: one per 16 px).
CLUSTERS_PER_TILE = 16
RECENTLY_CLOSED_DAYS = 30
WORLD_WIDTH_M = 2 * 20037508.342789244

LAYERS = ("cells", "buildings", "incidents")

_CELLS = text("""
    SELECT ST_AsMVT(t, 'cells', :extent, 'geom') FROM (
        SELECT c.code, c.name, r.code AS community_code,
               ST_AsMVTGeom(c.boundary_3857, ST_TileEnvelope(:z, :x, :y), :extent,
                            :buffer) AS geom
        FROM grid_cells c JOIN regions r ON r.id = c.community_id
        WHERE c.boundary_3857 && ST_TileEnvelope(:z, :x, :y, margin => :margin)
          AND c.active_from IS NOT NULL AND c.active_to IS NULL
    ) t WHERE geom IS NOT NULL
""")

_BUILDINGS = text("""
    SELECT ST_AsMVT(t, 'buildings', :extent, 'geom') FROM (
        SELECT b.id, b.address, b.use, b.floors,
               ST_AsMVTGeom(b.footprint_3857, ST_TileEnvelope(:z, :x, :y), :extent,
                            :buffer) AS geom
        FROM buildings b
        WHERE b.footprint_3857 && ST_TileEnvelope(:z, :x, :y, margin => :margin)
    ) t WHERE geom IS NOT NULL
""")

# Counted at the centre of the footprint's grid square; a footprint crossing a tile edge
# is counted in the tile holding its centre (&& alone would count it twice).
_BUILDING_COUNTS = text("""
    SELECT ST_AsMVT(t, 'buildings', :extent, 'geom') FROM (
        SELECT count(*)::int AS count,
               ST_AsMVTGeom(ST_SnapToGrid(ST_Centroid(b.footprint_3857), :half, :half,
                                          :size, :size),
                            ST_TileEnvelope(:z, :x, :y), :extent, 0) AS geom
        FROM buildings b
        WHERE b.footprint_3857 && ST_TileEnvelope(:z, :x, :y)
          AND ST_Intersects(ST_Centroid(b.footprint_3857), ST_TileEnvelope(:z, :x, :y))
        GROUP BY ST_SnapToGrid(ST_Centroid(b.footprint_3857), :half, :half, :size, :size)
    ) t WHERE geom IS NOT NULL
""")

_INCIDENTS = text("""
    SELECT ST_AsMVT(t, 'incidents', :extent, 'geom') FROM (
        SELECT i.tracking_number, i.category_code AS category, i.status,
               to_char(i.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS created,
               ST_AsMVTGeom(i.public_point_3857, ST_TileEnvelope(:z, :x, :y), :extent,
                            :buffer) AS geom
        FROM incidents i
        WHERE i.public_point_3857 && ST_TileEnvelope(:z, :x, :y, margin => :margin)
          AND i.status NOT IN ('rejected', 'duplicate')
          AND (i.closed_at IS NULL OR i.closed_at > now() - make_interval(days => :recent_days))
    ) t WHERE geom IS NOT NULL
""")

# The grid is offset by half a square so every cluster sits inside the tile it counts.
_INCIDENT_COUNTS = text("""
    SELECT ST_AsMVT(t, 'incidents', :extent, 'geom') FROM (
        SELECT count(*)::int AS count,
               mode() WITHIN GROUP (ORDER BY i.status) AS status,
               ST_AsMVTGeom(ST_SnapToGrid(i.public_point_3857, :half, :half, :size, :size),
                            ST_TileEnvelope(:z, :x, :y), :extent, 0) AS geom
        FROM incidents i
        WHERE i.public_point_3857 && ST_TileEnvelope(:z, :x, :y)
          AND i.status NOT IN ('rejected', 'duplicate')
          AND (i.closed_at IS NULL OR i.closed_at > now() - make_interval(days => :recent_days))
        GROUP BY ST_SnapToGrid(i.public_point_3857, :half, :half, :size, :size)
    ) t WHERE geom IS NOT NULL
""")


def validate_tile(z: int, x: int, y: int) -> None:
    """Refuse a tile address outside the pyramid, naming the bad parameter."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(
            f"z must be between 0 and {MAX_ZOOM}",
            f"缩放级别 z 应在 0 到 {MAX_ZOOM} 之间",
            field="z",
        )
    limit = 2**z - 1
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value <= limit:
            raise InvalidInput(
                f"{name} must be between 0 and {limit} at zoom {z}",
                f"{name} 在缩放级别 {z} 下应在 0 到 {limit} 之间",
                field=name,
            )


def _query(layer: str, z: int) -> tuple[TextClause, bool]:
    """The layer's query at this zoom, and whether it aggregates."""
    if layer == "cells":
        return _CELLS, False
    if layer == "buildings":
        return (_BUILDINGS, False) if z >= BUILDING_DETAIL_ZOOM else (_BUILDING_COUNTS, True)
    if layer == "incidents":
        return (_INCIDENTS, False) if z >= INCIDENT_DETAIL_ZOOM else (_INCIDENT_COUNTS, True)
    raise NotFound(f"No tile layer {layer}", f"没有名为 {layer} 的图层")


async def tile(session: AsyncSession, layer: str, z: int, x: int, y: int) -> bytes:
    """One vector tile of a public layer (empty bytes when nothing is in it)."""
    query, aggregated = _query(layer, z)
    validate_tile(z, x, y)
    # Points of a neighbour tile within the buffer are drawn too, so symbols are not cut.
    params: dict[str, float | int] = {
        "z": z,
        "x": x,
        "y": y,
        "extent": EXTENT,
        "buffer": BUFFER,
        "margin": BUFFER / EXTENT,
    }
    if layer == "incidents":
        params["recent_days"] = RECENTLY_CLOSED_DAYS
    if aggregated:
        size = WORLD_WIDTH_M / 2**z / CLUSTERS_PER_TILE
        params |= {"size": size, "half": size / 2}
    data = (await session.execute(query, params)).scalar()
    return bytes(data or b"")
