"""Minimum content per category (categories.toml `min_content`): one rule in intake for
every channel — the web form's POST /reports, Open311, 12345 orders and staff filing —
refused with a 422 naming the field and the rule, nothing stored; the rule is published
with the categories for the report page to check first."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from PIL import Image
from sqlalchemy import text

from api.app import intake_context
from core.errors import InvalidInput
from grid.access import load_principal
from incidents.categories import (
    PHOTOLESS_CHANNELS,
    bundled_categories,
    check_min_content,
    min_content_for_channel,
)
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import assign, make_user, make_world, metres_point

STORAGE = "fire.flammable_storage"  # description_or_photo
GAS = "fire.gas"  # description


@pytest.fixture
async def scene(db):
    """Cell a1 with its worker; an admin who files 12345 orders."""
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    admin = await make_user(db, "root", "admin", None, "管理员")
    return world, admin


def _at(category: str, **extra) -> dict:
    lon, lat = metres_point(250, 250)
    return {"category": category, "lon": lon, "lat": lat, **extra}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(out, "JPEG")
    return out.getvalue()


async def _count(db) -> int:
    return (await db.execute(text("SELECT count(*) FROM incidents"))).scalar()


def test_every_rule_in_the_categories_file_is_one_of_the_four_values():
    rules = {spec.code: spec.min_content for spec in bundled_categories()}
    assert set(rules.values()) <= {"none", "description", "photo", "description_or_photo"}
    assert rules[STORAGE] == "description_or_photo" and rules[GAS] == "description"
    # An emergency is never held up for words or a photo.
    assert rules["fire.burning_now"] == "none"


async def test_the_categories_answer_carries_the_rule_for_the_page(client, db, scene):
    listed = {c["code"]: c for c in (await client.get("/categories")).json()["categories"]}
    assert listed[STORAGE]["min_content"] == "description_or_photo"
    assert listed["community.garbage"]["min_content"] == "none"


async def test_a_web_report_without_words_or_photo_is_refused_naming_description(client, db, scene):
    response = await client.post("/reports", json=_at(STORAGE), headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["description"]
    assert "description or a photo" in error["message"]
    assert "description_or_photo" in error["message"]
    assert await _count(db) == 0
    blank = await client.post("/reports", json=_at(STORAGE, description="   "))
    assert blank.status_code == 422
    assert "情况描述或照片" in blank.json()["error"]["message"]


async def test_a_description_or_a_photo_alone_satisfies_description_or_photo(client, db, scene):
    worded = await client.post("/reports", json=_at(STORAGE, description="楼道里堆了汽油桶"))
    assert worded.status_code == 201, worded.text
    lon, lat = metres_point(260, 250)
    pictured = await client.post(
        "/reports",
        data={"category": STORAGE, "lon": str(lon), "lat": str(lat)},
        files=[("photos", ("a.jpg", _jpeg(), "image/jpeg"))],
    )
    assert pictured.status_code == 201, pictured.text
    assert await _count(db) == 2


async def test_a_photo_does_not_stand_for_a_required_description(client, db, scene):
    response = await client.post(
        "/reports",
        data={k: str(v) for k, v in _at(GAS).items()},
        files=[("photos", ("a.jpg", _jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "description"
    assert await _count(db) == 0


async def test_open311_applies_the_same_rule_and_counts_media_url_as_the_photo(client, db, scene):
    lon, lat = metres_point(250, 250)
    form = {"service_code": STORAGE, "lat": str(lat), "long": str(lon)}
    bare = await client.post(
        "/open311/v2/requests.json", data=form, headers={"Accept-Language": "en"}
    )
    # GeoReport v2's error shape: 400, the parameter named first in the description.
    assert bare.status_code == 400, bare.text
    (problem,) = bare.json()
    assert problem["description"].startswith("description: ")
    assert "description_or_photo" in problem["description"]
    linked = await client.post(
        "/open311/v2/requests.json", data=form | {"media_url": "https://example.org/p/1.jpg"}
    )
    assert linked.status_code == 200, linked.text
    # A photo link is no description: a description-only rule still refuses it.
    gas = await client.post(
        "/open311/v2/requests.json",
        data=form | {"service_code": GAS, "media_url": "https://example.org/p/2.jpg"},
    )
    assert gas.status_code == 400
    assert await _count(db) == 1


async def test_a_12345_order_and_a_phone_call_need_a_description_where_a_photo_is_asked(
    db, settings, scene
):
    _world, admin = scene
    filer = await load_principal(db, admin.id)
    lon, lat = metres_point(250, 250)
    ctx = intake_context(settings)
    for channel in ("hotline", "phone"):
        with pytest.raises(InvalidInput) as refused:
            await submit_report(
                db,
                ctx,
                ReportIn(category=STORAGE, lon=lon, lat=lat, channel=channel),
                [],
                filer,
                datetime.now(UTC),
            )
        assert refused.value.field == "description"
        assert "(min_content = description)" in refused.value.message("en")
    filed = await submit_report(
        db,
        ctx,
        ReportIn(
            category=STORAGE,
            lon=lon,
            lat=lat,
            channel="hotline",
            description="来电反映楼道堆放液化气罐",
        ),
        [],
        filer,
        datetime.now(UTC),
    )
    assert filed.tracking_number
    assert {"hotline", "phone"} == PHOTOLESS_CHANNELS
    assert min_content_for_channel("photo", "hotline") == "description"
    assert min_content_for_channel("photo", "patrol") == "photo"


def test_a_photo_only_rule_names_photos_and_a_link_meets_it(monkeypatch):
    import incidents.categories as categories

    monkeypatch.setattr(categories, "min_content", lambda _code: "photo")
    with pytest.raises(InvalidInput) as refused:
        check_min_content("any.kind", "web", "有文字", 0)
    assert refused.value.field == "photos"
    assert "(min_content = photo)" in refused.value.message("en")
    check_min_content("any.kind", "web", None, 0, photo_link=True)
    check_min_content("any.kind", "patrol", None, 1)
