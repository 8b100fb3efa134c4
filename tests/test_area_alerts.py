"""Area alerts: a resident follows a community or a cell, hears about new fire hazards
there and their results (inbox, SMS) with public fields only, not about other areas or
other kinds of report, lists and removes alerts, and ends one by its signed link without
signing in."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from core.settings import get_settings
from incidents.notify.alerts import unsubscribe_token
from incidents.notify.outbox import claim_pending, fan_out
from incidents.notify.sms import SmsGateway, new_sms_client, send_next_sms
from tests.factories import assign, auth_headers, make_user, make_world, metres_point
from tests.test_sms import Gateway, gateway  # noqa: F401  (the local receiver fixture)

REPORTER_PHONE = "13512345678"


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    worker = await make_user(db, "al-w", "grid_worker", world.community_a)
    manager = await make_user(db, "al-m", "community_manager", world.community_a)
    resident = await make_user(db, "al-r", "resident", None, phone="13611112222")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    return {"world": world, "worker": worker, "manager": manager, "resident": resident}


async def _file(client, category="fire.blocked_exit", x=250, **extra) -> str:
    lon, lat = metres_point(x, 250)
    body = {
        "category": category,
        "lon": lon,
        "lat": lat,
        "description": "消防通道堆物",
        "contact_name": "周九",
        "contact_phone": REPORTER_PHONE,
        **extra,
    }
    answer = await client.post("/reports", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_number"]


async def _fan_out(db) -> None:
    await db.run_sync(
        lambda s: fan_out(s.connection(), claim_pending(s.connection(), 100), sms=True)
    )


async def _inbox(client, settings, user) -> list[dict]:
    return (await client.get("/inbox", headers=auth_headers(user, settings))).json()["items"]


async def test_a_new_fire_hazard_in_my_community_reaches_my_inbox(client, db, settings, scene):
    me = auth_headers(scene["resident"], settings)
    made = await client.post("/alerts", json={"region_code": "880101001001"}, headers=me)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "甲社区" and made.json()["channel"] == "inbox"
    number = await _file(client)
    await _file(client, category="community.noise", description="噪音")  # not a fire hazard
    await _file(client, x=1250)  # another community
    await _fan_out(db)
    await _fan_out(db)
    items = await _inbox(client, settings, scene["resident"])
    assert [(i["topic"], i["tracking_number"]) for i in items] == [("alert.new_hazard", number)]
    payload = items[0]["payload"]
    assert payload["area"] == "甲社区" and payload["category"] == "fire.blocked_exit"
    # Public fields only: no reporter, no pin, no text.
    assert set(payload) == {
        "tracking_number",
        "category",
        "label_zh",
        "label_en",
        "area",
        "alert_id",
        "unsubscribe_url",
    }
    assert REPORTER_PHONE not in str(items) and "周九" not in str(items)


async def test_following_a_cell_and_its_community_brings_one_notice_per_channel(
    client, db, settings, scene
):
    me = auth_headers(scene["resident"], settings)
    community = await client.post("/alerts", json={"region_code": "880101001001"}, headers=me)
    cell = await client.post("/alerts", json={"cell_code": "880101001001001"}, headers=me)
    assert (community.status_code, cell.status_code) == (201, 201)
    other = auth_headers(
        await make_user(db, "al-r2", "resident", None, phone="13622223333"), settings
    )
    for place in ({"region_code": "880101001001"}, {"cell_code": "880101001001001"}):
        made = await client.post("/alerts", json={**place, "channel": "sms"}, headers=other)
        assert made.status_code == 201, made.text
    number = await _file(client)
    await _fan_out(db)
    items = await _inbox(client, settings, scene["resident"])
    assert [(i["topic"], i["tracking_number"]) for i in items] == [("alert.new_hazard", number)]
    # The older of the two alerts speaks: the community's.
    assert items[0]["payload"]["alert_id"] == community.json()["id"]
    assert items[0]["payload"]["area"] == "甲社区"
    texts = (
        await db.execute(text("SELECT count(*) FROM sms_deliveries WHERE alert_id IS NOT NULL"))
    ).scalar_one()
    assert texts == 1


async def test_a_cell_alert_hears_the_result_by_sms(client, db, settings, scene, gateway):  # noqa: F811
    me = auth_headers(scene["resident"], settings)
    made = await client.post(
        "/alerts", json={"cell_code": "880101001001001", "channel": "sms"}, headers=me
    )
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == "*******2222"  # the account's own phone, masked
    number = await _file(client)
    await db.execute(
        text(
            "UPDATE incidents SET status = 'resolved', handler_id = :w WHERE tracking_number = :n"
        ),
        {"n": number, "w": scene["worker"].id},
    )
    closed = await client.post(
        f"/incidents/{number}/actions",
        json={"action": "close"},
        headers=auth_headers(scene["manager"], settings),
    )
    assert closed.status_code == 200, closed.text
    await _fan_out(db)
    await _fan_out(db)
    gw = SmsGateway(gateway.url)
    with new_sms_client() as http:
        while await db.run_sync(lambda s: send_next_sms(s.connection(), http, gw)):
            pass
    mine = [body for _h, body in gateway.requests if body["to"] == "13611112222"]
    assert [m["text"].split("：")[0] for m in mine] == [
        "【网格治理】您关注的网格001新发现消防隐患",
        "【网格治理】您关注的网格001的消防隐患已办结",
    ]
    # The worker signs with the service's own key (the app under test may have another).
    token = unsubscribe_token(made.json()["id"], get_settings().secret_key.get_secret_value())
    assert all(m["text"].endswith(f"退订：/alerts/unsubscribe?token={token}") for m in mine)
    assert len({b["id"] for _h, b in gateway.requests}) == len(gateway.requests)


async def test_the_unsubscribe_link_works_without_signing_in(client, db, settings, scene):
    me = auth_headers(scene["resident"], settings)
    made = (await client.post("/alerts", json={"region_code": "880101001001"}, headers=me)).json()
    link = made["unsubscribe_url"]
    answer = await client.get(link, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/my-reports")
    assert (await client.get("/alerts", headers=me)).json()["items"] == []
    again = await client.get(link, follow_redirects=False)
    assert again.status_code == 303  # already ended: the same answer
    forged = await client.get("/alerts/unsubscribe", params={"token": f"{made['id']}.00ff"})
    assert forged.status_code == 422
    assert forged.json()["error"]["fields"][0]["field"] == "token"


async def test_list_change_and_remove_my_alerts(client, db, settings, scene):
    me = auth_headers(scene["resident"], settings)
    first = await client.post("/alerts", json={"region_code": "880101001001"}, headers=me)
    changed = await client.post(
        "/alerts",
        json={"region_code": "880101001001", "channel": "sms", "phone": "13700001234"},
        headers=me,
    )
    assert changed.status_code == 200 and changed.json()["id"] == first.json()["id"]
    items = (await client.get("/alerts", headers=me)).json()["items"]
    assert [(a["name"], a["channel"], a["phone"]) for a in items] == [
        ("甲社区", "sms", "*******1234")
    ]
    other = await make_user(db, "al-r2", "resident")
    theirs = await client.delete(f"/alerts/{items[0]['id']}", headers=auth_headers(other, settings))
    assert theirs.status_code == 404
    gone = await client.delete(f"/alerts/{items[0]['id']}", headers=me)
    assert gone.status_code == 204
    assert (await client.get("/alerts", headers=me)).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "region_code"),
        ({"region_code": "880101001001", "cell_code": "880101001001001"}, "region_code"),
        ({"region_code": "880101001999"}, "region_code"),
        ({"region_code": "880101000000"}, "region_code"),
        ({"cell_code": "880101001001999"}, "cell_code"),
        ({"region_code": "88010100100"}, "region_code"),
        ({"region_code": "880101001001", "channel": "fax"}, "channel"),
        ({"region_code": "880101001001", "channel": "sms", "phone": "12"}, "phone"),
    ],
)
async def test_bad_alerts_are_refused_naming_the_field(client, settings, scene, body, field):
    answer = await client.post(
        "/alerts", json=body, headers=auth_headers(scene["resident"], settings)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["fields"][0]["field"] == field


async def test_staff_and_strangers_have_no_alerts(client, settings, scene):
    assert (await client.get("/alerts")).status_code == 401
    staff = await client.post(
        "/alerts",
        json={"region_code": "880101001001"},
        headers=auth_headers(scene["worker"], settings),
    )
    assert staff.status_code == 403
