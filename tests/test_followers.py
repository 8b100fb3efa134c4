"""我也遇到: following an open report instead of filing it again (an account or a phone,
the same person twice one follower, nothing filed), the follower count as the only
public trace, followers hearing what the reporter hears (inbox, SMS), the report page's
nearby list, the follow limit, and retention removing followers with the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from api.routes.following import FOLLOWS_PER_PHONE
from incidents.notify.outbox import claim_pending, fan_out
from incidents.notify.sms import SmsGateway, new_sms_client, send_next_sms
from incidents.retention import anonymise_finished_reports
from tests.factories import auth_headers, make_building, make_scene, metres_point
from tests.test_sms import Gateway, gateway  # noqa: F401  (the local receiver fixture)

FOLLOWER_PHONE = "139 0000 7777"
NORMALISED = "13900007777"


@pytest.fixture
async def scene(db):
    world, users = await make_scene(db, "resident")
    building = await make_building(db, world.cell_a1, (200, 200, 300, 300), address="甲路8号")
    return {"world": world, **users, "building": building}


async def _file(client, category="fire.blocked_exit", **extra) -> str:
    lon, lat = metres_point(250, 250)
    body = {
        "category": category,
        "lon": lon,
        "lat": lat,
        "description": "楼道堆物",
        "contact_name": "孙八",
        "contact_phone": "13512345678",
        **extra,
    }
    answer = await client.post("/reports", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_number"]


async def _incidents(db) -> int:
    return (await db.execute(text("SELECT count(*) FROM incidents"))).scalar_one()


async def _fan_out(db) -> None:
    await db.run_sync(
        lambda s: fan_out(s.connection(), claim_pending(s.connection(), 100), sms=True)
    )


async def test_a_phone_follows_once_and_nothing_is_filed(client, db, scene):
    number = await _file(client)
    before = await _incidents(db)
    first = await client.post(f"/reports/{number}/followers", json={"phone": FOLLOWER_PHONE})
    assert first.status_code == 201, first.text
    assert first.json() == {"followers": 1, "following": True}
    again = await client.post(f"/reports/{number}/followers", json={"phone": "+86 13900007777"})
    assert again.status_code == 200 and again.json()["followers"] == 1
    assert await _incidents(db) == before
    stored = (await db.execute(text("SELECT phone FROM incident_followers"))).scalars().all()
    assert stored == [NORMALISED]


async def test_a_resident_follows_as_their_account(client, db, settings, scene):
    number = await _file(client)
    headers = auth_headers(scene["resident"], settings)
    answer = await client.post(f"/reports/{number}/followers", headers=headers)
    assert answer.status_code == 201 and answer.json()["followers"] == 1
    assert (await client.post(f"/reports/{number}/followers", headers=headers)).status_code == 200
    mine = await client.get(f"/reports/{number}/followers", headers=headers)
    assert mine.json() == {"followers": 1, "following": True}
    public = await client.get(f"/reports/{number}/followers")
    assert public.json() == {"followers": 1, "following": False}


async def test_public_answers_show_a_count_and_never_the_follower(client, scene):
    number = await _file(client)
    await client.post(f"/reports/{number}/followers", json={"phone": FOLLOWER_PHONE})
    for path in (f"/reports/{number}", f"/reports/{number}/followers"):
        answer = await client.get(path)
        assert "7777" not in answer.text
    lon, lat = metres_point(250, 250)
    nearby = await client.get(
        "/reports/nearby", params={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    assert "7777" not in nearby.text
    (line,) = nearby.json()["open_reports"]
    assert line["followers"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"phone": "020-83001234"}, "phone"),
        ({"phone": "hello"}, "phone"),
    ],
)
async def test_without_an_account_a_mobile_is_required(client, scene, body, field):
    number = await _file(client)
    answer = await client.post(f"/reports/{number}/followers", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"][0]["field"] == field


async def test_staff_unknown_and_finished_reports_are_refused(client, db, settings, scene):
    number = await _file(client)
    staff = await client.post(
        f"/reports/{number}/followers", headers=auth_headers(scene["worker"], settings)
    )
    assert staff.status_code == 403
    unknown = await client.post(
        "/reports/260101-ZZZZZZZZ/followers", json={"phone": FOLLOWER_PHONE}
    )
    assert unknown.status_code == 404
    await db.execute(
        text(
            "UPDATE incidents SET status = 'closed', closed_at = now() WHERE tracking_number = :n"
        ),
        {"n": number},
    )
    closed = await client.post(f"/reports/{number}/followers", json={"phone": FOLLOWER_PHONE})
    assert closed.status_code == 409


async def test_the_reporter_following_their_own_report_adds_nobody(client, scene):
    number = await _file(client)
    answer = await client.post(f"/reports/{number}/followers", json={"phone": "135 1234 5678"})
    assert answer.status_code == 200 and answer.json()["followers"] == 0


async def test_one_phone_follows_a_limited_number_of_reports(client, scene):
    numbers = [await _file(client) for _ in range(FOLLOWS_PER_PHONE[0] + 1)]
    answers = [
        (await client.post(f"/reports/{n}/followers", json={"phone": FOLLOWER_PHONE})).status_code
        for n in numbers
    ]
    assert answers[:-1] == [201] * FOLLOWS_PER_PHONE[0]
    assert answers[-1] == 429


async def test_the_report_page_gets_label_place_date_and_count(client, scene):
    number = await _file(client, building_id=scene["building"].id)
    lon, lat = metres_point(250, 250)
    answer = await client.get(
        "/reports/nearby", params={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert [d["tracking_number"] for d in body["likely_duplicates"]] == [number]
    (line,) = body["open_reports"]
    assert line["tracking_number"] == number and line["status"] == "assigned"
    assert line["category"]["label_zh"] and line["category"]["label_en"]
    # Building precision: the building's address, never the pin or a typed address.
    assert line["place_label"] == "甲路8号"
    assert line["created_on"] == datetime.now(UTC).date().isoformat()
    assert line["followers"] == 0
    assert set(line) == {
        "tracking_number",
        "status",
        "category",
        "place_label",
        "created_on",
        "followers",
    }


async def test_cell_precision_names_the_cell(client, scene):
    number = await _file(client, category="community.noise", description="夜间噪音")
    lon, lat = metres_point(250, 250)
    answer = await client.get(
        "/reports/nearby", params={"category": "community.noise", "lon": lon, "lat": lat}
    )
    lines = answer.json()["open_reports"]
    assert [(x["tracking_number"], x["place_label"]) for x in lines] == [(number, "网格001")]


async def test_followers_hear_status_changes_like_the_reporter(
    client,
    db,
    settings,
    scene,
    gateway,  # noqa: F811
):
    number = await _file(client)
    resident = scene["resident"]
    await client.post(f"/reports/{number}/followers", headers=auth_headers(resident, settings))
    await client.post(f"/reports/{number}/followers", json={"phone": FOLLOWER_PHONE})
    await _fan_out(db)  # the new report's message: the worker's, not a follower's
    accepted = await client.post(
        f"/incidents/{number}/actions",
        json={"action": "accept"},
        headers=auth_headers(scene["worker"], settings),
    )
    assert accepted.status_code == 200, accepted.text
    await _fan_out(db)
    await _fan_out(db)  # redelivery adds nothing
    inbox = (await client.get("/inbox", headers=auth_headers(resident, settings))).json()
    assert [(i["topic"], i["tracking_number"]) for i in inbox["items"]] == [
        ("incident.accept", number)
    ]
    gw = SmsGateway(gateway.url)
    with new_sms_client() as http:
        while await db.run_sync(lambda s: send_next_sms(s.connection(), http, gw)):
            pass
    texts = {body["to"]: body for _h, body in gateway.requests}
    assert set(texts) == {"13512345678", NORMALISED}  # the reporter and the follower
    assert texts[NORMALISED]["text"] == (
        f"【网格治理】您关注的隐患（编号 {number}）已受理，网格员将尽快处理。"
    )
    assert texts[NORMALISED]["id"] != texts["13512345678"]["id"]


async def test_retention_removes_followers_with_the_report(client, db, scene):
    number = await _file(client)
    await client.post(f"/reports/{number}/followers", json={"phone": FOLLOWER_PHONE})
    await db.execute(
        text("UPDATE incidents SET status = 'closed', closed_at = :t WHERE tracking_number = :n"),
        {"n": number, "t": datetime.now(UTC) - timedelta(days=800)},
    )
    report = await db.run_sync(
        lambda s: anonymise_finished_reports(s.connection(), datetime.now(UTC), timedelta(days=365))
    )
    assert report.changed["followers removed"] == 1
    left = (await db.execute(text("SELECT count(*) FROM incident_followers"))).scalar_one()
    assert left == 0
