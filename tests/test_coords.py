"""WGS84 / GCJ-02 / BD-09 conversion agrees with published pairs, inverts precisely,
leaves points outside China alone, and rejects bad locations naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import InvalidInput
from gis.coords import (
    CoordSystem,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_location,
    to_wgs84,
    to_wgs84_array,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# Published pairs are printed to 15-17 digits by the same formulas; allow for the
# order of floating-point operations, nothing more (1e-9 degrees is 0.1 mm).
EXACT = 1e-9

# (wgs84 lon, lat), (gcj02 lon, lat)
WGS84_GCJ02_PAIRS = {
    # googollee/eviltransform, python/test.py and go/transform_test.go (given there as lat, lng).
    "shanghai": ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    "shenzhen": ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    "beijing": ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915), Tiananmen.
    "tiananmen": ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    # lyttonlee/lnglat-converter, README.md: wgs84togcj02(106, 32), northern Sichuan.
    "sichuan": ((106.0, 32.0), (106.0038603381513, 31.997775713491148)),
}

# (gcj02 lon, lat), (bd09 lon, lat), tolerance: the digits the source printed.
GCJ02_BD09_PAIRS = {
    # wandergis/coordtransform, test/app.js: gcj02tobd09(116.404, 39.915).
    "beijing": ((116.404, 39.915), (116.41036949371029, 39.92133699351021), EXACT),
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.js: GCJ02 [123, 45] to BD09, Jilin;
    # printed to 8 decimals.
    "jilin": ((123.0, 45.0), (123.00636499, 45.00636899), 1e-8),
    # hujiulong/gcoord, test/fixtures/china-cities.json: city centres taken from the
    # map services and printed to 7 decimals, so an independent check of the formula.
    "shenyang": ((123.4314787, 41.8057023), (123.438095, 41.8114013), 1e-7),
    "quanzhou": ((118.6756787, 24.8741363), (118.6821251, 24.8804872), 1e-7),
    "zhumadian": ((114.022306, 33.0115324), (114.0287781, 33.0176697), 1e-7),
}

# Places well outside the mainland-China box, where nothing is shifted.
OUTSIDE_CHINA = {
    "tokyo": (139.6917, 35.6895),
    "london": (-0.1276, 51.5072),
    "sydney": (151.2093, -33.8688),
    "null island": (0.0, 0.0),
}


def _close(actual: tuple[float, float], expected: tuple[float, float], tolerance: float) -> bool:
    return abs(actual[0] - expected[0]) <= tolerance and abs(actual[1] - expected[1]) <= tolerance


def _china_sample() -> tuple[np.ndarray, np.ndarray]:
    """Points spread over the China box, plus some on the lon-105 cusp of the polynomials."""
    rng = np.random.default_rng(20240601)
    lons = rng.uniform(72.1, 137.8, 5000)
    lats = rng.uniform(0.9, 55.8, 5000)
    lons[:50] = 105.0
    lons[50:100] = 105.0 + rng.uniform(-1e-9, 1e-9, 50)
    return lons, lats


# --- published pairs ----------------------------------------------------------------


@pytest.mark.parametrize(("wgs", "gcj"), WGS84_GCJ02_PAIRS.values(), ids=WGS84_GCJ02_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj):
    assert _close(wgs84_to_gcj02(*wgs), gcj, EXACT)


@pytest.mark.parametrize(("wgs", "gcj"), WGS84_GCJ02_PAIRS.values(), ids=WGS84_GCJ02_PAIRS)
def test_gcj02_to_wgs84_recovers_the_published_wgs84(wgs, gcj):
    assert _close(gcj02_to_wgs84(*gcj), wgs, EXACT)


@pytest.mark.parametrize(
    ("gcj", "bd", "tolerance"), GCJ02_BD09_PAIRS.values(), ids=GCJ02_BD09_PAIRS
)
def test_gcj02_to_bd09_matches_published_pairs(gcj, bd, tolerance):
    assert _close(gcj02_to_bd09(*gcj), bd, tolerance)


@pytest.mark.parametrize(
    ("gcj", "bd", "tolerance"), GCJ02_BD09_PAIRS.values(), ids=GCJ02_BD09_PAIRS
)
def test_bd09_to_gcj02_recovers_the_published_gcj02(gcj, bd, tolerance):
    assert _close(bd09_to_gcj02(*bd), gcj, tolerance)


def test_wgs84_to_bd09_matches_a_published_pair():
    # lyttonlee/lnglat-converter, README.md: wgs84tobd09(106, 32).
    assert _close(wgs84_to_bd09(106.0, 32.0), (106.01040868983318, 32.00356002052303), EXACT)


def test_gcj02_inverse_is_precise_where_the_one_step_inverse_is_not():
    # wandergis/coordtransform, test/app.js: its one-step gcj02towgs84(116.404, 39.915).
    one_step = (116.39775550083061, 39.91359571849836)
    ours = gcj02_to_wgs84(116.404, 39.915)
    assert _close(ours, one_step, 1e-5)  # the same answer to within a metre or two...
    assert not _close(wgs84_to_gcj02(*one_step), (116.404, 39.915), 1e-7)
    assert _close(wgs84_to_gcj02(*ours), (116.404, 39.915), EXACT)  # ...but ours maps back


def test_bd09_inverse_is_precise_where_the_one_step_inverse_is_not():
    # wandergis/coordtransform, test/app.js: its one-step bd09togcj02(116.404, 39.915).
    one_step = (116.39762729119315, 39.90865673957631)
    ours = bd09_to_gcj02(116.404, 39.915)
    assert _close(ours, one_step, 2.5e-6)
    assert not _close(gcj02_to_bd09(*one_step), (116.404, 39.915), 1e-7)
    assert _close(gcj02_to_bd09(*ours), (116.404, 39.915), EXACT)


# --- round trips and vectorisation ----------------------------------------------------


def test_wgs84_gcj02_round_trip_is_sub_millimetre_across_china():
    lons, lats = _china_sample()
    gcj = [wgs84_to_gcj02(lon, lat) for lon, lat in zip(lons, lats, strict=True)]
    back_lons, back_lats = to_wgs84_array([g[0] for g in gcj], [g[1] for g in gcj], "gcj02")
    assert np.abs(back_lons - lons).max() < 1e-9
    assert np.abs(back_lats - lats).max() < 1e-9


def test_wgs84_bd09_round_trip_is_sub_millimetre_across_china():
    lons, lats = _china_sample()
    bd = [wgs84_to_bd09(lon, lat) for lon, lat in zip(lons, lats, strict=True)]
    back_lons, back_lats = to_wgs84_array([b[0] for b in bd], [b[1] for b in bd], "bd09")
    assert np.abs(back_lons - lons).max() < 1e-9
    assert np.abs(back_lats - lats).max() < 1e-9


@pytest.mark.parametrize("wgs", [pair[0] for pair in WGS84_GCJ02_PAIRS.values()])
def test_scalar_round_trips(wgs):
    assert _close(gcj02_to_wgs84(*wgs84_to_gcj02(*wgs)), wgs, 1e-9)
    assert _close(bd09_to_wgs84(*wgs84_to_bd09(*wgs)), wgs, 1e-9)
    gcj = wgs84_to_gcj02(*wgs)
    assert _close(bd09_to_gcj02(*gcj02_to_bd09(*gcj)), gcj, 1e-9)


@pytest.mark.parametrize("system", list(CoordSystem))
def test_vectorised_conversion_equals_the_scalar_one(system):
    lons, lats = _china_sample()
    lons, lats = lons[:200].copy(), lats[:200].copy()
    lons[-1], lats[-1] = OUTSIDE_CHINA["tokyo"]
    array_lons, array_lats = to_wgs84_array(lons, lats, system)
    for i in range(len(lons)):
        # Each point iterates independently; allow only a few ulps of SIMD rounding.
        assert _close(to_wgs84(lons[i], lats[i], system), (array_lons[i], array_lats[i]), 1e-13)


def test_vectorised_conversion_keeps_the_input_shape():
    lons = np.array([[116.404, 121.53], [113.91, 139.69]])
    lats = np.array([[39.915, 31.17], [22.54, 35.69]])
    out_lons, out_lats = to_wgs84_array(lons, lats, CoordSystem.BD09)
    assert out_lons.shape == out_lats.shape == (2, 2)
    assert _close((out_lons[0, 0], out_lats[0, 0]), bd09_to_wgs84(116.404, 39.915), 1e-13)


def test_vectorised_conversion_refuses_mismatched_arrays():
    with pytest.raises(ValueError, match="shape"):
        to_wgs84_array([116.4, 121.5], [39.9], "gcj02")


def test_wgs84_is_returned_unchanged():
    assert to_wgs84(116.404, 39.915, CoordSystem.WGS84) == (116.404, 39.915)


# --- outside China ---------------------------------------------------------------------


@pytest.mark.parametrize("point", OUTSIDE_CHINA.values(), ids=OUTSIDE_CHINA)
@pytest.mark.parametrize(
    "convert",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_points_outside_china_are_not_shifted(point, convert):
    assert convert(*point) == point


def test_vectorised_conversion_shifts_only_the_points_in_china():
    lons = [OUTSIDE_CHINA["london"][0], 116.41024449916938, OUTSIDE_CHINA["sydney"][0]]
    lats = [OUTSIDE_CHINA["london"][1], 39.91640428150164, OUTSIDE_CHINA["sydney"][1]]
    out_lons, out_lats = to_wgs84_array(lons, lats, "gcj02")
    assert (out_lons[0], out_lats[0]) == OUTSIDE_CHINA["london"]
    assert (out_lons[2], out_lats[2]) == OUTSIDE_CHINA["sydney"]
    assert _close((out_lons[1], out_lats[1]), (116.404, 39.915), EXACT)


# --- validation ------------------------------------------------------------------------


def test_parse_location_returns_the_pair_as_floats_in_the_declared_system():
    lon, lat = parse_location("116.41024449916938", 39, CoordSystem.GCJ02)
    assert (lon, lat) == (116.41024449916938, 39.0)
    assert type(lon) is float and type(lat) is float


@pytest.mark.parametrize("spelling", ["bd09", "BD09", "BD-09", " bd09 ", CoordSystem.BD09])
def test_parse_location_accepts_common_spellings_of_the_system(spelling):
    assert parse_location(116.404, 39.915, spelling) == (116.404, 39.915)


def _rejection(lon, lat, system) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_location(lon, lat, system)
    error = caught.value
    # Both languages carry a specific message, not the class default.
    assert error.message("en") != InvalidInput.message_en
    assert error.message("zh-Hans") != InvalidInput.message_zh
    return error


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [
        (math.nan, 39.9, "lon"),
        (116.4, math.nan, "lat"),
        (math.inf, 39.9, "lon"),
        (116.4, -math.inf, "lat"),
        ("east", 39.9, "lon"),
        (None, 39.9, "lon"),
        (True, 39.9, "lon"),
    ],
)
def test_parse_location_rejects_values_that_are_not_finite_numbers(lon, lat, field):
    error = _rejection(lon, lat, "wgs84")
    assert error.field == field
    assert "finite" in error.message("en")


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [(180.5, 39.9, "lon"), (-200.0, 39.9, "lon"), (116.4, -90.5, "lat"), (200.0, 95.0, "lat")],
)
def test_parse_location_rejects_out_of_range_values(lon, lat, field):
    error = _rejection(lon, lat, "wgs84")
    assert error.field == field
    assert "within" in error.message("en")


@pytest.mark.parametrize("system", list(CoordSystem))
def test_parse_location_spots_a_latitude_sent_as_longitude(system):
    # Tiananmen sent as lat,lon: the "latitude" 116.4 cannot be one.
    error = _rejection(39.915, 116.404, system)
    assert error.field == "lat"
    assert "lon and lat look swapped" in error.message("en")
    assert "颠倒" in error.message("zh-Hans")


@pytest.mark.parametrize("system", [CoordSystem.GCJ02, CoordSystem.BD09])
def test_parse_location_spots_a_swapped_pair_that_is_only_in_china_when_swapped(system):
    # Kashgar (lon 75.99, lat 39.47) sent as lat,lon: both values are in range, but a
    # GCJ-02/BD-09 point can only be in China, and only the swapped pair is.
    error = _rejection(39.47, 75.99, system)
    assert error.field == "lat"
    assert "lon and lat look swapped" in error.message("en")


def test_parse_location_leaves_the_same_pair_alone_when_it_is_wgs84():
    # WGS84 is worldwide: lon 39.47, lat 75.99 is a real place in the Barents Sea.
    assert parse_location(39.47, 75.99, "wgs84") == (39.47, 75.99)


@pytest.mark.parametrize("system", ["utm", "", "epsg:4326", None])
def test_parse_location_rejects_unknown_coordinate_systems(system):
    error = _rejection(116.404, 39.915, system)
    assert error.field == "coord_system"
    assert "wgs84, gcj02, bd09" in error.message("en")
