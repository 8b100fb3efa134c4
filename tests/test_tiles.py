"""Vector tiles: cells, buildings and incidents at their public place, counts at low zoom,
no personal data, tile addresses validated, cache headers and revalidation."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import date

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from api.routes.tiles import CACHE_TTL
from maps import tiles as tiles_module
from maps.tile_cache import TileCache
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


# --- Pre-aggregated counts (incident_tile_bins, migration 0013) -------------------------

BIN_ZOOMS = (16, 17, 18)


def _morton(x: int, y: int) -> int:
    return sum(((x >> b) & 1) << (2 * b) | ((y >> b) & 1) << (2 * b + 1) for b in range(24))


async def _insert_incidents(db, rows: list[tuple[str, float, float, str, int | None]]) -> None:
    """(category, x m, y m, status, closed so many days ago or None) in ONE statement, so
    the statement trigger sees several rows at once."""
    points = [metres_point(x, y) for _c, x, y, _s, _d in rows]
    await db.execute(
        text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status,
            location, input_lon, input_lat, input_system, routing_rule, responsible_level,
            channel, closed_at)
        SELECT 'TB' || lpad(u.n::text, 8, '0') || floor(random() * 1e6)::text, 'h', u.c,
               u.s, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), u.lon, u.lat, 'wgs84',
               'outside', 'queue', 'web', now() - make_interval(days => u.d)
        FROM unnest(CAST(:n AS int[]), CAST(:c AS text[]), CAST(:s AS text[]),
                    CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:d AS int[]))
             AS u(n, c, s, lon, lat, d)
    """),
        {
            "n": list(range(len(rows))),
            "c": [r[0] for r in rows],
            "s": [r[3] for r in rows],
            "lon": [p[0] for p in points],
            "lat": [p[1] for p in points],
            "d": [r[4] for r in rows],
        },
    )


async def _direct_bins(db) -> Counter:
    """The bins as counted straight from the incidents, keys computed here in Python."""
    rows = await db.execute(
        text("""
        SELECT ST_X(public_point_3857), ST_Y(public_point_3857), status,
               (closed_at AT TIME ZONE 'Asia/Shanghai')::date
        FROM incidents WHERE status NOT IN ('rejected', 'duplicate')
    """)
    )
    size = 2 * HALF_WORLD / 2 ** BIN_ZOOMS[-1]
    counted: Counter = Counter()
    for mx, my, status, closed_on in rows:
        fx, fy = math.floor((mx + HALF_WORLD) / size), math.floor((HALF_WORLD - my) / size)
        for zoom in BIN_ZOOMS:
            x, y = fx >> (BIN_ZOOMS[-1] - zoom), fy >> (BIN_ZOOMS[-1] - zoom)
            counted[(zoom, closed_on, _morton(x, y), status, x, y)] += 1
    return counted


async def _kept_bins(db) -> Counter:
    rows = await db.execute(
        text("""
        SELECT zoom, CASE WHEN closed_on = 'infinity' THEN NULL ELSE closed_on END,
               quadkey, status, x, y, incidents
        FROM incident_tile_bins
    """)
    )
    kept: Counter = Counter()
    for *key, n in rows:
        assert n > 0, ("a bin kept at zero or below", key, n)
        kept[tuple(key)] = n
    return kept


async def _assert_bins_match(db) -> None:
    assert await _kept_bins(db) == await _direct_bins(db)


_SPREAD = [  # categories with exact, building and cell precision; 3 km across
    ("community.manhole", 100, 100, "assigned", None),
    ("community.manhole", 110, 120, "in_progress", None),
    ("community.manhole", 2900, 300, "submitted", None),
    ("community.road_damage", 1700, 2400, "resolved", None),
    ("fire.ebike_indoor", 450, 450, "assigned", None),
    ("community.noise", 300, 200, "accepted", None),
    ("community.garbage", 800, 100, "closed", 0),
    ("community.garbage", 820, 130, "closed", 3),
    ("community.garbage", 830, 140, "closed", 45),
    ("community.streetlight", 1200, 1200, "rejected", None),
    ("community.streetlight", 1250, 1200, "duplicate", None),
]


