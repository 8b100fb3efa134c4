"""The patrol list: order and score parts for a hand-made case, visits only to one's own
buildings, photos on visits (stored once per key, read only by the visitor and managers
over the building), and patrol coverage per cell for managers."""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import text

from grid.access import load_principal
from incidents.handling.patrol import patrol_list
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_household,
    make_person,
    make_user,
    make_world,
    metres_point,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 China time
ON = date(2026, 11, 24)
_numbers = itertools.count(1)


async def _incident(db, category, status, x, y, *, building=None, created=NOW - timedelta(days=3)):
    """A report written straight into the table, pinned at (x, y) metres in cell a1."""
    lon, lat = metres_point(x, y)
    await db.execute(
        text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, building_id, cell_id, region_id,
            routing_rule, responsible_level, channel, created_at, updated_at)
        SELECT :number, 'x', :category, :status, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
               :lon, :lat, 'wgs84', :building, c.id, c.community_id, 'inside', 'primary',
               'web', :created, :created
        FROM grid_cells c WHERE c.code = '880101001001001'
    """),
        {
            "number": f"P{next(_numbers):09d}",
            "category": category,
            "status": status,
            "lon": lon,
            "lat": lat,
            "building": building,
            "created": created,
        },
    )


async def _built(db, building, year):
    building.built_year = year
    await db.flush()
    return building


@pytest.fixture
async def scene(db, settings):
    """Cell a1 holds three buildings:
    A (2020) with an open e-bike report pinned inside its footprint;
    B (1976) three rented flats, five elderly people living alone and one young tenant;
    C (2024) with nothing but a fire report closed this year (pinned outside, linked by id)
    and others that must not count: a general report, a rejected one, one from last year.
    Cell a2 holds D, another worker's."""
    world = await make_world(db)
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "other": await make_user(db, "w-a2", "grid_worker", world.community_a),
        "former": await make_user(db, "w-old", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street", "street_manager", world.street),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    await assign(db, world.cell_a2, users["other"], valid_from=date(2026, 1, 1))
    await assign(
        db,
        world.cell_a1,
        users["former"],
        kind="backup",
        valid_from=date(2025, 1, 1),
        valid_to=date(2026, 6, 1),
    )
    b = {
        "A": await _built(
            db, await make_building(db, world.cell_a1, (10, 10, 40, 40), address="甲路1号"), 2020
        ),
        "B": await _built(
            db, await make_building(db, world.cell_a1, (100, 10, 140, 40), address="甲路2号"), 1976
        ),
        "C": await _built(
            db, await make_building(db, world.cell_a1, (200, 10, 240, 40), address="甲路3号"), 2024
        ),
        "D": await make_building(db, world.cell_a2, (610, 10, 640, 40), address="乙路1号"),
    }
    await _incident(db, "fire.ebike_indoor", "assigned", 25, 25)
    flats = [await make_household(db, b["B"], f"{n}01", is_rental=True) for n in (1, 2, 3)]
    for i in range(5):
        await make_person(db, flats[i % 3], f"老人{i}", settings=settings, tags=["elderly_alone"])
    await make_person(db, flats[0], "租客", settings=settings)
    await _incident(
        db,
        "fire.blocked_exit",
        "closed",
        220,
        60,
        building=b["C"].id,
        created=NOW - timedelta(days=100),
    )
    await _incident(db, "community.garbage", "assigned", 220, 25)
    await _incident(db, "fire.gas", "rejected", 220, 25)
    await _incident(db, "fire.gas", "closed", 220, 25, created=NOW - timedelta(days=400))
    return world, users, b


async def _list(db, user, on=ON, now=NOW, limit=50):
    return await patrol_list(db, await load_principal(db, user.id), on, limit, now)


def _points(entry):
    return {name: part["points"] for name, part in entry["parts"].items()}


async def test_the_patrol_list_puts_the_open_hazard_first_then_the_old_rental_of_elderly(db, scene):
    _world, users, b = scene
    listed = await _list(db, users["worker"])
    assert [e["building_id"] for e in listed] == [b["A"].id, b["B"].id, b["C"].id]
    a, old_rental, new = listed
    assert a["score"] == 71.8 and _points(a) == {
        "open_fire_hazards": 60.0,
        "past_fire_hazards": 0.0,
        "rental_density": 0.0,
        "building_age": 1.8,
        "vulnerable_residents": 0.0,
        "days_since_visit": 10.0,
    }
    assert a["parts"]["open_fire_hazards"]["value"] == 1
    assert old_rental["score"] == 65.0 and _points(old_rental) == {
        "open_fire_hazards": 0.0,
        "past_fire_hazards": 0.0,
        "rental_density": 20.0,
        "building_age": 15.0,
        "vulnerable_residents": 20.0,
        "days_since_visit": 10.0,
    }
    # Five vulnerable residents shown, four counted; all three flats rented.
    assert old_rental["parts"]["vulnerable_residents"]["value"] == 5
    assert old_rental["parts"]["rental_density"] | {"points": None} == {
        "value": 1.0,
        "houses": 3,
        "rented": 3,
        "points": None,
    }
    assert old_rental["parts"]["building_age"]["value"] == 50
    # Only the fire report closed this year counts; garbage, rejected, last year's do not.
    assert new["score"] == 20.6 and new["parts"]["past_fire_hazards"]["value"] == 1
    assert new["parts"]["open_fire_hazards"]["value"] == 0
    assert new["parts"]["days_since_visit"] == {
        "value": None,
        "last_visit_at": None,
        "points": 10.0,
    }


async def test_an_unknown_building_age_counts_half(db, scene):
    _world, users, b = scene
    b["C"].built_year = None
    await db.flush()
    new = next(e for e in await _list(db, users["worker"]) if e["building_id"] == b["C"].id)
    assert new["parts"]["building_age"] == {"value": None, "built_year": None, "points": 7.5}


async def test_ties_are_broken_by_building_id_and_limit_cuts_the_list(db, scene):
    _world, users, b = scene
    await db.execute(text("DELETE FROM houses"))
    await db.execute(text("UPDATE buildings SET built_year = 2000"))
    await db.execute(text("DELETE FROM incidents"))
    listed = await _list(db, users["worker"])
    assert [e["building_id"] for e in listed] == sorted(e["building_id"] for e in listed)
    assert len({e["score"] for e in listed}) == 1
    assert [e["building_id"] for e in await _list(db, users["worker"], limit=1)] == [b["A"].id]


async def test_a_worker_gets_only_the_cells_in_force_today(db, scene):
    _world, users, b = scene
    assert await _list(db, users["former"]) == []
    assert [e["building_id"] for e in await _list(db, users["other"])] == [b["D"].id]
    assert await _list(db, users["former"], on=date(2026, 5, 31)) != []


async def test_a_visit_is_recorded_and_lowers_the_building_and_shows_in_coverage(
    client, db, settings, scene
):
    world, users, b = scene
    lon, lat = metres_point(120, 5)
    response = await client.post(
        "/patrol/visits",
        json={
            "building_id": b["B"].id,
            "note": "楼道通畅，已提醒独居老人用电安全",
            "hazards_found": 0,
            "lon": lon,
            "lat": lat,
        },
        headers=auth_headers(users["worker"], settings),
    )
    assert response.status_code == 201, response.text
    assert response.json()["building_id"] == b["B"].id and response.json()["located"]
    # An old visit to A: too old for coverage, and capped at the full points.
    await db.execute(
        text(
            "INSERT INTO patrol_visits (building_id, user_id, visited_at) "
            "VALUES (:b, :u, now() - interval '40 days')"
        ),
        {"b": b["A"].id, "u": users["worker"].id},
    )

    listed = await client.get("/patrol", headers=auth_headers(users["worker"], settings))
    assert listed.status_code == 200
    by_id = {e["building_id"]: e for e in listed.json()["buildings"]}
    assert by_id[b["B"].id]["parts"]["days_since_visit"]["value"] == 0
    assert by_id[b["B"].id]["parts"]["days_since_visit"]["points"] == 0.0
    assert by_id[b["A"].id]["parts"]["days_since_visit"]["value"] in (39, 40, 41)
    assert by_id[b["A"].id]["parts"]["days_since_visit"]["points"] == 10.0

    coverage = await client.get(
        "/patrol/coverage",
        params={"community": "880101001001"},
        headers=auth_headers(users["cm_a"], settings),
    )
    assert coverage.status_code == 200, coverage.text
    cells = {c["code"]: c for c in coverage.json()["cells"]}
    assert cells[world.cell_a1.code] | {"last_visit_at": None} == {
        "code": world.cell_a1.code,
        "name": world.cell_a1.name,
        "buildings": 3,
        "visited_last_30_days": 1,
        "coverage": 0.3333,
        "last_visit_at": None,
    }
    assert cells[world.cell_a1.code]["last_visit_at"] is not None
    assert cells[world.cell_a2.code]["coverage"] == 0.0


@pytest.mark.parametrize(("building", "status"), [("D", 403), (None, 404)])
async def test_a_worker_cannot_record_a_visit_outside_their_cells(
    client, db, settings, scene, building, status
):
    _world, users, b = scene
    building_id = b[building].id if building else 987654321
    response = await client.post(
        "/patrol/visits",
        json={"building_id": building_id},
        headers=auth_headers(users["worker"], settings),
    )
    assert response.status_code == status, response.text
    count = (await db.execute(text("SELECT count(*) FROM patrol_visits"))).scalar()
    assert count == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lon": 114.0}, "lat"),
        ({"hazards_found": -1}, "hazards_found"),
        ({"note": "a\x00b"}, "note"),
        ({"building_id": 0}, "building_id"),
    ],
)
async def test_bad_visits_are_422_naming_the_field(client, settings, scene, body, field):
    _world, users, b = scene
    response = await client.post(
        "/patrol/visits",
        json={"building_id": b["A"].id} | body,
        headers=auth_headers(users["worker"], settings),
    )
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


