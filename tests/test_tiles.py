"""Vector tiles: cells, buildings and incidents at their public place, counts at low zoom,
no personal data, tile addresses validated, cache headers and revalidation."""

from __future__ import annotations

import math
from datetime import date

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from tests.factories import assign, make_building, make_user, make_world, metres_point

HALF_WORLD = 20037508.342789244
EXTENT = 4096
NAME, PHONE, DESCRIPTION = "林举报", "13912345678", "三楼楼道堆满纸箱"


def _tile_of(mx: float, my: float, z: int) -> tuple[int, int]:
    width = 2 * HALF_WORLD / 2**z
    return math.floor((mx + HALF_WORLD) / width), math.floor((HALF_WORLD - my) / width)


def _in_tile_units(mx: float, my: float, z: int, x: int, y: int) -> tuple[float, float]:
    width = 2 * HALF_WORLD / 2**z
    left, top = -HALF_WORLD + x * width, HALF_WORLD - y * width
    return (mx - left) / width * EXTENT, (top - my) / width * EXTENT


async def _mercator(db, sql: str, **params) -> tuple[float, float]:
    row = (await db.execute(text(f"SELECT ST_X(p), ST_Y(p) FROM ({sql}) s(p)"), params)).one()
    return row[0], row[1]


def _decode(body: bytes) -> dict:
    # Tile coordinates as stored: y grows downwards from the tile's top edge.
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    worker = await make_user(
        db, "w-tiles", "grid_worker", world.community_a, "周网格", phone="13900000009"
    )
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    building = await make_building(db, world.cell_a1, (100, 100, 200, 200), address="测试路8号")
    return world, building