async def test_count_bins_equal_a_direct_count_through_every_kind_of_change(db, scene):
    await _insert_incidents(db, _SPREAD)
    await _assert_bins_match(db)
    at_16 = [n for key, n in (await _kept_bins(db)).items() if key[0] == 16]
    assert sum(at_16) == 9  # rejected and duplicate are not counted

    async def change(sql: str, **params) -> None:
        await db.execute(text(sql), params)
        await _assert_bins_match(db)

    await change("UPDATE incidents SET status = 'rejected' WHERE status = 'submitted'")
    await change("UPDATE incidents SET status = 'assigned' WHERE status = 'duplicate'")
    # One statement moving several rows between bins of status and closing day.
    await change(
        "UPDATE incidents SET status = 'closed', closed_at = now() "
        "WHERE status IN ('assigned', 'in_progress')"
    )
    await change(
        "UPDATE incidents SET status = 'reopened', closed_at = NULL "
        "WHERE closed_at < now() - interval '40 days'"
    )
    # A change of category moves the public point (exact pin -> cell's point).
    await change(
        "UPDATE incidents SET category_code = 'community.noise' "
        "WHERE category_code = 'community.road_damage'"
    )
    # A move of the pin 2 km east moves an exact-precision report to another bin.
    await change(
        "UPDATE incidents SET location = ST_Translate(location, 0.02, 0) "
        "WHERE category_code = 'community.manhole'"
    )
    # Updates that touch no counted field leave the bins alone.
    before = await _kept_bins(db)
    await change("UPDATE incidents SET updated_at = now(), escalation_level = 1")
    assert await _kept_bins(db) == before
    await change("DELETE FROM incidents WHERE category_code = 'community.garbage'")
    await change("DELETE FROM incidents")
    assert await _kept_bins(db) == Counter()


async def test_a_report_filed_over_the_api_is_counted_in_its_own_transaction(client, db, scene):
    _world, building = scene
    await _report(client, "fire.ebike_indoor", 150, 150, building_id=building.id)
    await _report(client, "community.noise", 420, 60)
    await _assert_bins_match(db)
    assert sum(n for key, n in (await _kept_bins(db)).items() if key[0] == 16) == 2


async def test_truncating_the_incidents_empties_the_bins(db, scene):
    await _insert_incidents(db, _SPREAD)
    await db.execute(text("TRUNCATE incidents CASCADE"))
    assert await _kept_bins(db) == Counter()


async def test_the_morton_codes_of_python_and_sql_agree(db):
    pairs = [(0, 0), (1, 0), (0, 1), (3, 5), (65535, 65535), (53509, 28571), (2**23, 7)]
    for x, y in pairs:
        got = (await db.execute(text("SELECT tile_morton(:x, :y)"), {"x": x, "y": y})).scalar()
        assert got == _morton(x, y) == tiles_module.morton(x, y)


async def _mercator_of_metres(db, x: float, y: float) -> tuple[float, float]:
    lon, lat = metres_point(x, y)
    return await _mercator(
        db,
        "SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 3857)",
        lon=lon,
        lat=lat,
    )


def _cluster_centre(mx: float, my: float, z: int, x: int, y: int) -> tuple[float, float]:
    """The centre, in tile units, of the sixteenth of tile (z, x, y) holding the point."""
    px, py = _in_tile_units(mx, my, z, x, y)
    step = EXTENT / 16
    return (math.floor(px / step) + 0.5) * step, (math.floor(py / step) + 0.5) * step


_CLUSTERED = [  # exact precision: the public point is the pin
    ("community.manhole", 100, 100, "assigned", None),
    ("community.manhole", 120, 110, "assigned", None),
    ("community.manhole", 130, 90, "in_progress", None),
    ("community.manhole", 400, 350, "accepted", None),
    ("community.manhole", 900, 100, "submitted", None),
    ("community.manhole", -2990, 3010, "in_progress", None),
    ("community.manhole", -2980, 3020, "in_progress", None),
    ("community.manhole", -2970, 3000, "resolved", None),
    ("community.manhole", -2960, 3040, "rejected", None),
]


@pytest.mark.parametrize("z", [9, 11, 12, 13, 14])
async def test_a_count_tile_counts_each_sixteenth_at_its_centre(client, db, scene, z):
    await _insert_incidents(db, _CLUSTERED)
    points = [(await _mercator_of_metres(db, x, y), status) for _c, x, y, status, _d in _CLUSTERED]
    x, y = _tile_of(*points[0][0], z)
    by_cluster: dict[tuple[float, float], Counter] = {}
    for point, status in points:
        if _tile_of(*point, z) == (x, y) and status != "rejected":
            by_cluster.setdefault(_cluster_centre(*point, z, x, y), Counter())[status] += 1
    expected = sorted(
        (centre, sum(c.values()), min(c, key=lambda s: (-c[s], s)))
        for centre, c in by_cluster.items()
    )
    assert len(expected) >= 2  # the scene puts several sixteenths in every tile tried
    features = _decode((await _tile(client, "incidents", z, x, y)).content)["incidents"]["features"]
    got = sorted(
        (tuple(f["geometry"]["coordinates"]), f["properties"]["count"], f["properties"]["status"])
        for f in features
    )
    assert got == expected


async def test_the_last_count_tile_sums_what_its_detail_tiles_show(client, db, scene):
    await _insert_incidents(db, _SPREAD)
    mx, my = await _mercator_of_metres(db, 450, 450)
    z = tiles_module.INCIDENT_DETAIL_ZOOM - 1
    x, y = _tile_of(mx, my, z)
    counts = _decode((await _tile(client, "incidents", z, x, y)).content)["incidents"]
    shown: set[str] = set()
    for cx in (2 * x, 2 * x + 1):
        for cy in (2 * y, 2 * y + 1):
            response = await _tile(client, "incidents", z + 1, cx, cy)
            if response.status_code == 200:
                layer = _decode(response.content)["incidents"]
                inside = [
                    f
                    for f in layer["features"]
                    if all(0 <= c < EXTENT for c in f["geometry"]["coordinates"])
                ]
                shown |= {f["properties"]["tracking_number"] for f in inside}
    total = sum(f["properties"]["count"] for f in counts["features"])
    assert total == len(shown) >= 3