@pytest.mark.parametrize(
    ("who", "status"), [("cm_a", 200), ("street", 200), ("cm_b", 403), ("worker", 403), (None, 401)]
)
async def test_coverage_is_for_managers_over_the_community(client, settings, scene, who, status):
    _world, users, _b = scene
    headers = auth_headers(users[who], settings) if who else {}
    response = await client.get(
        "/patrol/coverage", params={"community": "880101001001"}, headers=headers
    )
    assert response.status_code == status


async def test_coverage_of_an_unknown_community_is_404(client, settings, scene):
    _world, users, _b = scene
    response = await client.get(
        "/patrol/coverage",
        params={"community": "880101001009"},
        headers=auth_headers(users["street"], settings),
    )
    assert response.status_code == 404


async def test_the_patrol_list_is_for_grid_workers(client, settings, scene):
    _world, users, _b = scene
    response = await client.get("/patrol", headers=auth_headers(users["cm_a"], settings))
    assert response.status_code == 403


# --- photos on visits ---------------------------------------------------------------------

KEY = "Idempotency-Key"


def _photo(colour: str = "orange") -> bytes:
    """A JPEG with a camera model in its EXIF (kept in the original, as evidence)."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0110] = "PatrolPhone"
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
async def visit_scene(db, settings, scene):
    """Plain values from `scene` (a refused keyed write rolls the session back, which
    expires its ORM objects): each account's headers, and buildings A (mine) and D."""
    _world, users, b = scene
    resident = await make_user(db, "res-1", "resident")
    headers = {name: auth_headers(user, settings) for name, user in users.items()}
    headers["resident"] = auth_headers(resident, settings)
    return headers, b["A"].id, b["D"].id


