"""Mapbox vector tiles of the public layers: grid cells, building footprints and incidents
at their public (coarsened) place, cut by PostGIS (`ST_AsMVT`).

Every query filters and encodes the stored EPSG:3857 columns (migration 0009), so the
GiST index answers the envelope test and no row is transformed per request. Only public
fields are selected: never a description, reporter, assignee or exact pin.

Incidents shown: every report except rejected and duplicate ones, closed ones through the
China day of closing and the `RECENTLY_CLOSED_DAYS` days after it (the public map tells
what is open and what was handled lately, not the whole archive). Below
`INCIDENT_DETAIL_ZOOM` a tile is counts per sixteenth of the tile, summed from
`incident_tile_bins` (kept by triggers, migration 0013) rather than counted row by row:
at a million reports a zoom-14 tile of a city holds thousands of them, more than a
256-pixel tile can show one by one and more than can be cut in a few milliseconds.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from grid.sql_fragments import cell_in_force
from incidents.publication.public_sql import is_hazard

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
# Below these zooms a layer is served as counts on a grid, not one feature per row.
INCIDENT_DETAIL_ZOOM = 15
BUILDING_DETAIL_ZOOM = 13
# Aggregation grid: this many cells across a tile (256 px tiles: one per 16 px).
CLUSTERS_PER_TILE = 16
CLUSTER_ZOOMS = 4  # log2(CLUSTERS_PER_TILE): a cluster is a tile four zooms down
RECENTLY_CLOSED_DAYS = 30
# The zooms of the tiles incident_tile_bins counts by (migration 0013).
BIN_ZOOMS = (16, 17, 18)
WORLD_WIDTH_M = 2 * 20037508.342789244

LAYERS = ("cells", "buildings", "incidents", "assets")
# City assets (部件) are points by the thousand: drawn from this zoom on, none below.
ASSET_MIN_ZOOM = 15

# The tile and its buffered envelope, computed once per query (not once per row).
_TILE = """
    tile AS MATERIALIZED (
        SELECT ST_TileEnvelope(:z, :x, :y)::box2d AS bounds,
               ST_TileEnvelope(:z, :x, :y, margin => :margin) AS wide
    )
"""

# The first moment (China time) whose closed reports are still shown.
SHOWN_CLOSED_SINCE_SQL = """
    (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
     - make_interval(days => :recent_days)) AT TIME ZONE 'Asia/Shanghai'
"""

_CELLS = text(f"""
    WITH {_TILE}
    SELECT ST_AsMVT(t, 'cells', :extent, 'geom') FROM (
        SELECT c.code, c.name, r.code AS community_code,
               ST_AsMVTGeom(c.boundary_3857, tile.bounds, :extent, :buffer) AS geom
        FROM tile, grid_cells c JOIN regions r ON r.id = c.community_id
        WHERE c.boundary_3857 && tile.wide
          AND {cell_in_force("c")}
    ) t WHERE geom IS NOT NULL
""")

_BUILDINGS = text(f"""
    WITH {_TILE}
    SELECT ST_AsMVT(t, 'buildings', :extent, 'geom') FROM (
        SELECT b.id, b.address, b.use, b.floors,
               ST_AsMVTGeom(b.footprint_3857, tile.bounds, :extent, :buffer) AS geom
        FROM tile, buildings b
        WHERE b.footprint_3857 && tile.wide
    ) t WHERE geom IS NOT NULL
