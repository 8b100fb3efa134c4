"""Report intake: routing in the same transaction, coordinate systems, idempotent retries,
emergencies, bad input refused with nothing stored, and the public view."""

from __future__ import annotations

import asyncio
import io
import math
import secrets
from datetime import date, datetime, timedelta

import pytest
from httpx import ASGITransport, AsyncClient
from PIL import Image
from sqlalchemy import text

from api.app import create_app
from gis.coords import wgs84_to_bd09, wgs84_to_gcj02
from tests.factories import assign, auth_headers, make_region, make_user, make_world, metres_point

EBIKE = "fire.ebike_indoor"


@pytest.fixture
async def scene(db):
    """a1: primary worker; a2: a backup only; b1: nobody but 乙社区's manager; 丙社区 (east
    of b1) has no cells at all, only a manager."""
    world = await make_world(db)
    users = {
        "worker": await make_user(
            db, "w-a1", "grid_worker", world.community_a, "周网格", phone="13900000001"
        ),
        "backup": await make_user(db, "w-a2", "grid_worker", world.community_a, "吴备岗"),
        "retired": await make_user(db, "w-old", "grid_worker", world.community_a, "郑离任"),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b, "王社区"),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    await assign(
        db, world.cell_a2, users["retired"], valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 1)
    )
    await assign(db, world.cell_a2, users["backup"], kind="backup", valid_from=date(2026, 1, 1))
    community_c = await make_region(
        db, "880101001003", "community", "丙社区", world.street, (1500, 0, 2000, 500)
    )
    users["cm_c"] = await make_user(db, "cm-c", "community_manager", community_c, "冯社区")
    return world, users


def _at(x: float, y: float, **extra) -> dict:
    lon, lat = metres_point(x, y)
    return {"category": EBIKE, "lon": lon, "lat": lat, **extra}


async def _stored(db, tracking_number: str):
    return (
        (
            await db.execute(
                text("""
        SELECT i.*, c.code AS cell_code, r.code AS region_code, u.username AS assignee
        FROM incidents i LEFT JOIN grid_cells c ON c.id = i.cell_id
        LEFT JOIN regions r ON r.id = i.region_id LEFT JOIN users u ON u.id = i.assignee_id
        WHERE tracking_number = :t"""),
                {"t": tracking_number},
            )
        )
        .mappings()
        .one()
    )