async def _counts(db) -> tuple[int, int]:
    row = (
        await db.execute(
            text(
                "SELECT (SELECT count(*) FROM patrol_visits), (SELECT count(*) FROM patrol_visit_photos)"
            )
        )
    ).one()
    return row[0], row[1]


async def _visit_with_photo(client, headers, building_id, photo, key=None, **fields):
    lon, lat = metres_point(20, 20)
    data = {
        "building_id": str(building_id),
        "note": "消防通道畅通",
        "lon": str(lon),
        "lat": str(lat),
        **fields,
    }
    extra = {KEY: key} if key else {}
    return await client.post(
        "/patrol/visits",
        data=data,
        files=[("photos", ("visit.jpg", photo, "image/jpeg"))],
        headers={**headers, **extra},
    )


async def test_a_visit_sent_as_a_form_stores_its_photo_with_the_exif_and_a_thumbnail(
    client, db, visit_scene
):
    headers, mine, _theirs = visit_scene
    photo = _photo()
    response = await _visit_with_photo(client, headers["worker"], mine, photo)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["building_id"] == mine and body["note"] == "消防通道畅通" and body["located"]
    assert len(body["photo_ids"]) == 1
    row = (
        await db.execute(
            text(
                "SELECT visit_id, sha256, media_type, width, height, original, thumbnail "
                "FROM patrol_visit_photos WHERE id = :id"
            ),
            {"id": body["photo_ids"][0]},
        )
    ).one()
    assert row.visit_id == body["id"]
    assert (row.sha256, row.media_type, row.width, row.height) == (
        hashlib.sha256(photo).hexdigest(),
        "image/jpeg",
        640,
        480,
    )
    assert row.original == photo and b"PatrolPhone" in row.original
    thumbnail = Image.open(io.BytesIO(row.thumbnail))
    assert max(thumbnail.size) <= 320 and thumbnail.getexif() == {}


