"""WGS84 / GCJ-02 / BD-09 conversion for locations from Chinese map SDKs.

Amap, Tencent and WeChat return GCJ-02 ("Mars coordinates"), Baidu returns BD-09;
gridgov stores WGS84 (EPSG:4326). GCJ-02 is WGS84 plus a published, deliberately
non-linear offset (Krasovsky 1940 ellipsoid, the transform_lat/transform_lon
polynomials); BD-09 is GCJ-02 plus a small rotation, scaling and shift.

Only the forward directions (WGS84 -> GCJ-02 -> BD-09) are defined by those
formulas. The inverses here are precise: they start from the usual one-step
approximation (off by up to ~7 m for GCJ-02 and ~0.2 m for BD-09) and refine it by
fixed-point iteration on the forward transform until the forward image of the answer
is within 1e-9 degrees (sub-millimetre) of the input; the result is then within 1e-10
degrees (about 10 micrometres) of the true inverse.

Outside mainland China, taken as the usual rough bounding box lon 72.004..137.8347,
lat 0.8293..55.8271, neither offset is applied (GCJ-02 is only imposed inside China,
and the common implementations skip BD-09 there too), so such points pass through
every conversion unchanged. The box is tested on the coordinates being converted, so
a point within ~1 km of its edge can land on the other side of it; no one reporting a
hazard to a Chinese city is there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt

from core.errors import InvalidInput


class CoordSystem(StrEnum):
    """The coordinate system a client declares for a lon/lat pair."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 transform.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# Angular factor of the BD-09 rotation and scaling.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_LON_SHIFT = 0.0065
_BD_LAT_SHIFT = 0.006

CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

# The inverses stop once the forward image is this close to the input (degrees).
INVERSE_TOLERANCE_DEG = 1e-9
# Each iteration shrinks the error ~100-fold; 3-4 are needed in practice.
_MAX_INVERSE_ITERATIONS = 20

FloatArray = npt.NDArray[np.float64]
_Transform = Callable[..., tuple[FloatArray, FloatArray]]
_ScalarTransform = Callable[[float, float], tuple[float, float]]

# The transforms are written once against numpy's names (`xp.sin`, ...); given this
# namespace instead they run on plain floats through `math`, some 20 times faster than
# numpy on one point (a report is one point). Same operations in the same order, so the
# two agree to a few ulps.
_SCALAR_MATH = SimpleNamespace(
    pi=math.pi,
    sin=math.sin,
    cos=math.cos,
    sqrt=math.sqrt,
    abs=abs,
    hypot=math.hypot,
    arctan2=math.atan2,
)


def in_china_bbox(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether points lie in the rough mainland-China box where the offsets apply."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (
        (lon >= CHINA_MIN_LON)
        & (lon <= CHINA_MAX_LON)
        & (lat >= CHINA_MIN_LAT)
        & (lat <= CHINA_MAX_LAT)
    )