async def _report(client, category: str, x: float, y: float, **extra) -> str:
    lon, lat = metres_point(x, y)
    response = await client.post(
        "/reports",
        json={
            "category": category,
            "lon": lon,
            "lat": lat,
            "description": DESCRIPTION,
            "contact_name": NAME,
            "contact_phone": PHONE,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _tile(client, layer: str, z: int, x: int, y: int, **headers):
    return await client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)


async def test_a_cell_is_in_the_tile_covering_it_with_its_codes(client, db, scene):
    world, _building = scene
    mx, my = await _mercator(
        db,
        "SELECT ST_PointOnSurface(boundary_3857) FROM grid_cells WHERE id = :id",
        id=world.cell_a1.id,
    )
    x, y = _tile_of(mx, my, 15)
    response = await _tile(client, "cells", 15, x, y)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = _decode(response.content)["cells"]["features"]
    by_code = {f["properties"]["code"]: f["properties"] for f in features}
    assert by_code[world.cell_a1.code]["community_code"] == world.community_a.code
    assert by_code[world.cell_a1.code]["name"] == world.cell_a1.name
    far = await _tile(client, "cells", 15, (x + 100) % 2**15, y)
    assert far.status_code == 204 and far.content == b""


async def test_buildings_carry_address_use_floors_from_zoom_13(client, db, scene):
    _world, building = scene
    mx, my = await _mercator(
        db, "SELECT ST_PointOnSurface(footprint_3857) FROM buildings WHERE id = :id", id=building.id
    )
    x, y = _tile_of(mx, my, 16)
    features = _decode((await _tile(client, "buildings", 16, x, y)).content)["buildings"][
        "features"
    ]
    assert [f["properties"] for f in features] == [
        {"id": building.id, "address": "测试路8号", "use": "residential", "floors": 6}
    ]
    assert features[0]["geometry"]["type"] == "Polygon"
    x, y = _tile_of(mx, my, 11)
    counts = _decode((await _tile(client, "buildings", 11, x, y)).content)["buildings"]
    assert [f["properties"] for f in counts["features"]] == [{"count": 1}]


async def test_a_building_precision_incident_is_at_the_buildings_point_not_its_pin(
    client, db, scene
):
    _world, building = scene
    # Pinned in the building's corner; fire.ebike_indoor is shown to the building.
    number = await _report(client, "fire.ebike_indoor", 105, 195, building_id=building.id)
    shown = await _mercator(
        db,
        "SELECT ST_Transform(ST_PointOnSurface(footprint), 3857) FROM buildings WHERE id = :id",
        id=building.id,
    )
    pin = await _mercator(
        db,
        "SELECT ST_Transform(location, 3857) FROM incidents WHERE tracking_number = :t",
        t=number,
    )
    x, y = _tile_of(*shown, 16)
    features = _decode((await _tile(client, "incidents", 16, x, y)).content)["incidents"][
        "features"
    ]
    [feature] = [f for f in features if f["properties"]["tracking_number"] == number]
    got = feature["geometry"]["coordinates"]
    assert math.dist(got, _in_tile_units(*shown, 16, x, y)) <= 1
    assert math.dist(got, _in_tile_units(*pin, 16, x, y)) > 100  # pin is ~70 m away
    assert feature["properties"]["category"] == "fire.ebike_indoor"
    assert feature["properties"]["status"] == "assigned"
    assert set(feature["properties"]) == {"tracking_number", "category", "status", "created"}


async def test_a_cell_precision_incident_is_at_the_cells_point(client, db, scene):
    world, _building = scene
    number = await _report(client, "community.noise", 420, 60)
    shown = await _mercator(
        db,
        "SELECT ST_Transform(ST_PointOnSurface(boundary), 3857) FROM grid_cells WHERE id = :id",
        id=world.cell_a1.id,
    )
    x, y = _tile_of(*shown, 15)
    features = _decode((await _tile(client, "incidents", 15, x, y)).content)["incidents"][
        "features"
    ]
    [feature] = [f for f in features if f["properties"]["tracking_number"] == number]
    assert math.dist(feature["geometry"]["coordinates"], _in_tile_units(*shown, 15, x, y)) <= 1


async def test_the_public_point_follows_a_change_of_building(client, db, scene):
    world, building = scene
    number = await _report(client, "fire.ebike_indoor", 300, 300)
    other = await make_building(db, world.cell_a1, (300, 300, 340, 340))
    await db.execute(
        text("UPDATE incidents SET building_id = :b WHERE tracking_number = :t"),
        {"b": other.id, "t": number},
    )
    stored, expected = (
        await db.execute(
            text("""
        SELECT i.public_point_3857, ST_Transform(ST_PointOnSurface(b.footprint), 3857)
        FROM incidents i JOIN buildings b ON b.id = i.building_id
        WHERE i.tracking_number = :t"""),
            {"t": number},
        )
    ).one()
    assert stored == expected
    assert building.id != other.id


async def test_no_tile_carries_personal_data(client, db, scene):
    _world, building = scene
    await _report(client, "fire.ebike_indoor", 150, 150, building_id=building.id)
    await _report(client, "community.manhole", 160, 160)  # exact precision
    await _report(client, "community.noise", 180, 180)  # cell precision
    mx, my = await _mercator(
        db, "SELECT ST_PointOnSurface(footprint_3857) FROM buildings WHERE id = :id", id=building.id
    )
    secrets = [s.encode() for s in (NAME, PHONE, DESCRIPTION, "周网格", "13900000009", "w-tiles")]
    for layer in ("cells", "buildings", "incidents"):
        for z in (10, 12, 13, 15, 17):
            body = (await _tile(client, layer, z, *_tile_of(mx, my, z))).content
            assert body, (layer, z)
            assert not [s for s in secrets if s in body], (layer, z)


async def test_low_zoom_incidents_are_counts_with_the_dominant_status(client, db, scene):
    _world, building = scene
    for _ in range(3):
        await _report(client, "fire.ebike_indoor", 150, 150, building_id=building.id)
    rejected = await _report(client, "community.manhole", 260, 260)
    await db.execute(
        text("UPDATE incidents SET status = 'rejected' WHERE tracking_number = :t"), {"t": rejected}
    )
    mx, my = await _mercator(
        db, "SELECT ST_PointOnSurface(footprint_3857) FROM buildings WHERE id = :id", id=building.id
    )
    features = _decode((await _tile(client, "incidents", 10, *_tile_of(mx, my, 10))).content)[
        "incidents"
    ]["features"]
    assert [f["properties"] for f in features] == [{"count": 3, "status": "assigned"}]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("cells/23/0/0", "z"),
        ("cells/-1/0/0", "z"),
        ("cells/3/8/0", "x"),
        ("cells/3/0/8", "y"),
        ("cells/3/0/-1", "y"),
        ("cells/3/a/0", "x"),
    ],
)
async def test_a_tile_address_outside_the_pyramid_is_422_naming_the_parameter(client, path, field):
    response = await client.get(f"/tiles/{path}.mvt")
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


async def test_an_unknown_layer_is_404(client):
    response = await client.get("/tiles/people/14/0/0.mvt")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_tiles_carry_cache_headers_and_revalidate_with_their_etag(client, db, scene):
    world, _building = scene
    await _report(client, "fire.ebike_indoor", 150, 150)
    mx, my = await _mercator(
        db,
        "SELECT ST_PointOnSurface(boundary_3857) FROM grid_cells WHERE id = :id",
        id=world.cell_a1.id,
    )
    x, y = _tile_of(mx, my, 14)
    cells = await _tile(client, "cells", 14, x, y)
    incidents = await _tile(client, "incidents", 14, x, y)
    assert cells.headers["cache-control"] == "public, max-age=3600"
    assert incidents.headers["cache-control"] == "public, max-age=60"
    etag = cells.headers["etag"]
    again = await _tile(client, "cells", 14, x, y, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = await _tile(client, "cells", 14, x, y, **{"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == cells.content