async def test_a_json_visit_still_works_and_has_no_photos(client, db, visit_scene):
    headers, mine, _theirs = visit_scene
    response = await client.post(
        "/patrol/visits", json={"building_id": mine}, headers=headers["worker"]
    )
    assert response.status_code == 201, response.text
    assert response.json()["photo_ids"] == []
    assert await _counts(db) == (1, 0)


async def test_a_visit_with_a_photo_replayed_under_its_key_is_stored_once(client, db, visit_scene):
    headers, mine, _theirs = visit_scene
    photo = _photo()
    first = await _visit_with_photo(client, headers["worker"], mine, photo, key="visit-1")
    again = await _visit_with_photo(client, headers["worker"], mine, photo, key="visit-1")
    assert first.status_code == again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _counts(db) == (1, 1)


async def test_a_different_photo_under_the_same_key_is_422_and_stores_nothing_more(
    client, db, visit_scene
):
    headers, mine, _theirs = visit_scene
    first = await _visit_with_photo(
        client, headers["worker"], mine, _photo("orange"), key="visit-2"
    )
    assert first.status_code == 201, first.text
    other = await _visit_with_photo(client, headers["worker"], mine, _photo("blue"), key="visit-2")
    assert other.status_code == 422, other.text
    assert [f["field"] for f in other.json()["error"]["fields"]] == [KEY]
    assert await _counts(db) == (1, 1)


# Reuses the reports' photo checks (api/routes/reports.py read_submission): a file over
# max_photo_mb is 413 there, as for report photos; one that is not an image is 422.
@pytest.mark.parametrize(
    ("photo", "status"),
    [
        (b"%PDF-1.4 not an image", 422),
        (b"\xff\xd8" + b"0" * (2 * 2**20), 413),
        (b"GIF89a" + b"\x00" * 64, 422),
    ],
)
async def test_a_bad_photo_is_refused_naming_it_and_nothing_is_stored(
    client, db, app, settings, visit_scene, photo, status
):
    app.state.settings = settings.model_copy(update={"max_photo_mb": 1})
    headers, mine, _theirs = visit_scene
    response = await _visit_with_photo(client, headers["worker"], mine, photo, key="bad-1")
    assert response.status_code == status, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["photos[0]"]
    assert await _counts(db) == (0, 0)
    # The refused request left its key free for the corrected retry.
    fixed = await _visit_with_photo(client, headers["worker"], mine, _photo(), key="bad-1")
    assert fixed.status_code == 201, fixed.text


