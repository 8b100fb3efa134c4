"""Base-map tiles: one tile with every layer and its names, generalised by zoom (major
roads only and smaller at low zoom), 204 when empty, ETag and 304, addresses validated."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from maps import basemap_tiles
from tests.factories import ORIGIN, TEST_CRS, make_building, make_world

HALF_WORLD = 20037508.342789244

# Drawn in metres from the test world's origin (its cells cover x 0..1500, y 0..500).
ROADS = [
    ("primary", "中山大道", "LINESTRING(-3000 250, 4500 250)"),
    ("secondary", "先烈路", "LINESTRING(750 -3000, 750 3500)"),
    ("residential", "翠竹街", "LINESTRING(0 400, 1500 400)"),
    ("residential", "东风路2巷", "LINESTRING(1250 -200, 1250 700)"),  # a digit: server glyphs
    ("service", None, "LINESTRING(100 100, 300 120)"),
]
AREAS = {
    "compounds": [
        ("翠竹小区", None, "POLYGON((100 50, 450 50, 450 220, 100 220, 100 50))"),
        ("小亭", None, "POLYGON((600 60, 606 60, 606 66, 600 66, 600 60))"),
    ],
    "water": [
        ("珠江", "river", "POLYGON((-3000 -900, 4500 -900, 4500 -500, -3000 -500, -3000 -900))")
    ],
    "green": [("烈士陵园", "park", "POLYGON((1100 50, 1400 50, 1400 200, 1100 200, 1100 50))")],
}
PLACES = [("school", "翠竹小学", "POINT(300 300)"), ("market", "东山市场", "POINT(1200 300)")]


def _geom(wkt: str, multi: bool) -> str:
    return (
        f"ST_Multi(ST_Transform(ST_Translate(ST_GeomFromText('{wkt}', {TEST_CRS}), "
        f":ox, :oy), 4326))"
        if multi
        else f"ST_Transform(ST_Translate(ST_GeomFromText('{wkt}', {TEST_CRS}), :ox, :oy), 4326)"
    )


async def load_basemap(db) -> None:
    """The base-map rows of the test city (a test's own fixture data: literals only)."""
    origin = {"ox": ORIGIN[0], "oy": ORIGIN[1]}
    for n, (road_class, name, wkt) in enumerate(ROADS):
        await db.execute(
            text(
                "INSERT INTO basemap.roads (source, external_id, class, name, geom) "
                f"VALUES ('file', :id, :class, :name, {_geom(wkt, True)})"
            ),
            {"id": f"r{n}", "class": road_class, "name": name, **origin},
        )
    for table, rows in AREAS.items():
        kind = "" if table == "compounds" else "kind, "
        for n, (name, value, wkt) in enumerate(rows):
            await db.execute(
                text(
                    f"INSERT INTO basemap.{table} (source, external_id, {kind}name, geom) "
                    f"VALUES ('file', :id, {':kind, ' if kind else ''}:name, {_geom(wkt, True)})"
                ),
                {"id": f"{table}{n}", "kind": value, "name": name, **origin},
            )
    for n, (kind, name, wkt) in enumerate(PLACES):
        await db.execute(
            text(
                "INSERT INTO basemap.places (source, external_id, kind, name, geom) "
                f"VALUES ('file', :id, :kind, :name, {_geom(wkt, False)})"
            ),
            {"id": f"p{n}", "kind": kind, "name": name, **origin},
        )


@pytest.fixture
async def city(db):
    world = await make_world(db)
    await make_building(db, world.cell_a1, (150, 100, 200, 150), address="翠竹街1号")
    await load_basemap(db)
    return world


async def centre_tile(db, z: int) -> tuple[int, int]:
    """The tile at zoom z holding the test city's middle (x 375 m, y 150 m)."""
    row = (
        await db.execute(
            text(
                f"SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_Point(:x, :y), {TEST_CRS}),"
                " 3857) p"
            ),
            {"x": ORIGIN[0] + 375, "y": ORIGIN[1] + 150},
        )
    ).one()
    width = 2 * HALF_WORLD / 2**z
    return math.floor((row[0] + HALF_WORLD) / width), math.floor((HALF_WORLD - row[1]) / width)


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


def props(tile: dict, layer: str) -> list[dict]:
    return [f["properties"] for f in tile.get(layer, {}).get("features", [])]


async def test_a_z15_tile_holds_every_layer_with_names(client, db, city):
    x, y = await centre_tile(db, 15)
    response = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    tile = decode(response.content)
    roads = {(p["class"], p.get("name")) for p in props(tile, "roads")}
    assert {("primary", "中山大道"), ("secondary", "先烈路"), ("residential", "翠竹街")} <= roads
    assert ("service", None) in roads
    assert "翠竹小区" in {p["name"] for p in props(tile, "compounds")}
    assert {"kind": "school", "name": "翠竹小学"} in props(tile, "places")
    assert {"address": "翠竹街1号"} in props(tile, "buildings")
    assert {(p["code"], p["name"]) for p in props(tile, "cells")} >= {
        (city.cell_a1.code, city.cell_a1.name)
    }
    regions = {(p["name"], p["level"]) for p in props(tile, "regions")}
    assert ("甲社区", "community") in regions
    assert tile["roads"]["features"][0]["geometry"]["type"] in ("LineString", "MultiLineString")


async def test_a_z10_tile_holds_only_major_roads_and_is_smaller(client, db, city):
    x15, y15 = await centre_tile(db, 15)
    x10, y10 = await centre_tile(db, 10)
    detailed = (await client.get(f"/tiles/basemap/15/{x15}/{y15}.mvt")).content
    response = await client.get(f"/tiles/basemap/10/{x10}/{y10}.mvt")
    assert response.status_code == 200
    tile = decode(response.content)
    assert {p["class"] for p in props(tile, "roads")} == {"primary"}
    assert {p.get("name") for p in props(tile, "roads")} == {"中山大道"}
    # No compounds, places, buildings or cells at zoom 10; regions by the upper levels.
    assert not {"compounds", "places", "buildings", "cells"} & set(tile)
    assert {p["level"] for p in props(tile, "regions")} <= {"city", "district"}
    assert len(response.content) < len(detailed)


async def test_small_areas_are_dropped_below_full_detail(client, db, city):
    x, y = await centre_tile(db, 13)
    names = {
        p["name"]
        for p in props(
            decode((await client.get(f"/tiles/basemap/13/{x}/{y}.mvt")).content), "compounds"
        )
    }
    assert "翠竹小区" in names and "小亭" not in names  # 36 m² is under 4 px² at z13
    x, y = await centre_tile(db, 16)
    names = {
        p["name"]
        for p in props(
            decode((await client.get(f"/tiles/basemap/16/{x}/{y}.mvt")).content), "compounds"
        )
    }
    assert "小亭" in names


async def test_places_are_shown_by_kind_from_zoom_13(client, db, city):
    x, y = await centre_tile(db, 13)
    tile = decode((await client.get(f"/tiles/basemap/13/{x}/{y}.mvt")).content)
    assert {p["kind"] for p in props(tile, "places")} == {"school"}  # not the market yet
    x, y = await centre_tile(db, 12)
    tile = decode((await client.get(f"/tiles/basemap/12/{x}/{y}.mvt")).content)
    assert "places" not in tile


async def test_an_empty_tile_is_204_and_a_bad_address_names_the_field(client, db, city):
    x, y = await centre_tile(db, 15)
    far = await client.get(f"/tiles/basemap/15/{(x + 300) % 2**15}/{y}.mvt")
    assert far.status_code == 204 and far.content == b""
    assert far.headers["cache-control"] == "public, max-age=3600"
    bad = await client.get("/tiles/basemap/3/8/0.mvt")
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["x"]
    too_deep = await client.get("/tiles/basemap/23/0/0.mvt")
    assert too_deep.status_code == 422
    assert [f["field"] for f in too_deep.json()["error"]["fields"]] == ["z"]


async def test_etag_and_304(client, db, city):
    x, y = await centre_tile(db, 15)
    first = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt")
    etag = first.headers["etag"]
    again = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    await db.execute(text("UPDATE basemap.roads SET name = '中山一路' WHERE name = '中山大道'"))
    changed = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_the_cache_serves_one_cut_to_repeated_requests(app, client, db, city):
    from maps.tile_cache import TileCache

    app.state.tile_cache = cache = TileCache()
    x, y = await centre_tile(db, 15)
    a = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt")
    b = await client.get(f"/tiles/basemap/15/{x}/{y}.mvt")
    assert a.content == b.content and (cache.misses, cache.hits) == (1, 1)


def test_generalisation_by_zoom():
    assert basemap_tiles.road_classes(10) == ["motorway", "trunk", "primary"]
    assert "tertiary" in basemap_tiles.road_classes(12)
    assert "path" in basemap_tiles.road_classes(14)
    coarse, fine = basemap_tiles.Generalisation.at(10), basemap_tiles.Generalisation.at(15)
    assert coarse.tolerance > 0 and coarse.min_area > 0
    assert (fine.tolerance, fine.min_area) == (0.0, 0.0)
