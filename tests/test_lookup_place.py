"""GET /lookup/place: a pin in words for the report page (the nearest register address,
else the nearest named road, the cell's name and the duty card), the worker's name only
with public duty cards on, nothing personal, nothing about reports, rate-limited."""

from __future__ import annotations

from contextlib import asynccontextmanager

from httpx import ASGITransport, AsyncClient

from tests.factories import (
    app_on_session,
    assign,
    make_building,
    make_user,
    make_world,
    metres_point,
)
from tests.test_basemap_tiles import load_basemap

WORKER_NAME = "张伟"
WORKER_PHONE = "13912345678"
ADDRESS = "翠竹路8号"


async def _city(db):
    """The test world with a worker on duty in a1, a building in a1 (x/y 300..340 m) and
    the test roads (中山大道 on y 250, 翠竹街 on y 400, an unnamed one near 100,110)."""
    world = await make_world(db)
    worker = await make_user(
        db, "place-w", "grid_worker", world.community_a, WORKER_NAME, phone=WORKER_PHONE
    )
    await assign(db, world.cell_a1, worker)
    await make_building(db, world.cell_a1, (300, 300, 340, 340), ADDRESS)
    await load_basemap(db)
    return world


@asynccontextmanager
async def _client(settings, db, **overrides):
    app = app_on_session(settings.model_copy(update=overrides), db)
    transport = ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _place(client, x: float, y: float):
    lon, lat = metres_point(x, y)
    return await client.get("/lookup/place", params={"lon": lon, "lat": lat})


async def test_a_pin_on_a_building_is_its_address_in_its_cell_with_an_unnamed_worker(db, settings):
    world = await _city(db)
    async with _client(settings, db) as client:
        response = await _place(client, 320, 320)
    assert response.status_code == 200
    body = response.json()
    assert body["address"] == {"address": ADDRESS, "distance_m": 0}
    assert body["cell"] == {"code": world.cell_a1.code, "name": world.cell_a1.name}
    assert body["match"] == "inside"
    assert body["region"]["name"] == "甲社区"
    assert body["duty"] == {"level": "primary", "name": None}  # duty cards off by default
    for private in (WORKER_NAME, WORKER_PHONE, "place-w"):
        assert private not in response.text


async def test_with_public_duty_cards_the_worker_is_named_but_never_their_phone_or_account(
    db, settings
):
    await _city(db)
    async with _client(settings, db, public_duty_cards=True) as client:
        response = await _place(client, 320, 320)
    assert response.json()["duty"] == {"level": "primary", "name": WORKER_NAME}
    assert WORKER_PHONE not in response.text and "place-w" not in response.text


async def test_duty_cards_never_name_a_manager_answering_for_a_cell_without_workers(db, settings):
    world = await _city(db)
    await make_user(db, "place-cm", "community_manager", world.community_b, "李经理")
    async with _client(settings, db, public_duty_cards=True) as client:
        body = (await _place(client, 1250, 250)).json()
    assert body["cell"]["code"] == world.cell_b1.code
    assert body["duty"] == {"level": "community_manager", "name": None}


async def test_a_building_within_50_m_stands_for_the_address_and_further_out_the_road(db, settings):
    await _city(db)
    async with _client(settings, db) as client:
        near = (await _place(client, 320, 370)).json()  # 30 m north of the building
        far = (await _place(client, 320, 420)).json()  # 80 m north, 20 m past 翠竹街
    assert near["address"]["address"] == ADDRESS
    assert 25 <= near["address"]["distance_m"] <= 35
    assert far["address"] is None
    assert far["road"]["name"] == "翠竹街"
    assert 15 <= far["road"]["distance_m"] <= 25


async def test_an_unnamed_road_is_passed_over_for_the_nearest_named_one(db, settings):
    await _city(db)
    async with _client(settings, db) as client:
        body = (await _place(client, 200, 110)).json()  # on the unnamed service road
    assert body["road"]["name"] == "中山大道"  # y 250: 140 m away
    assert 130 <= body["road"]["distance_m"] <= 150


async def test_a_pin_outside_every_cell_and_region_has_no_cell_and_no_duty(db, settings):
    await _city(db)
    async with _client(settings, db) as client:
        body = (await _place(client, 1200, 900)).json()  # 400 m north of everything
    assert body["match"] == "outside"
    assert body["cell"] is None and body["duty"] is None and body["region"] is None
    assert body["address"] is None


async def test_the_answer_does_not_change_when_a_report_is_filed_there(db, settings):
    await _city(db)
    lon, lat = metres_point(320, 370)
    async with _client(settings, db) as client:
        before = await client.get("/lookup/place", params={"lon": lon, "lat": lat})
        filed = await client.post(
            "/reports",
            json={
                "category": "fire.blocked_exit",
                "lon": lon,
                "lat": lat,
                "description": "楼道堆放杂物",
                "contact_name": "王五",
                "contact_phone": "13700000000",
            },
        )
        after = await client.get("/lookup/place", params={"lon": lon, "lat": lat})
    assert filed.status_code == 201
    assert after.json() == before.json()  # no nearness oracle on reports
    assert "王五" not in after.text and "13700000000" not in after.text


async def test_bad_coordinates_get_422_naming_the_parameter(db, settings):
    async with _client(settings, db) as client:
        for params, field in (
            ({"lon": 113.3, "lat": 91}, "lat"),
            ({"lon": "东经", "lat": 23.1}, "lon"),
            ({"lat": 23.1}, "lon"),
        ):
            response = await client.get("/lookup/place", params=params)
            assert response.status_code == 422, params
            assert response.json()["error"]["fields"][0]["field"] == field


async def test_place_lookups_are_rate_limited_like_the_other_public_searches(db, settings):
    await make_world(db)
    limits = {**settings.rate_limits, "search.ip": "3/3600"}
    async with _client(settings, db, rate_limits_enabled=True, rate_limits=limits) as client:
        codes = [(await _place(client, 250, 250)).status_code for _ in range(4)]
        refused = await _place(client, 250, 250)
    assert codes == [200, 200, 200, 429]
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) >= 1