def _gcj02_offset(lon: FloatArray, lat: FloatArray, xp=np) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 shift (dlon, dlat) in degrees at a WGS84 point, ignoring the box."""
    x = lon - 105.0
    y = lat - 35.0
    # Both polynomials share the short-period longitude ripple.
    ripple = (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    root_x = xp.sqrt(xp.abs(x))
    shift_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root_x
        + ripple
        + (20.0 * xp.sin(y * xp.pi) + 40.0 * xp.sin(y / 3.0 * xp.pi)) * 2.0 / 3.0
        + (160.0 * xp.sin(y / 12.0 * xp.pi) + 320.0 * xp.sin(y * xp.pi / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    shift_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root_x
        + ripple
        + (20.0 * xp.sin(x * xp.pi) + 40.0 * xp.sin(x / 3.0 * xp.pi)) * 2.0 / 3.0
        + (150.0 * xp.sin(x / 12.0 * xp.pi) + 300.0 * xp.sin(x / 30.0 * xp.pi)) * 2.0 / 3.0
    )  # fmt: skip
    # The shifts are in metres; divide by the Krasovsky radii of curvature for degrees.
    rad_lat = lat / 180.0 * xp.pi
    sin_lat = xp.sin(rad_lat)
    magic = 1.0 - _KRASOVSKY_EE * sin_lat * sin_lat
    sqrt_magic = xp.sqrt(magic)
    dlat = (shift_lat * 180.0) / (
        (_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * xp.pi
    )
    dlon = (shift_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * xp.cos(rad_lat) * xp.pi)
    return dlon, dlat


def _wgs84_to_gcj02_unboxed(
    lon: FloatArray, lat: FloatArray, xp=np
) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj02_offset(lon, lat, xp)
    return lon + dlon, lat + dlat


def _gcj02_to_bd09_unboxed(
    lon: FloatArray, lat: FloatArray, xp=np
) -> tuple[FloatArray, FloatArray]:
    z = xp.hypot(lon, lat) + 0.00002 * xp.sin(lat * _BD_X_PI)
    theta = xp.arctan2(lat, lon) + 0.000003 * xp.cos(lon * _BD_X_PI)
    return z * xp.cos(theta) + _BD_LON_SHIFT, z * xp.sin(theta) + _BD_LAT_SHIFT


def _bd09_to_gcj02_one_step(
    lon: FloatArray, lat: FloatArray, xp=np
) -> tuple[FloatArray, FloatArray]:
    """The published closed-form BD-09 inverse; off by up to ~2e-6 degrees."""
    x = lon - _BD_LON_SHIFT
    y = lat - _BD_LAT_SHIFT
    z = xp.hypot(x, y) - 0.00002 * xp.sin(y * _BD_X_PI)
    theta = xp.arctan2(y, x) - 0.000003 * xp.cos(x * _BD_X_PI)
    return z * xp.cos(theta), z * xp.sin(theta)


def _invert(
    forward: _Transform,
    target_lon: FloatArray,
    target_lat: FloatArray,
    guess_lon: FloatArray,
    guess_lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Refine a guess until forward(guess) is within INVERSE_TOLERANCE_DEG of the target.

    Both forward transforms are the identity plus a slowly varying offset, so the
    fixed-point step guess -= forward(guess) - target shrinks the error ~100-fold per
    step. Newton would gain nothing and misbehaves near lon 105, where the GCJ-02
    polynomials have a sqrt(|lon - 105|) cusp.
    """
    guess_lon, guess_lat = guess_lon.copy(), guess_lat.copy()
    # Each point stops once its own residual is small, so its result does not depend on
    # the other points converted with it (a vectorised call equals the scalar ones).
    active = np.ones(guess_lon.shape, dtype=bool)
    for _ in range(_MAX_INVERSE_ITERATIONS):
        image_lon, image_lat = forward(guess_lon[active], guess_lat[active])
        err_lon = image_lon - target_lon[active]
        err_lat = image_lat - target_lat[active]
        guess_lon[active] -= err_lon
        guess_lat[active] -= err_lat
        # Written so that a NaN residual counts as done rather than spinning to the cap.
        active[active] = (np.abs(err_lon) >= INVERSE_TOLERANCE_DEG) | (
            np.abs(err_lat) >= INVERSE_TOLERANCE_DEG
        )
        if not active.any():
            break
    return guess_lon, guess_lat