""")

# City assets: public objects; only their code, kind and status go into a tile.
_ASSETS = text(f"""
    WITH {_TILE}
    SELECT ST_AsMVT(t, 'assets', :extent, 'geom') FROM (
        SELECT a.code, a.kind, a.status,
               ST_AsMVTGeom(a.location_3857, tile.bounds, :extent, :buffer) AS geom
        FROM tile, city_assets a
        WHERE a.location_3857 && tile.wide AND a.status <> 'removed'
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

# Open and recently closed incidents apart, each answered by its own partial GiST index
# (0013), so closed reports of long ago are never visited.
_INCIDENT_FIELDS = """
    i.tracking_number, i.category_code AS category, i.status,
    to_char(i.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS created,
    ST_AsMVTGeom(i.public_point_3857, tile.bounds, :extent, :buffer) AS geom
"""

_INCIDENTS = text(f"""
    WITH {_TILE}
    SELECT ST_AsMVT(t, 'incidents', :extent, 'geom') FROM (
        SELECT {_INCIDENT_FIELDS}
        FROM tile, incidents i
        WHERE i.public_point_3857 && tile.wide
          AND i.closed_at IS NULL AND {is_hazard()}
        UNION ALL
        SELECT {_INCIDENT_FIELDS}
        FROM tile, incidents i
        WHERE i.public_point_3857 && tile.wide
          AND i.closed_at >= {SHOWN_CLOSED_SINCE_SQL}
          AND {is_hazard()}
    ) t WHERE geom IS NOT NULL
""")

# Sums the bins inside the tile (one range of Morton codes) for the days still shown:
# open ones ('infinity') and each day since the cut-off, one index range per day; a
# closing day after today (a clock set ahead) is read too, by the second branch. Each
# cluster is a tile CLUSTER_ZOOMS zooms down, drawn at its centre in tile units, with the
# most frequent status (ties: the first by name).
_INCIDENT_COUNTS = text("""
    WITH today AS MATERIALIZED (
        SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS day
    ), shown AS (
        SELECT b.x, b.y, b.status, b.incidents
        FROM incident_tile_bins b
        WHERE b.zoom = :bin_zoom AND b.quadkey >= :first AND b.quadkey < :last
          AND b.closed_on = ANY (ARRAY(
              SELECT generate_series(day - CAST(:recent_days AS integer), day,
                                     interval '1 day')::date
              FROM today) || 'infinity'::date)
        UNION ALL
        SELECT b.x, b.y, b.status, b.incidents
        FROM incident_tile_bins b
        WHERE b.zoom = :bin_zoom AND b.quadkey >= :first AND b.quadkey < :last
          AND b.closed_on > (SELECT day FROM today) AND b.closed_on < 'infinity'::date
    ), per_status AS (
        SELECT x >> :shift AS cx, y >> :shift AS cy, status, sum(incidents) AS n
        FROM shown GROUP BY 1, 2, 3
    )
    SELECT ST_AsMVT(t, 'incidents', :extent, 'geom') FROM (
        SELECT sum(n)::int AS count,
               (array_agg(status ORDER BY n DESC, status))[1] AS status,
               ST_Point((cx - :cx0 + 0.5) * :cluster_units,
                        (cy - :cy0 + 0.5) * :cluster_units) AS geom
        FROM per_status GROUP BY cx, cy
    ) t
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


def morton(x: int, y: int) -> int:
    """The Morton (Z-order) code of a tile: x's bits in the even places, y's in the odd
    ones (the SQL function tile_morton, migration 0013)."""
    code = 0
    for bit in range(max(x.bit_length(), y.bit_length())):
        code |= ((x >> bit) & 1) << (2 * bit) | ((y >> bit) & 1) << (2 * bit + 1)
    return code


def _bin_params(z: int, x: int, y: int) -> dict[str, int]:
    """The range of bins inside tile (z, x, y) and how they fold into its clusters: the
    bins of the clusters' own zoom, else the coarsest bins folded further."""
    bin_zoom = min(max(z + CLUSTER_ZOOMS, BIN_ZOOMS[0]), BIN_ZOOMS[-1])
    depth = bin_zoom - z  # bins per tile side: 2**depth
    first = morton(x, y) << (2 * depth)
    return {
        "bin_zoom": bin_zoom,
        "first": first,
        "last": first + (1 << (2 * depth)),
        "shift": depth - CLUSTER_ZOOMS,
        "cx0": x * CLUSTERS_PER_TILE,
        "cy0": y * CLUSTERS_PER_TILE,
        "cluster_units": EXTENT // CLUSTERS_PER_TILE,
    }


def _query(layer: str, z: int) -> tuple[TextClause, bool]:
    """The layer's query at this zoom, and whether it aggregates."""
    if layer == "cells":
        return _CELLS, False
    if layer == "buildings":
        return (_BUILDINGS, False) if z >= BUILDING_DETAIL_ZOOM else (_BUILDING_COUNTS, True)
    if layer == "incidents":
        return (_INCIDENTS, False) if z >= INCIDENT_DETAIL_ZOOM else (_INCIDENT_COUNTS, True)
    if layer == "assets":
        return _ASSETS, False
    raise NotFound(f"No tile layer {layer}", f"没有名为 {layer} 的图层")


def tile_params(z: int, x: int, y: int) -> dict[str, float | int]:
    """What every tile query binds: the address, the MVT extent and the buffer (points of
    a neighbour tile within the buffer are drawn too, so symbols are not cut)."""
    return {"z": z, "x": x, "y": y, "extent": EXTENT, "buffer": BUFFER, "margin": BUFFER / EXTENT}


async def tile(session: AsyncSession, layer: str, z: int, x: int, y: int) -> bytes:
    """One vector tile of a public layer (empty bytes when nothing is in it)."""
    query, aggregated = _query(layer, z)
    validate_tile(z, x, y)
    if layer == "assets" and z < ASSET_MIN_ZOOM:
        return b""
    params = tile_params(z, x, y)
    if layer == "incidents":
        params["recent_days"] = RECENTLY_CLOSED_DAYS
        if aggregated:
            params |= _bin_params(z, x, y)
    elif aggregated:
        size = WORLD_WIDTH_M / 2**z / CLUSTERS_PER_TILE
        params |= {"size": size, "half": size / 2}
    data = (await session.execute(query, params)).scalar()
    return bytes(data or b"")
