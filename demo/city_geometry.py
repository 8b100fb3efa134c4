"""The demo city's frame: it is built in metres (UTM 49N) around its centre, then
projected to lon/lat (EPSG:4326) and stored as MultiPolygons like the register's."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis.crs import STORAGE_SRID, transformer

CENTER_LON, CENTER_LAT = 113.30, 23.12
WORK_EPSG = 32649  # UTM zone 49N: metric work around the centre
CRS_LONLAT = f"EPSG:{STORAGE_SRID}"
HALF_WIDTH, HALF_HEIGHT = 6000.0, 4500.0  # the city is about 12 km x 9 km


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Project metre geometries to lon/lat vertex by vertex (shared vertices stay shared)."""
    project = transformer(WORK_EPSG, STORAGE_SRID)

    def lonlat(xy: np.ndarray) -> np.ndarray:
        lon, lat = project.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, lonlat)


def multi(geom: Polygon | MultiPolygon) -> MultiPolygon:
    """Wrap a Polygon as a MultiPolygon, as the register stores them."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """`multi` over an array of geometries, vectorised."""
    out = np.array(geoms, dtype=object)
    single = shapely.get_type_id(out) == shapely.GeometryType.POLYGON
    out[single] = shapely.multipolygons(out[single], indices=np.arange(int(single.sum())))
    return out
