"""CRS policy: store in EPSG:4326, measure on the spheroid or in a projected CRS."""

from __future__ import annotations

from functools import lru_cache

from pyproj import CRS, Transformer

STORAGE_SRID = 4326
WEB_MERCATOR_SRID = 3857


def utm_epsg_for(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing a point, for metric work."""
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=64)
def transformer(src: int | str, dst: int | str) -> Transformer:
    """A cached transformer that always takes and returns x=lon/easting, y=lat/northing."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)