async def test_closed_reports_show_through_the_thirtieth_day_after_their_closing_day(
    client, db, scene
):
    await _insert_incidents(
        db,
        [
            ("community.manhole", 100, 100, "closed", None),
            ("community.manhole", 110, 100, "closed", None),
            ("community.manhole", 120, 100, "assigned", None),
        ],
    )
    # China midnight starting the 30th day before today: one just after, one just before.
    await db.execute(
        text("""
        WITH cut AS (
            SELECT (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                    - interval '30 days') AT TIME ZONE 'Asia/Shanghai' AS at
        ), numbered AS (
            SELECT id, row_number() OVER (ORDER BY id) AS k FROM incidents
            WHERE status = 'closed'
        )
        UPDATE incidents i
        SET closed_at = cut.at + CASE WHEN n.k = 1 THEN interval '1 minute'
                                      ELSE interval '-1 minute' END
        FROM numbered n, cut WHERE n.id = i.id
    """)
    )
    await _assert_bins_match(db)
    kept, dropped = (
        await db.execute(
            text("SELECT tracking_number FROM incidents WHERE status = 'closed' ORDER BY id")
        )
    ).scalars()
    mx, my = await _mercator_of_metres(db, 110, 100)
    detail = _decode((await _tile(client, "incidents", 16, *_tile_of(mx, my, 16))).content)
    numbers = {f["properties"]["tracking_number"] for f in detail["incidents"]["features"]}
    assert kept in numbers and dropped not in numbers and len(numbers) == 2
    counts = _decode((await _tile(client, "incidents", 10, *_tile_of(mx, my, 10))).content)
    assert [f["properties"]["count"] for f in counts["incidents"]["features"]] == [2]


async def test_a_tile_with_only_rejected_reports_is_empty(client, db, scene):
    await _insert_incidents(db, [("community.manhole", 100, 100, "rejected", None)])
    mx, my = await _mercator_of_metres(db, 100, 100)
    for z in (8, 12, 15):
        response = await _tile(client, "incidents", z, *_tile_of(mx, my, z))
        assert response.status_code == 204, z


# --- The in-process tile cache (maps/tile_cache.py) -------------------------------------


async def test_a_cached_tile_is_served_until_its_ttl_then_cut_again(app, client, db, scene):
    now = [1000.0]
    cache = app.state.tile_cache = TileCache(clock=lambda: now[0])
    await _insert_incidents(db, [("community.manhole", 100, 100, "assigned", None)])
    mx, my = await _mercator_of_metres(db, 100, 100)
    address = _tile_of(mx, my, 16)
    first = await _tile(client, "incidents", 16, *address)
    await _insert_incidents(db, [("community.manhole", 105, 100, "assigned", None)])
    again = await _tile(client, "incidents", 16, *address)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert (cache.hits, cache.misses) == (1, 1)
    revalidated = await _tile(
        client, "incidents", 16, *address, **{"If-None-Match": first.headers["etag"]}
    )
    assert revalidated.status_code == 304
    now[0] += CACHE_TTL["incidents"] + 0.1
    fresh = await _tile(client, "incidents", 16, *address)
    assert len(_decode(fresh.content)["incidents"]["features"]) == 2
    assert fresh.headers["etag"] != first.headers["etag"]
    stale = await _tile(
        client, "incidents", 16, *address, **{"If-None-Match": first.headers["etag"]}
    )
    assert stale.status_code == 200


async def test_requests_for_a_tile_being_cut_share_one_cut():
    cache, cuts, release = TileCache(), [], asyncio.Event()

    async def cut() -> bytes:
        cuts.append(1)
        await release.wait()
        return b"tile"

    waiting = [asyncio.create_task(cache.get(("cells", 1, 0, 0), 60, cut)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    tiles = await asyncio.gather(*waiting)
    assert len(cuts) == 1 and {t.data for t in tiles} == {b"tile"}


async def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used():
    cache = TileCache(max_bytes=10)

    async def cut_of(data: bytes):
        async def cut() -> bytes:
            return data

        return cut

    await cache.get("a", 60, await cut_of(b"aaaa"))
    await cache.get("b", 60, await cut_of(b"bbbb"))
    await cache.get("a", 60, await cut_of(b"new!"))  # a hit: "a" is now the most recent
    await cache.get("c", 60, await cut_of(b"cccc"))  # over 10 bytes: "b" leaves
    assert (await cache.get("a", 60, await cut_of(b"x"))).data == b"aaaa"
    assert (await cache.get("b", 60, await cut_of(b"BBBB"))).data == b"BBBB"
