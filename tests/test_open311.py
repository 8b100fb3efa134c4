"""Open311 GeoReport v2: discovery, services and definitions, requests filed and read in
JSON and XML (checked against the spec's element names), routing like the web form,
address-only requests, trusted clients' keys, errors in the spec's shape, and nothing
personal in what GET answers."""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

import cli.main
import cli.open311
from core.errors import Conflict, NotFound
from gis.coords import wgs84_to_gcj02
from incidents.intake.tracking import secret_hash
from incidents.publication.views import public_report
from interop.open311.api_keys import create_client_key, revoke_client_key
from tests.factories import (
    app_on_session,
    assign,
    make_building,
    make_user,
    make_world,
    metres_point,
)

BASE = "/open311/v2"
EBIKE = "fire.ebike_indoor"
ADDRESS = "测试市测试区先烈路165号"
# GeoReport v2's fields of a service request, in the spec's order.
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
]
PERSONAL = ["周网格", "13900000001", "小明", "13712345678", "xiaoming@example.com", "楼道里停了"]


@pytest.fixture
async def scene(db):
    """Cell a1 with its primary worker and a building on 先烈路; cell a2 has nobody."""
    world = await make_world(db)
    worker = await make_user(
        db, "w-a1", "grid_worker", world.community_a, "周网格", phone="13900000001"
    )
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    building = await make_building(db, world.cell_a1, (100, 100, 150, 150), address=ADDRESS)
    return world, worker, building


def _form(x: float = 250, y: float = 250, **extra) -> dict[str, str]:
    lon, lat = metres_point(x, y)
    return {"service_code": EBIKE, "lat": str(lat), "long": str(lon), **extra}