def _gcj02_to_wgs84_unboxed(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # First guess: subtract the offset taken at the GCJ-02 point (the crude inverse).
    dlon, dlat = _gcj02_offset(lon, lat)
    return _invert(_wgs84_to_gcj02_unboxed, lon, lat, lon - dlon, lat - dlat)


def _bd09_to_gcj02_unboxed(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    guess_lon, guess_lat = _bd09_to_gcj02_one_step(lon, lat)
    return _invert(_gcj02_to_bd09_unboxed, lon, lat, guess_lon, guess_lat)


def _in_china_only(
    convert: _Transform, lon: FloatArray, lat: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Apply `convert` to the points in the China box; pass the others through."""
    inside = in_china_bbox(lon, lat)
    out_lon, out_lat = lon.copy(), lat.copy()
    if inside.any():
        out_lon[inside], out_lat[inside] = convert(lon[inside], lat[inside])
    return out_lon, out_lat


def _as_arrays(lons: npt.ArrayLike, lats: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    if lon.shape != lat.shape:
        raise ValueError(f"lons and lats differ in shape: {lon.shape} vs {lat.shape}")
    return lon, lat


# --- one point: the same transforms on plain floats ------------------------------------


def _invert_one(
    forward: _Transform, target_lon: float, target_lat: float, lon: float, lat: float
) -> tuple[float, float]:
    """_invert for one point: the same steps and the same stopping rule."""
    for _ in range(_MAX_INVERSE_ITERATIONS):
        image_lon, image_lat = forward(lon, lat, _SCALAR_MATH)
        err_lon, err_lat = image_lon - target_lon, image_lat - target_lat
        lon, lat = lon - err_lon, lat - err_lat
        if not (abs(err_lon) >= INVERSE_TOLERANCE_DEG or abs(err_lat) >= INVERSE_TOLERANCE_DEG):
            break
    return lon, lat


def _wgs84_to_gcj02_one(lon: float, lat: float) -> tuple[float, float]:
    return _wgs84_to_gcj02_unboxed(lon, lat, _SCALAR_MATH)


def _gcj02_to_wgs84_one(lon: float, lat: float) -> tuple[float, float]:
    dlon, dlat = _gcj02_offset(lon, lat, _SCALAR_MATH)
    return _invert_one(_wgs84_to_gcj02_unboxed, lon, lat, lon - dlon, lat - dlat)


def _gcj02_to_bd09_one(lon: float, lat: float) -> tuple[float, float]:
    return _gcj02_to_bd09_unboxed(lon, lat, _SCALAR_MATH)


def _bd09_to_gcj02_one(lon: float, lat: float) -> tuple[float, float]:
    guess_lon, guess_lat = _bd09_to_gcj02_one_step(lon, lat, _SCALAR_MATH)
    return _invert_one(_gcj02_to_bd09_unboxed, lon, lat, guess_lon, guess_lat)


def _in_china_box(lon: float, lat: float) -> bool:
    """in_china_bbox for one point."""
    return CHINA_MIN_LON <= lon <= CHINA_MAX_LON and CHINA_MIN_LAT <= lat <= CHINA_MAX_LAT


def _scalar(convert: _ScalarTransform, lon: float, lat: float) -> tuple[float, float]:
    """Apply `convert` to a point in the China box; pass any other point through."""
    lon, lat = float(lon), float(lat)
    return convert(lon, lat) if _in_china_box(lon, lat) else (lon, lat)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 -> GCJ-02 by the published transform; unchanged outside the China box."""
    return _scalar(_wgs84_to_gcj02_one, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS84, iterated to sub-millimetre precision; unchanged outside the box."""
    return _scalar(_gcj02_to_wgs84_one, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 by the published transform; unchanged outside the China box."""
    return _scalar(_gcj02_to_bd09_one, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> GCJ-02, iterated to sub-millimetre precision; unchanged outside the box."""
    return _scalar(_bd09_to_gcj02_one, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 -> BD-09, through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> WGS84, through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84_array(
    lons: npt.ArrayLike, lats: npt.ArrayLike, system: CoordSystem | str
) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of lon/lat in `system` to WGS84 arrays of the same shape."""
    lon, lat = _as_arrays(lons, lats)
    system = CoordSystem(system)
    if system is CoordSystem.BD09:
        lon, lat = _in_china_only(_bd09_to_gcj02_unboxed, lon, lat)
        system = CoordSystem.GCJ02
    if system is CoordSystem.GCJ02:
        lon, lat = _in_china_only(_gcj02_to_wgs84_unboxed, lon, lat)
    return lon, lat


def to_wgs84(lon: float, lat: float, system: CoordSystem | str) -> tuple[float, float]:
    """Convert one lon/lat in `system` to WGS84 (plain floats, no numpy: see _SCALAR_MATH)."""
    system = CoordSystem(system)
    if system is CoordSystem.WGS84:
        return float(lon), float(lat)
    if system is CoordSystem.BD09:
        return bd09_to_wgs84(lon, lat)
    return gcj02_to_wgs84(lon, lat)


def _parse_system(system: object) -> CoordSystem:
    # Accept the spellings clients send: "GCJ-02", "bd09", "WGS84".
    text = str(system).strip().lower().replace("-", "")
    try:
        return CoordSystem(text)
    except ValueError:
        allowed = ", ".join(s.value for s in CoordSystem)
        raise InvalidInput(
            f"coord_system must be one of {allowed}",
            f"坐标系必须是以下之一：{allowed}",
            field="coord_system",
        ) from None


def _parse_number(value: object, field: str, name_zh: str) -> float:
    if isinstance(value, bool):  # bool is an int subclass; True is not a longitude
        number = math.nan
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(
            f"{field} must be a finite number", f"{name_zh}必须是有限的数值", field=field
        )
    return number


def parse_location(lon: object, lat: object, system: object) -> tuple[float, float]:
    """Validate a client's lon/lat in `system`; return them as floats (still in `system`).

    Raises InvalidInput naming the field ("lon", "lat", "coord_system"); convert the
    result with to_wgs84.
    """
    coord_system = _parse_system(system)
    lon_value = _parse_number(lon, "lon", "经度")
    lat_value = _parse_number(lat, "lat", "纬度")
    if not -90.0 <= lat_value <= 90.0:
        if -90.0 <= lon_value <= 90.0 and -180.0 <= lat_value <= 180.0:
            raise _swapped()
        raise InvalidInput("lat must lie within -90..90", "纬度必须在 -90 到 90 之间", field="lat")
    if not -180.0 <= lon_value <= 180.0:
        raise InvalidInput(
            "lon must lie within -180..180", "经度必须在 -180 到 180 之间", field="lon"
        )
    # GCJ-02 and BD-09 only exist in China: a pair that is inside only when swapped was
    # almost certainly sent as lat,lon.
    if (
        coord_system is not CoordSystem.WGS84
        and not _in_china_box(lon_value, lat_value)
        and _in_china_box(lat_value, lon_value)
    ):
        raise _swapped()
    return lon_value, lat_value


def _swapped() -> InvalidInput:
    return InvalidInput(
        "lon and lat look swapped: send longitude as lon and latitude as lat",
        "经纬度疑似颠倒：lon 应为经度，lat 应为纬度",
        field="lat",
    )