async def test_a_form_visit_with_a_bad_field_is_422_naming_it(client, db, visit_scene):
    headers, mine, _theirs = visit_scene
    response = await _visit_with_photo(
        client, headers["worker"], mine, _photo(), hazards_found="many"
    )
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["hazards_found"]
    assert await _counts(db) == (0, 0)


async def test_a_photo_on_a_visit_outside_my_cells_is_refused_with_the_visit(
    client, db, visit_scene
):
    headers, _mine, theirs = visit_scene
    response = await _visit_with_photo(client, headers["worker"], theirs, _photo())
    assert response.status_code == 403, response.text
    assert await _counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("worker", 200),  # made the visit
        ("cm_a", 200),  # manages the building's community
        ("street", 200),  # manages its street
        ("other", 404),  # a colleague in the same community: not told it exists
        ("former", 404),
        ("cm_b", 404),  # another community's manager
        ("resident", 403),  # staff only
        (None, 401),
    ],
)
async def test_a_visit_photo_is_read_by_the_visitor_and_managers_over_the_building(
    client, visit_scene, who, status
):
    headers, mine, _theirs = visit_scene
    photo = _photo()
    visit = (await _visit_with_photo(client, headers["worker"], mine, photo)).json()
    url = f"/patrol/visits/{visit['id']}/photos/{visit['photo_ids'][0]}"
    response = await client.get(url, headers=headers[who] if who else {})
    assert response.status_code == status, response.text
    if status == 200:
        assert response.content == photo and response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "private, no-store"


async def test_a_visit_photo_thumbnail_is_small_and_without_exif(client, visit_scene):
    headers, mine, _theirs = visit_scene
    visit = (await _visit_with_photo(client, headers["worker"], mine, _photo())).json()
    url = f"/patrol/visits/{visit['id']}/photos/{visit['photo_ids'][0]}"
    response = await client.get(url, params={"copy": "thumbnail"}, headers=headers["cm_a"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "private, no-store"
    assert b"PatrolPhone" not in response.content
    assert max(Image.open(io.BytesIO(response.content)).size) <= 320
    bad = await client.get(url, params={"copy": "public"}, headers=headers["cm_a"])
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["copy"]


async def test_a_visit_photo_under_another_visit_id_is_404(client, visit_scene):
    headers, mine, _theirs = visit_scene
    first = (await _visit_with_photo(client, headers["worker"], mine, _photo())).json()
    second = (
        await client.post("/patrol/visits", json={"building_id": mine}, headers=headers["worker"])
    ).json()
    response = await client.get(
        f"/patrol/visits/{second['id']}/photos/{first['photo_ids'][0]}", headers=headers["worker"]
    )
    assert response.status_code == 404


async def test_no_public_answer_carries_a_visit_photo(client, visit_scene):
    """Photos are staff evidence: the patrol answers carry ids only, never bytes or EXIF."""
    headers, mine, _theirs = visit_scene
    await _visit_with_photo(client, headers["worker"], mine, _photo())
    for path, params, who in (
        ("/patrol", {}, "worker"),
        ("/patrol/coverage", {"community": "880101001001"}, "cm_a"),
        ("/statistics", {"level": "cell", "from": "2026-10-01", "to": "2027-01-01"}, None),
    ):
        response = await client.get(path, params=params, headers=headers[who] if who else {})
        assert response.status_code == 200, (path, response.text)
        assert "PatrolPhone" not in response.text and "photo" not in response.text, path
