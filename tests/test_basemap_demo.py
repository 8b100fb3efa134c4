"""The demo city's base map: named roads classed by the borders they follow, the river,
parks, places in every street and named compounds, loaded into the basemap schema."""

from __future__ import annotations

import math

import pytest
import shapely
from sqlalchemy import text

from demo.basemap import demo_basemap, load_demo_basemap
from demo.city import generate_demo_city
from demo.city_geometry import CENTER_LAT, CENTER_LON
from maps.basemap import GREEN_KINDS, MAJOR_ROAD_CLASSES, PLACE_KINDS, ROAD_CLASSES

SEED = 20261124


@pytest.fixture(scope="module")
def city():
    """The demo city as `gridgov demo` generates it."""
    return generate_demo_city(seed=SEED)


@pytest.fixture(scope="module")
def layers(city):
    """Its base-map layers."""
    return demo_basemap(city, SEED)


@pytest.fixture
def loaded(sync_engine, city):
    """The demo base map written into the basemap schema, rolled back afterwards."""
    with sync_engine.connect() as conn:
        outer = conn.begin()
        counts = load_demo_basemap(conn, city, SEED)
        yield conn, counts
        outer.rollback()


def _centre_tile(zoom: int) -> tuple[int, int, int]:
    """The z/x/y of the web-map tile holding the demo city's centre."""
    n = 2**zoom
    x = int((CENTER_LON + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(CENTER_LAT))) / math.pi) / 2 * n)
    return zoom, x, y


def test_a_z15_tile_over_the_centre_holds_named_roads_and_compounds(loaded):
    conn, _ = loaded
    z, x, y = _centre_tile(15)
    envelope = "ST_TileEnvelope(:z, :x, :y)"
    params = {"z": z, "x": x, "y": y}
    roads = (
        conn.execute(
            text(
                f"SELECT DISTINCT name FROM basemap.roads WHERE source = 'demo' AND name IS NOT NULL "
                f"AND ST_Intersects(geom_3857, {envelope})"
            ),
            params,
        )
        .scalars()
        .all()
    )
    compounds = (
        conn.execute(
            text(
                f"SELECT name FROM basemap.compounds WHERE source = 'demo' "
                f"AND ST_Intersects(geom_3857, {envelope})"
            ),
            params,
        )
        .scalars()
        .all()
    )
    assert len(roads) >= 2, roads
    assert all(name.endswith(("路", "街", "大道", "环路")) for name in roads)
    assert compounds and all(compounds)


def test_major_roads_exist_and_follow_district_borders(loaded, city):
    conn, counts = loaded
    assert counts["basemap.roads"] > 0
    majors = conn.execute(
        text(
            "SELECT class, count(*) FROM basemap.roads WHERE source = 'demo' "
            "AND class = ANY(:majors) GROUP BY class"
        ),
        {"majors": MAJOR_ROAD_CLASSES},
    ).all()
    assert {row[0] for row in majors} >= {"trunk", "primary"}
    # The border between the first two districts lies along trunk roads.
    districts = city.regions[city.regions["level"] == "district"].to_crs(32649)
    inner = shapely.intersection(*districts.geometry.boundary.iloc[:2])
    trunks = conn.execute(
        text(
            "SELECT ST_AsBinary(ST_Transform(ST_Union(geom), 32649)) FROM basemap.roads "
            "WHERE source = 'demo' AND class = 'trunk'"
        )
    ).scalar_one()
    along = shapely.intersection(inner, shapely.from_wkb(bytes(trunks)).buffer(5))
    assert along.length > 0.95 * inner.length


def test_road_classes_come_from_the_vocabulary_and_names_are_the_citys(layers, city):
    roads = layers["roads"]
    assert set(roads["class"]) <= set(ROAD_CLASSES)
    assert set(roads["name"]) <= set(city.roads["name"])
    assert {"secondary", "tertiary"} <= set(roads["class"])


def test_the_river_and_water_never_cover_a_building(layers, city):
    water = layers["water"]
    river = water[water["kind"] == "river"]
    assert list(river["name"]) == ["珠江"]
    assert river.to_crs(32649).area.iloc[0] > 1_000_000  # a real river, km² of it
    hit = city.buildings.sindex.query(water.geometry.to_numpy(), predicate="intersects")
    assert hit.size == 0


def test_parks_are_named_and_places_are_named_in_every_street(layers, city):
    green = layers["green"]
    assert set(green["kind"]) <= set(GREEN_KINDS)
    parks = green[green["kind"] == "park"]
    assert len(parks) > 0 and parks["name"].str.endswith("公园").all()
    places = layers["places"]
    assert set(places["kind"]) <= set(PLACE_KINDS)
    assert places["name"].notna().all() and places["name"].is_unique
    streets = city.regions.loc[city.regions["level"] == "street", "code"]
    for kind in ("school", "market", "police", "fire_station"):
        mine = places[places["kind"] == kind]
        assert set(mine["external_id"].str.split(":").str[2]) == set(streets), kind


def test_compounds_are_named_uniquely_and_stay_inside_their_block(layers, city):
    compounds = layers["compounds"]
    assert len(compounds) > 50
    assert compounds["name"].is_unique
    cells = city.cells.set_index("code").to_crs(32649).geometry
    metric = compounds.to_crs(32649)
    for external_id, geom in zip(metric["external_id"], metric.geometry, strict=True):
        assert cells[external_id.removeprefix("compound:")].contains(geom)


def test_the_same_city_gives_the_same_base_map(layers, city):
    again = demo_basemap(city, SEED)
    for table, frame in layers.items():
        assert list(frame["external_id"]) == list(again[table]["external_id"]), table
        assert all(
            shapely.equals_exact(frame.geometry.to_numpy(), again[table].geometry.to_numpy(), 0)
        ), table


def test_loading_again_replaces_the_demo_rows(loaded, city):
    conn, counts = loaded
    again = load_demo_basemap(conn, city, SEED)
    assert again == counts
    total = conn.execute(text("SELECT count(*) FROM basemap.compounds WHERE source = 'demo'"))
    assert total.scalar_one() == counts["basemap.compounds"]
