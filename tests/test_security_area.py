"""Issue 15, items 11, 17 and 19: reports only inside the service area on every channel,
duplicates only of reports in the caller's sight and district, and vulnerable-by-tag
counts only for the caller's own area."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_cell,
    make_household,
    make_person,
    make_region,
    make_user,
    make_world,
    metres_point,
)

EBIKE = "fire.ebike_indoor"
FAR_AWAY = {
    "north pole": (0.0, 90.0),
    "tokyo": (139.6917, 35.6895),
    "london": (-0.1276, 51.5072),
    "null island": (0.0, 0.0),
    "50 km out": metres_point(50_000, 50_000),
}


@pytest.fixture
async def scene(db, settings):
    """The test city (district 880101) plus a second district 880102 east of it with one
    cell; managers and a worker in each; people in cell a1 (one bed-ridden)."""
    world = await make_world(db)
    district2 = await make_region(
        db, "880102", "district", "二区", world.city, (2000, 0, 2500, 500)
    )
    street2 = await make_region(db, "880102001", "street", "二街", district2, (2000, 0, 2500, 500))
    community2 = await make_region(
        db, "880102001001", "community", "二社", street2, (2000, 0, 2500, 500)
    )
    cell2 = await make_cell(db, "880102001001001", community2, (2000, 0, 2500, 500))
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street", "street_manager", world.street),
        "district": await make_user(db, "district", "district_manager", world.district),
        "cm_2": await make_user(db, "cm-2", "community_manager", community2),
        "admin": await make_user(db, "root", "admin"),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    building = await make_building(db, world.cell_a1, (10, 10, 40, 40), address="测试路1号")
    home = await make_household(db, building, "101")
    await make_person(db, home, "赵一", settings=settings, tags=["bedridden"])
    await make_person(db, home, "钱二", settings=settings)
    return world, users, cell2


async def _count(db) -> int:
    return (await db.execute(text("SELECT count(*) FROM incidents"))).scalar()


async def _report(client, x: float, y: float, headers=None, **extra) -> str:
    lon, lat = metres_point(x, y)
    response = await client.post(
        "/reports", headers=headers or {}, json={"category": EBIKE, "lon": lon, "lat": lat, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


# -- item 17: the service area --------------------------------------------------------------


@pytest.mark.parametrize("place", sorted(FAR_AWAY))
async def test_web_and_api_reports_far_away_are_refused_naming_the_field(client, db, scene, place):
    lon, lat = FAR_AWAY[place]
    response = await client.post("/reports", json={"category": EBIKE, "lon": lon, "lat": lat})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["lon"]
    assert "service area" in error["message"] or "服务范围" in error["message"]
    form = await client.post("/reports", data={"category": EBIKE, "lon": str(lon), "lat": str(lat)})
    assert form.status_code == 422
    assert await _count(db) == 0


async def test_a_gcj02_pin_far_away_is_refused_too(client, db, scene):
    response = await client.post(
        "/reports",
        json={"category": EBIKE, "lon": 139.6917, "lat": 35.6895, "coord_system": "gcj02"},
    )
    assert response.status_code == 422
    assert await _count(db) == 0


async def test_points_in_the_service_area_are_still_taken(client, db, scene):
    _world, _users, cell2 = scene
    lon, lat = metres_point(-20, 250)  # 20 m outside the city, within the tolerance
    edge = await client.post("/reports", json={"category": EBIKE, "lon": lon, "lat": lat})
    assert edge.status_code == 201 and edge.json()["routing_rule"] == "nearest"
    lon, lat = metres_point(2250, 250)
    other = await client.post("/reports", json={"category": EBIKE, "lon": lon, "lat": lat})
    assert other.json()["cell_code"] == cell2.code


async def test_staff_filing_a_patrol_report_far_away_is_refused(client, db, settings, scene):
    _world, users, _cell2 = scene
    lon, lat = FAR_AWAY["tokyo"]
    response = await client.post(
        "/reports",
        headers=auth_headers(users["worker"], settings),
        json={"category": EBIKE, "lon": lon, "lat": lat, "channel": "patrol"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "lon"
    assert await _count(db) == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_open311_far_away_gets_the_specs_400_naming_long(client, db, scene, fmt):
    lon, lat = FAR_AWAY["london"]
    response = await client.post(
        f"/open311/v2/requests.{fmt}",
        data={"service_code": EBIKE, "lat": str(lat), "long": str(lon)},
    )
    assert response.status_code == 400, response.text
    if fmt == "json":
        (error,) = response.json()
        assert error["code"] == 400 and error["description"].startswith("long:")
    else:
        assert "<description>long:" in response.text
    assert await _count(db) == 0


async def test_a_12345_order_far_away_is_a_row_error_and_the_rest_are_filed(
    client, db, settings, scene
):
    _world, users, _cell2 = scene
    near = metres_point(250, 250)
    orders = [
        {
            "工单编号": "F1",
            "诉求内容": "楼道电动车",
            "经度": str(FAR_AWAY["tokyo"][0]),
            "纬度": str(FAR_AWAY["tokyo"][1]),
            "诉求类别": "城乡建设-消防安全-电动车入户充电",
        },
        {
            "工单编号": "F2",
            "诉求内容": "楼道电动车",
            "经度": str(near[0]),
            "纬度": str(near[1]),
            "诉求类别": "城乡建设-消防安全-电动车入户充电",
        },
    ]
    response = await client.post(
        "/admin/hotline/imports",
        headers=auth_headers(users["admin"], settings),
        files={
            "file": (
                "orders.json",
                json.dumps(orders, ensure_ascii=False).encode(),
                "application/json",
            )
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["row"], r["field"]) for r in body["rejected"]] == [(1, "经度")]
    assert [f["order_number"] for f in body["filed"]] == ["F2"]
    assert await _count(db) == 1


# -- item 11: mark_duplicate -----------------------------------------------------------------


async def _mark(client, settings, user, number, target):
    return await client.post(
        f"/incidents/{number}/actions",
        json={"action": "mark_duplicate", "duplicate_of": target},
        headers=auth_headers(user, settings),
    )


async def test_a_duplicate_of_a_report_in_another_district_is_refused(client, settings, scene):
    _world, users, _cell2 = scene
    mine = await _report(client, 250, 250)
    elsewhere = await _report(client, 2250, 250)
    for who in ("cm_a", "district", "admin"):
        response = await _mark(client, settings, users[who], mine, elsewhere)
        assert response.status_code == 422, (who, response.text)
        assert response.json()["error"]["fields"][0]["field"] == "duplicate_of"
    # The same answer as for a number that does not exist: nothing learnt about it.
    missing = await _mark(client, settings, users["cm_a"], mine, "260101-AAAAAAAA")
    assert (
        missing.json()["error"]["message"].replace("260101-AAAAAAAA", elsewhere)
        == (
            (await _mark(client, settings, users["cm_a"], mine, elsewhere)).json()["error"][
                "message"
            ]
        )
    )


async def test_a_duplicate_of_a_report_the_caller_cannot_see_is_refused(client, settings, scene):
    _world, users, _cell2 = scene
    mine = await _report(client, 250, 250)
    in_b = await _report(client, 1250, 250)  # same district, 乙社区: not cm-a's
    refused = await _mark(client, settings, users["cm_a"], mine, in_b)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "duplicate_of"
    # The street manager sees both, in one district: allowed.
    allowed = await _mark(client, settings, users["street"], mine, in_b)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["status"] == "duplicate"


# -- item 19: vulnerable counts by area ------------------------------------------------------


async def test_vulnerable_counts_by_tag_only_inside_the_callers_area(client, settings, scene):
    world, users, _cell2 = scene
    url = f"/cells/{world.cell_a1.code}"
    inside = (await client.get(url, headers=auth_headers(users["cm_a"], settings))).json()
    assert inside["properties"]["counts"]["vulnerable_by_tag"] == {"bedridden": 1}
    assert inside["properties"]["counts"]["vulnerable_people"] == 1
    worker = (await client.get(url, headers=auth_headers(users["worker"], settings))).json()
    assert worker["properties"]["counts"]["vulnerable_by_tag"] == {"bedridden": 1}
    for who in ("cm_b", "cm_2"):
        response = await client.get(url, headers=auth_headers(users[who], settings))
        counts = response.json()["properties"]["counts"]
        assert counts["vulnerable_by_tag"] is None and counts["vulnerable_people"] is None
        assert counts["withheld"] == "outside_area" and counts["people"] == 2
        assert "bedridden" not in response.text and "卧床" not in response.text


async def test_a_large_vulnerable_total_is_shown_outside_the_area_but_never_by_tag(
    client, db, settings, scene
):
    world, users, _cell2 = scene
    building = await make_building(db, world.cell_a1, (100, 100, 140, 140), address="测试路2号")
    home = await make_household(db, building, "201")
    for i in range(settings.stats_min_group):
        await make_person(db, home, f"孙{i}", settings=settings, tags=["elderly_alone"])
    response = await client.get(
        f"/cells/{world.cell_a1.code}", headers=auth_headers(users["cm_2"], settings)
    )
    counts = response.json()["properties"]["counts"]
    assert counts["vulnerable_people"] == settings.stats_min_group + 1
    assert counts["vulnerable_by_tag"] is None
