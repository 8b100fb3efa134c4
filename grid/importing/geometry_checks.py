"""Vectorised geometry checks for imports: reject what cannot be used, repair the rest."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

POLYGONAL = {"Polygon", "MultiPolygon"}
OUTSIDE_CITY = "outside the city's regions (check the declared CRS)"
_CITY_AREA = text("SELECT ST_AsBinary(ST_Union(boundary)) FROM regions WHERE parent_id IS NULL")


def polygonal_part(geometry: BaseGeometry) -> BaseGeometry | None:
    """The polygons of a geometry (make_valid may return a collection), or None."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in POLYGONAL]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def check_polygons(geoms: np.ndarray) -> tuple[np.ndarray, dict[int, str], dict[int, str]]:
    """Return (usable geometries, {index: rejection reason}, {index: repair note}).

    Null, empty and non-polygonal geometries are rejected; invalid polygons are repaired
    with make_valid when polygons remain, else rejected."""
    geoms = np.asarray(geoms, dtype=object).copy()
    rejected: dict[int, str] = {}
    repaired: dict[int, str] = {}
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        rejected[int(i)] = "geometry is null"
    present = ~missing
    empty = present & shapely.is_empty(geoms)
    for i in np.flatnonzero(empty):
        rejected[int(i)] = "geometry is empty"
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (3, 6))  # Polygon, MultiPolygon
    wrong = present & ~empty & ~polygonal
    for i in np.flatnonzero(wrong):
        rejected[int(i)] = f"geometry is a {geoms[i].geom_type}, expected a polygon"
    candidates = present & ~empty & polygonal
    invalid = candidates & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = polygonal_part(shapely.make_valid(geoms[i]))
        if fixed is None or fixed.is_empty:
            rejected[int(i)] = f"invalid geometry that cannot be repaired ({reason})"
        else:
            geoms[i] = fixed
            repaired[int(i)] = f"repaired with make_valid ({reason})"
    for i in rejected:
        geoms[i] = None
    return geoms, rejected, repaired


def outside_lonlat_range(geoms: np.ndarray) -> np.ndarray:
    """Mask of geometries whose bounds leave -180..180 / -90..90 (wrong CRS declared)."""
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        return (
            (bounds[:, 0] < -180)
            | (bounds[:, 2] > 180)
            | (bounds[:, 1] < -90)
            | (bounds[:, 3] > 90)
        )


def outside_city(conn: Connection, geoms: np.ndarray) -> np.ndarray:
    """Mask of geometries outside the lon/lat range or touching no top-level region
    (usually a wrongly declared CRS); with no regions yet, the range test alone."""
    outside = outside_lonlat_range(geoms)
    area_wkb = conn.execute(_CITY_AREA).scalar()
    if area_wkb is not None:
        area = shapely.from_wkb(bytes(area_wkb))
        shapely.prepare(area)
        outside |= ~shapely.intersects(area, geoms)
    return outside