def _xml(response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml")
    return ElementTree.fromstring(response.content)


def _children(element: ElementTree.Element) -> list[str]:
    return [child.tag for child in element]


async def _post(client, data: dict, fmt: str = "json", **kwargs):
    return await client.post(f"{BASE}/requests.{fmt}", data=data, **kwargs)


async def _incident(db, tracking_number: str):
    return (
        (
            await db.execute(
                text("""
        SELECT i.*, u.username AS assignee, c.code AS cell_code
        FROM incidents i LEFT JOIN users u ON u.id = i.assignee_id
        LEFT JOIN grid_cells c ON c.id = i.cell_id WHERE tracking_number = :t
    """),
                {"t": tracking_number},
            )
        )
        .mappings()
        .one()
    )


async def _new_key(db, name: str) -> str:
    return await db.run_sync(lambda session: create_client_key(session.connection(), name))


# -- discovery, services, definitions -------------------------------------------------------


async def test_discovery_names_this_endpoint_and_says_posting_needs_no_key(client):
    body = (await client.get(f"{BASE}/discovery.json", headers={"Accept-Language": "en"})).json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://test/open311/v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert "need no api_key" in body["key_service"]
    root = _xml(await client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert _children(root) == ["changeset", "contact", "key_service", "endpoints"]
    formats = root.find("endpoints/endpoint/formats")
    assert [f.tag for f in formats] == ["format", "format"]
    assert "无需 api_key" in root.findtext("key_service")


async def test_the_service_list_is_the_categories_without_emergencies_or_declarations(client):
    services = (await client.get(f"{BASE}/services.json")).json()
    codes = [s["service_code"] for s in services]
    assert codes[0].startswith("fire.") and EBIKE in codes and "community.garbage" in codes
    assert "fire.burning_now" not in codes and "fire.damage_declaration" not in codes
    ebike = services[codes.index(EBIKE)]
    assert list(ebike) == SERVICE_FIELDS
    assert (ebike["service_name"], ebike["type"], ebike["metadata"]) == (
        "电动自行车楼道停放或入户充电",
        "realtime",
        True,
    )
    assert "2 小时内签收" in ebike["description"]
    assert services[codes.index("fire.blocked_exit")]["metadata"] is False
    english = (await client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"})).json()
    assert english[codes.index(EBIKE)]["service_name"].startswith("E-bike")
    root = _xml(await client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    first = root.find("service")
    assert _children(first) == SERVICE_FIELDS
    assert [s.findtext("service_code") for s in root] == codes
    assert root.find(f"service[service_code='{EBIKE}']/metadata").text == "true"


async def test_category_questions_become_attributes_with_their_datatypes(client):
    definition = (
        await client.get(f"{BASE}/services/{EBIKE}.json", headers={"Accept-Language": "en"})
    ).json()
    assert definition["service_code"] == EBIKE
    charging, count = definition["attributes"]
    assert list(charging) == [*ATTRIBUTE_FIELDS, "values"]
    assert (charging["code"], charging["datatype"], charging["order"], charging["variable"]) == (
        "charging",
        "singlevaluelist",
        1,
        True,
    )
    assert charging["values"] == [{"key": "true", "name": "Yes"}, {"key": "false", "name": "No"}]
    assert (count["code"], count["datatype"], count["order"]) == ("count", "number", 2)
    assert count["datatype_description"] == "A number from 1 to 500" and "values" not in count
    equipment = (await client.get(f"{BASE}/services/fire.equipment.json")).json()
    (which,) = equipment["attributes"]
    assert which["datatype"] == "singlevaluelist" and which["description"] == "设施类型"
    assert {"key": "hydrant", "name": "消火栓"} in which["values"]
    assert (await client.get(f"{BASE}/services/fire.blocked_exit.json")).json() == {
        "service_code": "fire.blocked_exit",
        "attributes": [],
    }
    root = _xml(await client.get(f"{BASE}/services/fire.equipment.xml"))
    assert root.tag == "service_definition"
    assert _children(root) == ["service_code", "attributes"]
    attribute = root.find("attributes/attribute")
    assert _children(attribute) == [*ATTRIBUTE_FIELDS, "values"]
    assert attribute.findtext("datatype") == "singlevaluelist"
    assert attribute.findtext("required") == "false"
    assert {_children(v)[0] for v in attribute.find("values")} == {"key"}
    assert "hydrant" in [v.findtext("key") for v in attribute.findall("values/value")]


# -- the round trip ---------------------------------------------------------------------------


async def test_json_round_trip_post_then_get_by_id_and_by_bbox(client, db, scene):
    world, _worker, _building = scene
    posted = await _post(
        client,
        _form(
            description="楼道里停了三辆电动车",
            media_url="https://img.example.com/p/1.jpg",
            first_name="小明",
            last_name="李",
            phone="13712345678",
            **{"attribute[charging]": "true", "attribute[count]": "3"},
        ),
    )
    assert posted.status_code == 200, posted.text
    assert posted.headers["content-type"].startswith("application/json")
    (answer,) = posted.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    number = answer["service_request_id"]
    assert "分派给责任人" in answer["service_notice"] and answer["account_id"] is None
    row = await _incident(db, number)
    assert (row["channel"], row["assignee"], row["cell_code"]) == (
        "open311",
        "w-a1",
        world.cell_a1.code,
    )
    assert row["answers"] == {"charging": True, "count": 3}
    assert (row["reporter_name"], row["reporter_phone"]) == ("李小明", "13712345678")

    response = await client.get(f"{BASE}/requests/{number}.json")
    assert response.status_code == 200
    (found,) = response.json()
    assert list(found) == REQUEST_FIELDS
    assert (found["service_request_id"], found["status"], found["service_code"]) == (
        number,
        "open",
        EBIKE,
    )
    assert found["service_name"] == "电动自行车楼道停放或入户充电"
    assert found["agency_responsible"] == "甲社区"
    assert found["requested_datetime"].endswith("+08:00")
    assert found["expected_datetime"] is not None
    # The public point (an e-bike report shows its building, else ~100 m), not the pin.
    place = (await public_report(db, number))["place"]["coordinates"]
    assert math.isclose(found["long"], place[0], abs_tol=1e-6)
    assert math.isclose(found["lat"], place[1], abs_tol=1e-6)
    pin = metres_point(250, 250)
    assert (found["long"], found["lat"]) != pytest.approx(pin, abs=1e-7)
    # Nothing personal, no unreviewed text, no media until published.
    assert found["description"] is None and found["media_url"] is None
    assert not any(p in response.text for p in PERSONAL)
    # Once a manager approves it, the masked text is public here too.
    await db.execute(
        text(
            "UPDATE incidents SET text_review = 'approved', published_description = '过道有车辆停放', "
            "text_reviewed_at = now() WHERE tracking_number = :n"
        ),
        {"n": number},
    )
    approved = (await client.get(f"{BASE}/requests/{number}.json")).json()[0]
    assert approved["description"] == "过道有车辆停放" and approved["media_url"] is None

    west, south = metres_point(0, 0)
    east, north = metres_point(1500, 500)
    in_view = (
        await client.get(f"{BASE}/requests.json", params={"bbox": f"{west},{south},{east},{north}"})
    ).json()
    assert [r["service_request_id"] for r in in_view] == [number]
    far = await client.get(f"{BASE}/requests.json", params={"bbox": "100,30,100.1,30.1"})
    assert far.json() == []
    assert not any(p in far.text + str(in_view) for p in PERSONAL)


async def test_xml_round_trip_has_the_specs_element_names(client, db, scene):
    posted = await _post(client, _form(description="楼道里停了", phone="13712345678"), "xml")
    assert posted.status_code == 200, posted.text
    root = _xml(posted)
    assert root.tag == "service_requests"
    request = root.find("request")
    assert _children(request) == ["service_request_id", "service_notice", "account_id"]
    number = request.findtext("service_request_id")
    assert request.find("account_id").text is None  # an empty element, as in the spec

    by_id = _xml(await client.get(f"{BASE}/requests/{number}.xml"))
    assert by_id.tag == "service_requests" and _children(by_id) == ["request"]
    assert _children(by_id.find("request")) == REQUEST_FIELDS
    assert by_id.findtext("request/status") == "open"
    assert by_id.find("request/description").text is None
    west, south = metres_point(0, 0)
    east, north = metres_point(1500, 500)
    listed = await client.get(
        f"{BASE}/requests.xml", params={"bbox": f"{west},{south},{east},{north}"}
    )
    in_view = _xml(listed)
    assert [r.findtext("service_request_id") for r in in_view] == [number]
    assert float(in_view.findtext("request/lat")) == pytest.approx(
        float(by_id.findtext("request/lat"))
    )
    assert not any(p in listed.text for p in PERSONAL)


async def test_an_open311_request_is_routed_like_the_same_report_from_the_web_form(
    client, db, scene
):
    lon, lat = metres_point(700, 250)  # cell a2: no worker, so 甲社区's queue
    web = (await client.post("/reports", json={"category": EBIKE, "lon": lon, "lat": lat})).json()
    (answer,) = (await _post(client, _form(700, 250))).json()
    ours, theirs = (
        await _incident(db, answer["service_request_id"]),
        await _incident(db, web["tracking_number"]),
    )
    for key in (
        "status",
        "routing_rule",
        "responsible_level",
        "cell_id",
        "region_id",
        "assignee_id",
    ):
        assert ours[key] == theirs[key], key
    assert ours["routing_rule"] == "inside" and ours["assignee_id"] is None
    for incident in (ours, theirs):  # the same red-tier deadline from its own start
        assert incident["accept_due_at"] - incident["created_at"] == timedelta(hours=2)
    assert "等待分派" in answer["service_notice"]
    # Same outbox notification (the queue's managers), same first events.
    for incident in (ours, theirs):
        topic = (
            await db.execute(
                text("SELECT topic FROM outbox WHERE incident_id = :i"), {"i": incident["id"]}
            )
        ).scalar_one()
        assert topic == "incident.queued"
    # The web report is offered as a likely duplicate near its public place, as the web
    # form would (nearness is never measured from the pin: issue 15, item 1).
    shown = (await client.get(f"/reports/{web['tracking_number']}")).json()["place"]
    (near,) = (
        await _post(
            client,
            _form() | {"lat": str(shown["coordinates"][1]), "long": str(shown["coordinates"][0])},
        )
    ).json()
    assert web["tracking_number"] in near["service_notice"]


async def test_an_address_only_request_is_pinned_to_the_building_the_search_finds(
    client, db, scene
):
    world, _worker, building = scene
    (answer,) = (
        await _post(client, {"service_code": EBIKE, "address_string": "先烈路 165"})
    ).json()
    row = await _incident(db, answer["service_request_id"])
    assert (row["building_id"], row["cell_code"], row["assignee"]) == (
        building.id,
        world.cell_a1.code,
        "w-a1",
    )
    assert row["address"] == "先烈路 165"
    (found,) = (await client.get(f"{BASE}/requests/{answer['service_request_id']}.json")).json()
    assert (found["address"], found["address_id"]) == (ADDRESS, str(building.id))
    (by_id,) = (
        await _post(client, {"service_code": "fire.blocked_exit", "address_id": str(building.id)})
    ).json()
    assert (await _incident(db, by_id["service_request_id"]))["building_id"] == building.id
    for fmt in ("json", "xml"):
        missing = await _post(client, {"service_code": EBIKE, "address_string": "不存在的路"}, fmt)
        assert missing.status_code == 400
        assert "address_string" in missing.text and "no address" not in missing.text


async def test_an_idempotent_retry_answers_the_same_id_and_stores_one_report(client, db, scene):
    headers = {"Idempotency-Key": "retry-1"}
    first = await _post(client, _form(), headers=headers)
    again = await _post(client, _form(), headers=headers)
    assert first.json() == again.json()
    count = (await db.execute(text("SELECT count(*) FROM open311_requests"))).scalar()
    assert count == 1


async def test_with_extensions_the_post_answer_carries_the_secret_for_rating(
    client, db, settings, scene
):
    (answer,) = (await _post(client, _form(extensions="true"))).json()
    extra = answer["extended_attributes"]
    assert (extra["status"], extra["likely_duplicates"]) == ("assigned", None)
    row = await _incident(db, answer["service_request_id"])
    assert row["secret_hash"] == secret_hash(
        extra["secret"], settings.secret_key.get_secret_value()
    )


async def test_gcj02_coordinates_from_chinese_map_sdks_are_converted_first(client, db, scene):
    world, _worker, _building = scene
    lon, lat = wgs84_to_gcj02(*metres_point(250, 250))
    (answer,) = (
        await _post(
            client,
            {"service_code": EBIKE, "lat": str(lat), "long": str(lon), "coord_system": "gcj02"},
        )
    ).json()
    row = await _incident(db, answer["service_request_id"])
    assert (row["cell_code"], row["input_system"]) == (world.cell_a1.code, "gcj02")


async def test_a_token_answers_its_request_and_an_unknown_one_is_404(client, scene):
    (answer,) = (await _post(client, _form())).json()
    number = answer["service_request_id"]
    assert "token" not in answer  # realtime: the id at once, so no token
    assert (await client.get(f"{BASE}/tokens/{number}.json")).json() == [
        {"service_request_id": number, "token": number}
    ]
    root = _xml(await client.get(f"{BASE}/tokens/{number}.xml"))
    assert _children(root.find("request")) == ["service_request_id", "token"]
    missing = await client.get(f"{BASE}/tokens/260101-AAAAAAAA.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


async def test_a_fire_burning_now_is_told_to_call_119_and_recorded(client, db, scene):
    posted = await _post(
        client, _form(service_code="fire.burning_now"), headers={"Accept-Language": "en"}
    )
    assert posted.status_code == 200
    (answer,) = posted.json()
    assert "119" in answer["service_notice"]
    assert answer["service_request_id"].startswith("119-")
    referral = (
        await db.execute(text("SELECT channel FROM emergency_referrals ORDER BY id DESC LIMIT 1"))
    ).scalar_one()
    assert referral == "open311"


# -- what GET shows ---------------------------------------------------------------------------


async def test_status_maps_to_open_or_closed_with_fixed_notes_and_filters(client, db, scene):
    (a,) = (await _post(client, _form())).json()
    (b,) = (await _post(client, _form(300, 300, service_code="fire.blocked_exit"))).json()
    await db.execute(
        text("""
        UPDATE incidents SET status = 'duplicate',
            duplicate_of_id = (SELECT id FROM incidents WHERE tracking_number = :a)
        WHERE tracking_number = :b"""),
        {"a": a["service_request_id"], "b": b["service_request_id"]},
    )
    closed = (await client.get(f"{BASE}/requests.json", params={"status": "closed"})).json()
    assert [r["service_request_id"] for r in closed] == [b["service_request_id"]]
    assert closed[0]["status"] == "closed"
    assert closed[0]["status_notes"] == f"与 {a['service_request_id']} 为同一问题，请关注该上报"
    opened = (await client.get(f"{BASE}/requests.json", params={"status": "open"})).json()
    assert [r["service_request_id"] for r in opened] == [a["service_request_id"]]
    both = (
        await client.get(
            f"{BASE}/requests.json",
            params={
                "service_request_id": f"{a['service_request_id']},{b['service_request_id']}",
                "status": "closed",
            },
        )
    ).json()  # ids override every other filter
    assert len(both) == 2
    coded = (
        await client.get(f"{BASE}/requests.json", params={"service_code": "fire.blocked_exit"})
    ).json()
    assert [r["service_request_id"] for r in coded] == [b["service_request_id"]]
    paged = (
        await client.get(f"{BASE}/requests.json", params={"page": "2", "page_size": "1"})
    ).json()
    assert [r["service_request_id"] for r in paged] == [a["service_request_id"]]
    past = (
        await client.get(
            f"{BASE}/requests.json",
            params={"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00+08:00"},
        )
    ).json()
    assert past == []


async def test_extensions_show_assignment_level_deadlines_and_whether_rated(client, db, scene):
    (answer,) = (await _post(client, _form())).json()
    number = answer["service_request_id"]
    (plain,) = (await client.get(f"{BASE}/requests/{number}.json")).json()
    assert "extended_attributes" not in plain
    (extended,) = (
        await client.get(f"{BASE}/requests/{number}.json", params={"extensions": "true"})
    ).json()
    extra = extended["extended_attributes"]
    assert (extra["assignment_level"], extra["escalation_level"], extra["overdue"]) == (
        "primary",
        0,
        False,
    )
    assert extra["resolve_due_datetime"] == extended["expected_datetime"]
    assert extra["accept_due_datetime"] < extra["resolve_due_datetime"]
    assert extra["rating"] == {"rated": False}
    await db.execute(
        text("""
        INSERT INTO ratings (incident_id, kind, overall, channel)
        SELECT id, 'handling', 2, 'secret' FROM incidents WHERE tracking_number = :t
    """),
        {"t": number},
    )
    (rated,) = (await client.get(f"{BASE}/requests.json", params={"extensions": "true"})).json()
    # Whether it was rated is public; the score is not (it would tell the handler how a
    # known reporter rated).
    assert rated["extended_attributes"]["rating"] == {"rated": True}
    root = _xml(await client.get(f"{BASE}/requests/{number}.xml", params={"extensions": "true"}))
    assert root.findtext("request/extended_attributes/assignment_level") == "primary"
    assert root.findtext("request/extended_attributes/rating/rated") == "true"


async def test_a_trusted_client_sends_identifiers_and_sees_its_own_requests_in_full(
    client, db, scene
):
    key = await _new_key(db, "mini-program")
    stored_hash = (
        await db.execute(text("SELECT key_hash FROM open311_clients WHERE name = 'mini-program'"))
    ).scalar_one()
    assert stored_hash == hashlib.sha256(key.encode()).hexdigest() and key not in stored_hash
    posted = await _post(
        client,
        _form(
            api_key=key,
            email="xiaoming@example.com",
            account_id="u-42",
            device_id="d-7",
            description="楼道里停了三辆",
            media_url="https://img.example.com/p/1.jpg",
        ),
    )
    (answer,) = posted.json()
    assert answer["account_id"] == "u-42"
    stored = (
        await db.execute(
            text("""
        SELECT o.email, o.account_id, o.device_id, o.media_url, c.name
        FROM open311_requests o JOIN open311_clients c ON c.id = o.client_id""")
        )
    ).one()
    assert tuple(stored) == (
        "xiaoming@example.com",
        "u-42",
        "d-7",
        "https://img.example.com/p/1.jpg",
        "mini-program",
    )
    number = answer["service_request_id"]
    await db.execute(
        text("""
        INSERT INTO ratings (incident_id, kind, overall, timeliness, channel)
        SELECT id, 'handling', 5, 4, 'secret' FROM incidents WHERE tracking_number = :t
    """),
        {"t": number},
    )
    (own,) = (
        await client.get(
            f"{BASE}/requests/{number}.json", params={"api_key": key, "extensions": "true"}
        )
    ).json()
    assert own["description"] == "楼道里停了三辆"
    assert own["media_url"] == "https://img.example.com/p/1.jpg"
    assert own["extended_attributes"]["rating"]["overall"] == 5
    public = await client.get(f"{BASE}/requests/{number}.json", params={"extensions": "true"})
    assert public.json()[0]["media_url"] is None
    assert "img.example.com" not in public.text and "u-42" not in public.text
    assert "xiaoming" not in public.text and "overall" not in public.text
    other = await _new_key(db, "another-app")
    (theirs,) = (
        await client.get(f"{BASE}/requests/{number}.json", params={"api_key": other})
    ).json()
    assert theirs["description"] is None and theirs["media_url"] is None


async def test_media_url_is_stored_as_given_and_only_http_urls_are_taken(client, db, scene):
    url = "http://photos.example.org/a%20b/1.jpg?size=large"
    (answer,) = (await _post(client, _form(media_url=url))).json()
    stored = (
        await db.execute(
            text(
                "SELECT media_url FROM open311_requests o JOIN incidents i ON i.id = o.incident_id "
                "WHERE i.tracking_number = :t"
            ),
            {"t": answer["service_request_id"]},
        )
    ).scalar_one()
    assert stored == url  # kept as a link; gridgov never fetches it (no photo row made)
    photos = (await db.execute(text("SELECT count(*) FROM incident_photos"))).scalar()
    assert photos == 0
    for bad in ("ftp://example.org/1.jpg", "javascript:alert(1)", "/relative.jpg"):
        refused = await _post(client, _form(media_url=bad))
        assert refused.status_code == 400
        assert refused.json()[0]["description"].startswith("media_url:")


# -- keys -------------------------------------------------------------------------------------


async def test_a_bad_or_revoked_key_is_403(client, db, scene):
    for fmt in ("json", "xml"):
        bad = await _post(client, _form(api_key="gg311_not-a-key"), fmt)
        assert bad.status_code == 403
        if fmt == "json":
            assert bad.json() == [{"code": 403, "description": bad.json()[0]["description"]}]
            assert "api_key" in bad.json()[0]["description"]
        else:
            root = _xml(bad)
            assert root.tag == "errors" and _children(root.find("error")) == ["code", "description"]
            assert root.findtext("error/code") == "403"
    key = await _new_key(db, "revoked-app")
    await db.run_sync(lambda s: revoke_client_key(s.connection(), "revoked-app"))
    assert (await _post(client, _form(api_key=key))).status_code == 403
    assert (await client.get(f"{BASE}/requests.json", params={"api_key": key})).status_code == 403
    assert (await db.execute(text("SELECT count(*) FROM incidents"))).scalar() == 0


def test_the_cli_creates_lists_and_revokes_client_keys(conn, monkeypatch):
    @contextmanager
    def in_test_transaction():
        yield conn

    monkeypatch.setattr(cli.open311, "bulk_transaction", in_test_transaction)
    runner = CliRunner()
    created = runner.invoke(cli.main.main, ["open311", "key", "create", "wechat-mini"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("gg311_") and len(key) > 40
    row = conn.execute(
        text(
            "SELECT key_hash, key_prefix, revoked_at FROM open311_clients "
            "WHERE name = 'wechat-mini'"
        )
    ).one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(row.key_prefix) and row.revoked_at is None
    twice = runner.invoke(cli.main.main, ["open311", "key", "create", "wechat-mini"])
    # (the real bulk_transaction turns these domain errors into a clean CLI error)
    assert twice.exit_code != 0 and isinstance(twice.exception, Conflict)
    listed = runner.invoke(cli.main.main, ["open311", "key", "list"])
    assert "wechat-mini" in listed.output and key not in listed.output
    revoked = runner.invoke(cli.main.main, ["open311", "key", "revoke", "wechat-mini"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert conn.execute(text("SELECT revoked_at FROM open311_clients")).scalar() is not None
    unknown = runner.invoke(cli.main.main, ["open311", "key", "revoke", "nobody"])
    assert unknown.exit_code != 0 and isinstance(unknown.exception, NotFound)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"lat": "22.5", "long": "114.05"}, 400, "service_code"),
        (_form(service_code="fire.no_such"), 404, "service_code"),
        (_form(service_code="fire.damage_declaration"), 404, "service_code"),
        (_form(lat="abc"), 400, "lat"),
        (_form(lat="95"), 400, "lat"),
        (_form(long="200"), 400, "long"),
        ({"service_code": EBIKE, "lat": "22.5"}, 400, "long"),
        ({"service_code": EBIKE}, 400, "lat"),
        (_form(**{"attribute[count]": "many"}), 400, "attribute[count]"),
        (_form(**{"attribute[count]": "9999"}), 400, "attribute[count]"),
        (_form(**{"attribute[charging]": "maybe"}), 400, "attribute[charging]"),
        (_form(phone="call me"), 400, "phone"),
        (_form(description="x" * 4001), 400, "description"),
        (_form(email="not-an-address"), 400, "email"),
        (_form(extensions="maybe"), 400, "extensions"),
    ],
)
async def test_malformed_requests_get_the_specs_errors_in_json_and_xml(
    client, db, scene, data, status, field
):
    for fmt in ("json", "xml"):
        response = await _post(client, data, fmt)
        assert response.status_code == status, response.text
        if fmt == "json":
            (error,) = response.json()
            assert error["code"] == status and error["description"].startswith(f"{field}:")
        else:
            root = _xml(response)
            assert root.tag == "errors" and [e.tag for e in root] == ["error"]
            assert root.findtext("error/code") == str(status)
            assert root.findtext("error/description").startswith(f"{field}:")
    assert (await db.execute(text("SELECT count(*) FROM incidents"))).scalar() == 0


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/services/fire.no_such.json", 404, "service_code"),
        ("/requests/260101-AAAAAAAA.json", 404, "service_request_id"),
        ("/requests/not-a-number.xml", 404, "service_request_id"),
        ("/requests.json?start_date=2026-01-01T00:00:00", 400, "start_date"),
        ("/requests.json?start_date=yesterday", 400, "start_date"),
        (
            "/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            400,
            "end_date",
        ),
        ("/requests.json?status=pending", 400, "status"),
        ("/requests.json?bbox=1,2,3", 400, "bbox"),
        ("/requests.json?page_size=5000", 400, "page_size"),
        ("/requests.json?page=0", 400, "page"),
        ("/requests.json?service_request_id=1;DROP", 400, "service_request_id"),
        ("/services.csv", 404, "format"),
    ],
)
async def test_bad_reads_get_the_specs_errors(client, path, status, field):
    response = await client.get(BASE + path)
    assert response.status_code == status, response.text
    fmt = "json" if ".json" in path else "xml"
    if fmt == "json":
        (error,) = response.json()
        assert (error["code"], error["description"].split(":")[0]) == (status, field)
    else:
        assert _xml(response).findtext("error/description").startswith(f"{field}:")


async def test_other_mistakes_are_4xx_in_the_specs_shape_never_500(client, scene):
    as_json = await client.post(f"{BASE}/requests.json", json={"service_code": EBIKE})
    assert as_json.status_code == 400 and as_json.json()[0]["description"].startswith(
        "content-type:"
    )
    unknown = await client.get(f"{BASE}/nothing/here.json")
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404
    no_suffix = await client.get(f"{BASE}/services")
    assert no_suffix.status_code == 404 and _xml(no_suffix).tag == "errors"
    with_file = await client.post(
        f"{BASE}/requests.json",
        data=_form(),
        files={"photo": ("a.jpg", b"not a photo", "image/jpeg")},
    )
    assert with_file.status_code == 400 and with_file.json()[0]["code"] == 400
    # more fields than any request has (MAX_FORM_FIELDS)
    crowded = await _post(client, _form(**{f"x{i}": "1" for i in range(100)}))
    assert crowded.status_code == 400
    nul = await _post(client, _form(description="a\x00b"))
    assert nul.status_code == 400 and nul.json()[0]["description"].startswith("description:")
    english = await _post(client, {"lat": "1"}, headers={"Accept-Language": "en"})
    assert english.json()[0]["description"] == "service_code: service_code is required"


@asynccontextmanager
async def _limited_client(settings, db, rule: str) -> AsyncIterator[AsyncClient]:
    limited = settings.model_copy(
        update={"rate_limits_enabled": True, "rate_limits": {"intake.ip": rule}}
    )
    application = app_on_session(limited, db)
    async with AsyncClient(
        transport=ASGITransport(app=application), base_url="http://test"
    ) as limited_client:
        yield limited_client


async def test_anonymous_posts_count_against_the_intake_limit_and_trusted_clients_do_not(
    settings, db, scene
):
    key = await _new_key(db, "city-app")
    async with _limited_client(settings, db, "1/3600") as limited:
        assert (await _post(limited, _form())).status_code == 200
        refused = await _post(limited, _form(), "xml")
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert _xml(refused).findtext("error/code") == "429"
        for _ in range(2):
            assert (await _post(limited, _form(api_key=key))).status_code == 200
