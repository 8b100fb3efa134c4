"""Geometry helpers shared by the register and the API: bbox parsing and validation."""

from __future__ import annotations

import math
from dataclasses import dataclass


class BBoxError(ValueError):
    """A bbox string that cannot be used; the message says why."""


@dataclass(frozen=True)
class BBox:
    """A lon/lat bounding box in EPSG:4326."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """Parse 'minLon,minLat,maxLon,maxLat' (RFC 7946 / OGC order) and check its ranges."""
        parts = text.split(",")
        if len(parts) != 4:
            raise BBoxError("expected four comma-separated numbers: minLon,minLat,maxLon,maxLat")
        try:
            min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
        except ValueError as exc:
            raise BBoxError("every bbox value must be a number") from exc
        if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
            raise BBoxError("bbox values must be finite numbers")
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            raise BBoxError("longitudes must lie within -180..180")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise BBoxError("latitudes must lie within -90..90")
        if min_lon >= max_lon or min_lat >= max_lat:
            raise BBoxError("min values must be smaller than max values")
        return cls(min_lon, min_lat, max_lon, max_lat)

    def as_tuple(self) -> tuple[float, float, float, float]:
        """The four numbers in minLon, minLat, maxLon, maxLat order."""
        return (self.min_lon, self.min_lat, self.max_lon, self.max_lat)


# Metres in a degree of latitude at the equator, where it is shortest on WGS84; a degree
# of longitude is at least that times cos(lat). The margin covers the spread of latitudes
# inside a box.
_MIN_METRES_PER_DEGREE = 110_574.0 / 1.05


def degrees_around(lat: float, metres: float) -> float:
    """Half-width in degrees of a lon/lat box holding every point within `metres` of a
    point at `lat` (for an index-friendly `&& ST_Expand(point, degrees)` prefilter);
    longitude degrees shrink with latitude, capped near the poles."""
    return metres / (_MIN_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
