"""The base map as one vector tile per address: roads, water, green, compounds, places,
buildings, grid cells and regions, each a layer with its names, generalised by zoom.

One statement cuts every layer (each `ST_AsMVT` is a layer; their bytes concatenated are
one tile). Every layer but regions filters and encodes its stored EPSG:3857 copy, so the
GiST index answers the envelope test and no row is transformed; regions have no such
copy, so the tile's envelope is transformed to 4326 for the index test instead, and only
the few regions found are clipped (in 4326: meridians and parallels are straight lines in
Web Mercator, so the clip is exact) and then transformed.

Generalisation, so a low-zoom tile stays small and quick: only the major road classes at
low zoom; lines and areas simplified to about half a pixel; areas under a few square
pixels dropped; places, buildings and cells only once zoomed in; regions by level.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from grid.sql_fragments import cell_in_force
from maps.basemap import MAJOR_ROAD_CLASSES, ROAD_CLASSES
from maps.tiles import WORLD_WIDTH_M, tile_params, validate_tile

LAYERS = ("water", "green", "compounds", "roads", "buildings", "cells", "regions", "places")
MIN_ZOOM = 8
SECONDARY_ROAD_ZOOM = 12  # + secondary, tertiary
ALL_ROADS_ZOOM = 14  # + residential, service, path
COMPOUND_ZOOM = 12
CELL_ZOOM = 13  # a z12 tile of a city holds thousands of cells: too many to draw
MAJOR_PLACE_ZOOM = 13  # hospitals, fire stations, schools, transit
PLACE_ZOOM = 14  # every place
BUILDING_ZOOM = 15
FULL_DETAIL_ZOOM = 15  # nothing simplified or dropped from here on
MAJOR_PLACE_KINDS = ["hospital", "fire_station", "school", "transit", "government"]
# An area smaller than this many square pixels (256-px tiles) is not drawn.
MIN_AREA_PX = 4.0


def road_classes(z: int) -> list[str]:
    """The road classes a tile at zoom z holds."""
    if z >= ALL_ROADS_ZOOM:
        return list(ROAD_CLASSES)
    if z >= SECONDARY_ROAD_ZOOM:
        return [*MAJOR_ROAD_CLASSES, "secondary", "tertiary"]
    return list(MAJOR_ROAD_CLASSES)


def region_levels(z: int) -> list[str]:
    """The region levels whose borders and names a tile at zoom z holds."""
    if z >= 13:
        return ["district", "street", "community"]
    if z >= 11:
        return ["district", "street"]
    return ["city", "district"]


@dataclass(frozen=True)
class Generalisation:
    """What a zoom keeps: simplification tolerance and smallest area, in metres."""

    tolerance: float
    min_area: float

    @classmethod
    def at(cls, z: int) -> Generalisation:
        """The generalisation of zoom z (none from FULL_DETAIL_ZOOM on)."""
        if z >= FULL_DETAIL_ZOOM:
            return cls(0.0, 0.0)
        pixel = WORLD_WIDTH_M / 2**z / 256
        return cls(pixel / 2, MIN_AREA_PX * pixel * pixel)


def _layer(name: str, select: str) -> str:
    return (
        f"(SELECT coalesce(ST_AsMVT(t, '{name}', :extent, 'geom'), ''::bytea)"
        f" FROM ({select}) t WHERE geom IS NOT NULL)"
    )


def _mvt_geom(column: str, simplify: str = "ST_SimplifyPreserveTopology") -> str:
    # Simplified only below full detail: the tolerance is 0 there and the call skipped.
    return (
        f"ST_AsMVTGeom(CASE WHEN :tolerance > 0 THEN {simplify}({column}, :tolerance)"
        f" ELSE {column} END, tile.bounds, :extent, :buffer)"
    )


def _areas(table: str, fields: str, min_zoom: int = 0) -> str:
    return f"""
        SELECT {fields}, {_mvt_geom("a.geom_3857")} AS geom
        FROM tile, basemap.{table} a
        WHERE :z >= {min_zoom} AND a.geom_3857 && tile.wide
          AND (:min_area = 0 OR ST_Area(a.geom_3857) >= :min_area)
    """


_ROADS = """
    SELECT r.class, r.name,
           ST_AsMVTGeom(CASE WHEN :tolerance > 0 THEN ST_Simplify(r.geom_3857, :tolerance, true)
                        ELSE r.geom_3857 END, tile.bounds, :extent, :buffer) AS geom
    FROM tile, basemap.roads r
    WHERE r.geom_3857 && tile.wide AND r.class = ANY(CAST(:road_classes AS text[]))
"""

_PLACES = f"""
    SELECT p.kind, p.name, ST_AsMVTGeom(p.geom_3857, tile.bounds, :extent, :buffer) AS geom
    FROM tile, basemap.places p
    WHERE p.geom_3857 && tile.wide
      AND (:z >= {PLACE_ZOOM}
           OR (:z >= {MAJOR_PLACE_ZOOM} AND p.kind = ANY(CAST(:major_places AS text[]))))
"""

_BUILDINGS = f"""
    SELECT b.address, ST_AsMVTGeom(b.footprint_3857, tile.bounds, :extent, :buffer) AS geom
    FROM tile, buildings b
    WHERE :z >= {BUILDING_ZOOM} AND b.footprint_3857 && tile.wide
"""

# Not simplified: a cell has few vertices, and simplifying hundreds of them per tile cost
# more than the rest of the cell layer (bench/tiles_bench.py).
_CELLS = f"""
    SELECT c.code, c.name,
           ST_AsMVTGeom(c.boundary_3857, tile.bounds, :extent, :buffer) AS geom
    FROM tile, grid_cells c
    WHERE :z >= {CELL_ZOOM} AND c.boundary_3857 && tile.wide
      AND {cell_in_force("c")}
"""

# The envelope in 4326 answers the index; only the regions found are clipped and moved.
_REGIONS = f"""
    SELECT g.code, g.name, g.level,
           {_mvt_geom("ST_Transform(ST_ClipByBox2D(g.boundary, tile.wide_4326), 3857)")} AS geom
    FROM tile, regions g
    WHERE g.boundary && tile.wide_4326 AND g.level = ANY(CAST(:region_levels AS text[]))
"""

_TILE = text(f"""
    WITH tile AS MATERIALIZED (
        SELECT ST_TileEnvelope(:z, :x, :y)::box2d AS bounds,
               ST_TileEnvelope(:z, :x, :y, margin => :margin) AS wide,
               ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS wide_4326
    )
    SELECT {_layer("water", _areas("water", "a.kind, a.name"))}
        || {_layer("green", _areas("green", "a.kind, a.name"))}
        || {_layer("compounds", _areas("compounds", "a.name", COMPOUND_ZOOM))}
        || {_layer("roads", _ROADS)}
        || {_layer("buildings", _BUILDINGS)}
        || {_layer("cells", _CELLS)}
        || {_layer("regions", _REGIONS)}
        || {_layer("places", _PLACES)}
""")


async def basemap_tile(session: AsyncSession, z: int, x: int, y: int) -> bytes:
    """One base-map tile (empty bytes when nothing is in it, or below MIN_ZOOM)."""
    validate_tile(z, x, y)
    if z < MIN_ZOOM:
        return b""
    general = Generalisation.at(z)
    params = {
        **tile_params(z, x, y),
        "tolerance": general.tolerance,
        "min_area": general.min_area,
        "road_classes": road_classes(z),
        "major_places": MAJOR_PLACE_KINDS,
        "region_levels": region_levels(z),
    }
    data = (await session.execute(_TILE, params)).scalar()
    return bytes(data or b"")