async def _count(db, table: str) -> int:
    return (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar()


async def test_a_report_is_routed_to_the_cells_worker_in_the_same_request(client, db, scene):
    world, _users = scene
    response = await client.post(
        "/reports",
        json=_at(
            250, 250, description="楼道里停了三辆电动车", answers={"charging": True, "count": 3}
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "assigned" and body["routing_rule"] == "inside"
    assert body["cell_code"] == world.cell_a1.code
    assert len(body["secret"]) >= 20
    assert "周网格" not in response.text and "13900000001" not in response.text
    row = await _stored(db, body["tracking_number"])
    assert (row["assignee"], row["responsible_level"]) == ("w-a1", "primary")
    assert row["answers"] == {"charging": True, "count": 3}
    assert row["secret_hash"] != body["secret"]
    # Red tier: accept within 2 hours, wall clock.
    assert row["accept_due_at"] - row["created_at"] == timedelta(hours=2)
    events = (
        await db.execute(
            text("SELECT kind, to_status FROM incident_events WHERE incident_id = :i ORDER BY id"),
            {"i": row["id"]},
        )
    ).all()
    assert events == [("created", "submitted"), ("assignment", "assigned")]
    outbox = (
        await db.execute(
            text("SELECT topic, recipient_ids FROM outbox WHERE incident_id = :i"), {"i": row["id"]}
        )
    ).one()
    assert outbox == ("incident.assigned", [row["assignee_id"]])


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
async def test_chinese_map_coordinates_are_converted_before_routing(client, db, scene, system):
    world, _users = scene
    lon, lat = metres_point(250, 250)
    convert = wgs84_to_gcj02 if system == "gcj02" else wgs84_to_bd09
    shifted = convert(lon, lat)
    response = await client.post(
        "/reports",
        json={"category": EBIKE, "lon": shifted[0], "lat": shifted[1], "coord_system": system},
    )
    assert response.json()["cell_code"] == world.cell_a1.code
    row = await _stored(db, response.json()["tracking_number"])
    stored = (
        await db.execute(
            text("SELECT ST_X(location), ST_Y(location) FROM incidents WHERE id = :i"),
            {"i": row["id"]},
        )
    ).one()
    assert math.isclose(stored[0], lon, abs_tol=1e-8) and math.isclose(stored[1], lat, abs_tol=1e-8)
    assert (row["input_system"], row["input_lon"]) == (system, shifted[0])


@pytest.mark.parametrize(
    ("x", "y", "rule", "cell"),
    [
        (500, 250, "inside", "cell_a1"),  # on the edge a1 | a2: the smaller code, always
        (500, 500, "inside", "cell_a1"),  # on a vertex shared by a1 and a2
        (-10, 250, "nearest", "cell_a1"),  # 10 m outside the city edge, within tolerance
        (250, -29, "nearest", "cell_a1"),
    ],
)
async def test_points_on_edges_vertices_and_just_outside_resolve_to_one_cell(
    client, scene, x, y, rule, cell
):
    world, _users = scene
    for _ in range(2):
        body = (await client.post("/reports", json=_at(x, y))).json()
        assert (body["routing_rule"], body["cell_code"]) == (rule, getattr(world, cell).code)


async def test_backup_then_manager_then_community_queue_then_outside(client, db, scene):
    _world, _users = scene
    backup = (await client.post("/reports", json=_at(750, 250))).json()
    row = await _stored(db, backup["tracking_number"])
    assert (row["assignee"], row["responsible_level"]) == ("w-a2", "backup")

    manager = (await client.post("/reports", json=_at(1250, 250))).json()
    row = await _stored(db, manager["tracking_number"])
    assert (row["assignee"], row["responsible_level"]) == ("cm-b", "community_manager")

    queued = (await client.post("/reports", json=_at(1750, 250))).json()
    assert (queued["status"], queued["routing_rule"], queued["cell_code"]) == (
        "submitted",
        "community_queue",
        None,
    )
    row = await _stored(db, queued["tracking_number"])
    assert (row["assignee"], row["region_code"]) == (None, "880101001003")
    recipients = (
        (
            await db.execute(
                text(
                    "SELECT u.username FROM outbox o, unnest(o.recipient_ids) r JOIN users u ON u.id = r "
                    "WHERE o.incident_id = :i"
                ),
                {"i": row["id"]},
            )
        )
        .scalars()
        .all()
    )
    assert recipients == ["cm-c"]

    # 50 km out is outside the service area: refused, naming the field (issue 15, item 17).
    far = await client.post("/reports", json=_at(50_000, 50_000))
    assert far.status_code == 422
    assert far.json()["error"]["fields"][0]["field"] == "lon"
    assert await _count(db, "incidents") == 3


async def test_an_idempotent_retry_gets_the_same_answer_and_stores_one_report(client, db, scene):
    headers = {"Idempotency-Key": "phone-retry-1"}
    first = await client.post("/reports", json=_at(250, 250), headers=headers)
    again = await client.post("/reports", json=_at(250, 250), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _count(db, "incidents") == 1
    other = await client.post("/reports", json=_at(260, 250), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert await _count(db, "incidents") == 1


async def test_racing_retries_with_one_key_store_one_report_and_all_get_its_answer(
    settings, async_engine
):
    # Real sessions, one connection each: the retries race in separate transactions.
    app = create_app(settings)
    key = f"race-{secrets.token_hex(8)}"
    body = {"category": EBIKE, "lon": 100 + secrets.randbelow(10**6) / 10**7, "lat": 30.0}
    region = f"8899{secrets.randbelow(100):02d}"
    # A committed region around the point: intake takes reports in the service area only.
    async with async_engine.begin() as conn:
        await conn.execute(
            text("""
            INSERT INTO regions (code, name, level, path, boundary)
            VALUES (:code, '竞速市', 'city', '/',
                    ST_Multi(ST_MakeEnvelope(99.9, 29.9, 100.2, 30.1, 4326)))"""),
            {"code": region},
        )
        await conn.execute(
            text("UPDATE regions SET path = '/' || id || '/' WHERE code = :c"), {"c": region}
        )
    try:
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
        ):
            answers = await asyncio.gather(
                *(
                    client.post("/reports", json=body, headers={"Idempotency-Key": key})
                    for _ in range(4)
                )
            )
        assert [a.status_code for a in answers] == [201] * 4
        assert len({a.json()["tracking_number"] for a in answers}) == 1
        assert [a.headers.get("Idempotent-Replayed") for a in answers].count("true") == 3
        async with async_engine.connect() as conn:
            stored = (
                await conn.execute(
                    text("SELECT count(*) FROM incidents WHERE input_lon = :lon"), body
                )
            ).scalar()
        assert stored == 1
    finally:
        async with async_engine.begin() as conn:
            await conn.execute(text("DELETE FROM incidents WHERE input_lon = :lon"), body)
            await conn.execute(text("DELETE FROM idempotency_records WHERE key = :k"), {"k": key})
            await conn.execute(text("DELETE FROM regions WHERE code = :c"), {"c": region})


async def test_a_fire_burning_now_answers_call_119_and_records_a_referral(client, db, scene):
    response = await client.post("/reports", json=_at(250, 250, category="fire.burning_now"))
    assert response.status_code == 200
    body = response.json()
    assert body["emergency"] is True and body["call"] == "119"
    assert "119" in body["instruction"]["zh-Hans"]
    assert await _count(db, "emergency_referrals") == 1
    assert await _count(db, "incidents") == 0


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0110] = "TestPhone"  # camera model: must not survive into the public copy
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_a_form_report_with_a_photo_keeps_a_metadata_free_public_copy(client, db, scene):
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports",
        data={
            "category": EBIKE,
            "lon": str(lon),
            "lat": str(lat),
            "answers": '{"charging": false}',
        },
        files=[("photos", ("p.jpg", _jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    public = (await db.execute(text("SELECT public_copy FROM incident_photos"))).scalar()
    assert b"TestPhone" not in public and Image.open(io.BytesIO(public)).getexif() == {}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lon": 114.05, "lat": 22.55}, 422, "category"),
        ({"category": "fire.nonsense", "lon": 114.05, "lat": 22.55}, 422, "category"),
        ({"category": EBIKE, "lon": 114.05}, 422, "lat"),
        ({"category": EBIKE}, 422, "lon"),
        ({"category": EBIKE, "lon": 114.05, "lat": 95.0}, 422, "lat"),
        ({"category": EBIKE, "lon": 22.55, "lat": 114.05}, 422, "lat"),
        (
            {"category": EBIKE, "lon": 114.05, "lat": 22.55, "description": "火" * 2001},
            422,
            "description",
        ),
        (
            {"category": EBIKE, "lon": 114.05, "lat": 22.55, "answers": {"count": "many"}},
            422,
            "answers.count",
        ),
        (
            {"category": EBIKE, "lon": 114.05, "lat": 22.55, "answers": {"colour": "red"}},
            422,
            "answers.colour",
        ),
        (
            {"category": EBIKE, "lon": 114.05, "lat": 22.55, "coord_system": "utm"},
            422,
            "coord_system",
        ),
        ({"category": EBIKE, "lon": 114.05, "lat": 22.55, "channel": "hotline"}, 403, "channel"),
        ({"category": EBIKE, "building_id": 987654321}, 422, "building_id"),
        (
            {"category": EBIKE, "lon": 114.05, "lat": 22.55, "contact_phone": "call me"},
            422,
            "contact_phone",
        ),
    ],
)
async def test_bad_reports_are_refused_naming_the_field_and_nothing_is_stored(
    client, db, scene, body, status, field
):
    response = await client.post("/reports", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
    assert await _count(db, "incidents") == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"category": "fire.ebike_indoor", "lon": NaN, "lat": 22.55}', "lon"),
        ('{"category": "fire.ebike_indoor", "lon": 114.05, "lat": Infinity}', "lat"),
        (
            '{"category": "fire.ebike_indoor", "lon": 114.05, "lat": 22.55, "description": "a\\u0000b"}',
            "description",
        ),
        ('{"category": "fire.ebike_indoor", "lon": 114.05, ', "body"),
        ('["fire.ebike_indoor"]', "body"),
    ],
)
async def test_non_finite_numbers_nul_characters_and_broken_json_are_422(
    client, db, scene, raw, field
):
    response = await client.post(
        "/reports", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
    assert await _count(db, "incidents") == 0


@pytest.mark.parametrize(
    ("photos", "status", "field"),
    [
        ([("photos", ("x.jpg", b"%PDF-1.4 not an image", "image/jpeg"))], 422, "photos[0]"),
        (
            [("photos", ("big.jpg", b"\xff\xd8" + b"0" * (2 * 2**20), "image/jpeg"))],
            413,
            "photos[0]",
        ),
        ([("photos", (f"{i}.jpg", b"x", "image/jpeg")) for i in range(7)], 422, "photos"),
    ],
)
async def test_bad_photos_are_refused_and_nothing_is_stored(
    client, db, scene, settings, photos, status, field, app
):
    app.state.settings = settings.model_copy(update={"max_photo_mb": 1})
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports", data={"category": EBIKE, "lon": str(lon), "lat": str(lat)}, files=photos
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
    assert await _count(db, "incidents") == 0 and await _count(db, "incident_photos") == 0


async def test_staff_may_report_for_a_caller_on_the_hotline(client, db, scene, settings):
    _world, users = scene
    response = await client.post(
        "/reports",
        headers=auth_headers(users["cm_b"], settings),
        json=_at(250, 250, channel="hotline", contact_phone="13811112222"),
    )
    assert response.status_code == 201
    row = await _stored(db, response.json()["tracking_number"])
    assert (row["channel"], row["reporter_phone"]) == ("hotline", "13811112222")


async def test_a_report_nearby_is_offered_as_a_likely_duplicate(client, scene):
    first = (await client.post("/reports", json=_at(250, 250))).json()
    second = (await client.post("/reports", json=_at(260, 255))).json()
    assert [d["tracking_number"] for d in second["likely_duplicates"]] == [first["tracking_number"]]
    lon, lat = metres_point(250, 300)  # 50 m away: beyond the 30 m radius of e-bikes
    nearby = await client.get("/reports/nearby", params={"category": EBIKE, "lon": lon, "lat": lat})
    assert nearby.status_code == 200 and nearby.json()["likely_duplicates"] == []


async def test_the_public_view_shows_status_and_timeline_without_personal_data(client, scene):
    created = (
        await client.post(
            "/reports",
            json=_at(
                250, 250, contact_name="陈女士", contact_phone="13755556666", description="三楼楼道"
            ),
        )
    ).json()
    response = await client.get(f"/reports/{created['tracking_number']}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "assigned"
    assert body["category"]["label_zh"] == "电动自行车楼道停放或入户充电"
    assert [e["to"] for e in body["timeline"]] == ["submitted", "assigned"]
    for private in ("陈女士", "13755556666", "周网格", "w-a1", "secret"):
        assert private not in response.text
    assert datetime.fromisoformat(body["accept_due_at"]) > datetime.fromisoformat(
        body["created_at"]
    )


@pytest.mark.parametrize(("number", "status"), [("261124-ZZZZZZZZ", 404), ("nope", 422)])
async def test_unknown_or_malformed_tracking_numbers(client, scene, number, status):
    assert (await client.get(f"/reports/{number}")).status_code == status


async def test_categories_list_fire_hazards_first_with_both_languages(client):
    body = (await client.get("/categories")).json()["categories"]
    codes = [c["code"] for c in body]
    assert codes[0] == "fire.burning_now" and body[0]["emergency"] is True
    first_community = next(i for i, c in enumerate(body) if c["group"] == "community")
    assert all(c["group"] != "fire" for c in body[first_community:])
    assert all(c["label_zh"] and c["label_en"] for c in body)
    ebike = next(c for c in body if c["code"] == EBIKE)
    assert {q["key"] for q in ebike["questions"]} == {"charging", "count"}


def test_category_sync_updates_and_deactivates_but_never_deletes(sync_engine):
    from incidents.categories import sync_categories

    with sync_engine.connect() as conn, conn.begin() as outer:
        conn.execute(
            text("""
            INSERT INTO incident_categories (code, group_code, label_zh, label_en, tier)
            VALUES ('community.retired_kind', 'community', '旧类别', 'Old kind', 'blue');
            UPDATE incident_categories SET label_en = 'stale' WHERE code = 'fire.gas';
        """)
        )
        sync_categories(conn)
        rows = dict(conn.execute(text("SELECT code, active FROM incident_categories")).all())
        assert rows["community.retired_kind"] is False and rows["fire.gas"] is True
        assert (
            conn.execute(
                text("SELECT label_en FROM incident_categories WHERE code = 'fire.gas'")
            ).scalar()
            == "Gas safety hazard"
        )
        outer.rollback()


async def test_nearby_reports_do_not_give_distances_that_would_locate_a_pin(client, scene):
    first = (await client.post("/reports", json=_at(250, 250))).json()
    lon, lat = metres_point(255, 250)
    nearby = (
        await client.get("/reports/nearby", params={"category": EBIKE, "lon": lon, "lat": lat})
    ).json()
    assert nearby["likely_duplicates"] == [
        {"tracking_number": first["tracking_number"], "status": "assigned"}
    ]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("[" * 100_000 + "]" * 100_000, "body"),
        ('{"category": "fire.damage_declaration", "lon": 114.05, "lat": 22.55}', "category"),
    ],
)
async def test_deep_json_and_declarations_through_the_report_route_are_422(
    client, db, scene, raw, field
):
    response = await client.post(
        "/reports", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
