"""Staff review before publication: automatic masking of phone and ID numbers, the review
flow (approve, edit, reject, photos), what the public view shows before and after, the
metadata-free published photo (404 until published), the queue and who may review."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import text

from incidents.publication.redaction import ID_MASK, NUMBER_MASK, PHONE_MASK, redact
from tests.factories import auth_headers, make_scene, metres_point

PHONE = "13812345678"
TEXT = f"三楼楼道堆满纸箱，房东张先生电话{PHONE}，2026-11-24 发现"
MASKED_TEXT = f"三楼楼道堆满纸箱，房东张先生电话{PHONE_MASK}，2026-11-24 发现"


# --- masking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("电话13812345678请联系", f"电话{PHONE_MASK}请联系"),
        ("138 1234 5678", PHONE_MASK),
        ("138-1234-5678", PHONE_MASK),
        ("+86 138 1234 5678", PHONE_MASK),
        ("+86-13812345678", PHONE_MASK),
        ("008613812345678", PHONE_MASK),
        ("(+86)13812345678", PHONE_MASK),
        ("１３８１２３４５６７８", PHONE_MASK),  # full-width digits
        ("＋８６　１３８－１２３４－５６７８", PHONE_MASK),  # full-width plus, space, dashes
        ("020-12345678", PHONE_MASK),
        ("(020)12345678", PHONE_MASK),
        ("（０２０）１２３４５６７８", PHONE_MASK),
        ("0755 8888 8888", PHONE_MASK),
        ("010-6552-1234 转 801", PHONE_MASK),  # the extension goes with it
        ("+86 20 12345678", PHONE_MASK),
        ("+86-755-88888888", PHONE_MASK),
        ("身份证440106199003071234", f"身份证{ID_MASK}"),
        ("44010619900307123X", ID_MASK),
        ("44010619900307123x号", f"{ID_MASK}号"),
        ("440106 19900307 1234", ID_MASK),
        ("４４０１０６１９９００３０７１２３Ｘ", ID_MASK),
        ("440106900307123", ID_MASK),  # a 15-digit (first generation) ID number
        ("卡号6222021234567890123", f"卡号{NUMBER_MASK}"),
        ("13812345678和13912345678", f"{PHONE_MASK}和{PHONE_MASK}"),
        ("电话13812345678 2026-11-24", f"电话{PHONE_MASK} 2026-11-24"),
    ],
)
def test_phone_id_and_card_numbers_are_masked(written, masked):
    assert redact(written) == masked


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-24",
        "2026年11月24日",
        "20261124",
        "2026/11/24 10:30",
        "2026-11-24 13:00 发现",
        "261124-7K3M9QXA",  # a tracking number
        "261124-13812345",  # ... whose random part happens to be all digits
        "3栋2单元1501室",
        "先烈路165号",
        "12-3-501",
        "18层",
        "3.5米",
        "119",
        "12345",
        "400-800-1234",  # emergency, hotline, a company's service number
        "87654321",  # a local number without its area code: too like any other number
        "1381234567",  # ten digits: not a mobile number
        "138123456789",  # twelve digits
    ],
)
def test_dates_tracking_and_house_numbers_are_left_alone(written):
    assert redact(written) == written


def test_masking_keeps_the_rest_of_the_text_as_written():
    written = "（急）１号楼电话：１３８ １２３４ ５６７８，请尽快处理！\n谢谢"
    assert redact(written) == f"（急）１号楼电话：{PHONE_MASK}，请尽快处理！\n谢谢"


# --- the review flow over HTTP ---------------------------------------------------------------


@pytest.fixture
async def scene(db):
    return await make_scene(db, "cm_a", "cm_a2", "cm_b", "street", "resident")


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0110] = "TestPhone"  # camera model: must not survive into the public copy
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def _report(client, description: str | None = TEXT, photos: int = 0) -> str:
    lon, lat = metres_point(250, 250)
    fields = {"category": "fire.blocked_exit", "lon": str(lon), "lat": str(lat)}
    if description is not None:
        fields["description"] = description
    if photos:
        files = [("photos", (f"p{i}.jpg", _jpeg(), "image/jpeg")) for i in range(photos)]
        response = await client.post("/reports", data=fields, files=files)
    else:
        response = await client.post("/reports", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _review(client, settings, user, number, **body):
    return await client.post(
        f"/incidents/{number}/review", json=body, headers=auth_headers(user, settings)
    )


async def _photo_ids(db, number) -> list[int]:
    return list(
        (
            await db.execute(
                text("""
        SELECT p.id FROM incident_photos p JOIN incidents i ON i.id = p.incident_id
        WHERE i.tracking_number = :t ORDER BY p.id"""),
                {"t": number},
            )
        ).scalars()
    )


async def test_a_new_report_waits_for_review_and_an_empty_one_needs_none(client, scene):
    with_text = await _report(client)
    without = await _report(client, description=None)
    blank = await _report(client, description="   ")
    public = (await client.get(f"/reports/{with_text}")).json()
    assert (public["description"], public["description_review"]) == (None, "pending")
    assert PHONE not in str(public) and "纸箱" not in str(public)
    for number in (without, blank):
        assert (await client.get(f"/reports/{number}")).json()["description_review"] == "none"


async def test_approval_publishes_the_masked_text_and_staff_still_read_the_original(
    client, settings, scene
):
    _world, users = scene
    number = await _report(client)
    response = await _review(client, settings, users["cm_a"], number, text_decision="approve")
    assert response.status_code == 200, response.text
    assert response.json()["published_description"] == MASKED_TEXT
    public = await client.get(f"/reports/{number}")
    assert public.json()["description"] == MASKED_TEXT
    assert public.json()["description_review"] == "approved"
    assert PHONE not in public.text
    staff = (
        await client.get(f"/incidents/{number}", headers=auth_headers(users["worker"], settings))
    ).json()
    assert staff["description"] == TEXT


async def test_an_edited_text_is_masked_again_and_a_rejection_withdraws_it(client, settings, scene):
    _world, users = scene
    number = await _report(client)
    edited = await _review(
        client,
        settings,
        users["street"],
        number,
        text_decision="approve",
        text="楼道堆放杂物，联系 0755-8888 8888",
    )
    assert edited.json()["published_description"] == f"楼道堆放杂物，联系 {PHONE_MASK}"
    assert (await client.get(f"/reports/{number}")).json()["description"].startswith("楼道堆放杂物")
    rejected = await _review(
        client, settings, users["cm_a"], number, text_decision="reject", reason="含有他人姓名"
    )
    assert rejected.status_code == 200
    public = (await client.get(f"/reports/{number}")).json()
    assert (public["description"], public["description_review"]) == (None, "rejected")


async def test_each_review_is_on_the_timeline_and_the_public_one_names_no_reviewer(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client)
    await _review(client, settings, users["cm_a"], number, text_decision="approve", reason="已核对")
    public = await client.get(f"/reports/{number}")
    step = public.json()["timeline"][-1]
    assert step["kind"] == "review"
    assert step["review"] == {"text": "approved", "photos_published": 0, "photos_withdrawn": 0}
    assert "cm-a" not in public.text and "已核对" not in public.text
    staff = (
        await client.get(f"/incidents/{number}", headers=auth_headers(users["cm_a"], settings))
    ).json()
    review = [e for e in staff["timeline"] if e["kind"] == "review"]
    assert [(e["actor"], e["note"]) for e in review] == [("cm-a", "已核对")]
    who = (
        await db.execute(
            text("""
        SELECT u.username FROM incidents i JOIN users u ON u.id = i.text_reviewed_by_id
        WHERE i.tracking_number = :t"""),
            {"t": number},
        )
    ).scalar()
    assert who == "cm-a"


async def test_changed_text_goes_back_to_review(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    await _review(client, settings, users["cm_a"], number, text_decision="approve")
    await db.execute(
        text("UPDATE incidents SET description = '改写后的描述' WHERE tracking_number = :t"),
        {"t": number},
    )
    public = (await client.get(f"/reports/{number}")).json()
    assert (public["description"], public["description_review"]) == (None, "pending")


async def test_a_photo_is_public_only_once_published_and_without_its_exif(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client, photos=2)
    first, second = await _photo_ids(db, number)
    assert (await client.get(f"/reports/{number}")).json()["photos"] == []
    for path in (
        f"/reports/{number}/photos/{first}",
        f"/reports/{number}/photos/{first}/thumbnail",
    ):
        assert (await client.get(path)).status_code == 404
    response = await _review(client, settings, users["cm_a"], number, publish_photos=[first])
    assert response.status_code == 200, response.text
    photos = (await client.get(f"/reports/{number}")).json()["photos"]
    assert [p["id"] for p in photos] == [first]
    shown = await client.get(photos[0]["url"])
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert "no-store" in shown.headers["cache-control"]
    assert b"TestPhone" not in shown.content
    assert Image.open(io.BytesIO(shown.content)).getexif() == {}
    thumbnail = await client.get(photos[0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and b"TestPhone" not in thumbnail.content
    assert (await client.get(f"/reports/{number}/photos/{second}")).status_code == 404
    # Staff still read the original, EXIF and all.
    original = await client.get(
        f"/incidents/{number}/photos/{first}", headers=auth_headers(users["worker"], settings)
    )
    assert original.status_code == 200 and b"TestPhone" in original.content
    await _review(client, settings, users["cm_a"], number, unpublish_photos=[first])
    assert (await client.get(f"/reports/{number}/photos/{first}")).status_code == 404
    assert (await client.get(f"/reports/{number}")).json()["photos"] == []


async def test_a_published_photo_is_not_reachable_under_another_reports_number(
    client, settings, db, scene
):
    _world, users = scene
    number = await _report(client, photos=1)
    other = await _report(client)
    (photo,) = await _photo_ids(db, number)
    await _review(client, settings, users["cm_a"], number, publish_photos=[photo])
    assert (await client.get(f"/reports/{number}/photos/{photo}")).status_code == 200
    assert (await client.get(f"/reports/{other}/photos/{photo}")).status_code == 404
    refused = await _review(client, settings, users["cm_a"], other, publish_photos=[photo])
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "publish_photos[0]"


# --- who may review ------------------------------------------------------------------------


async def test_who_may_review(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    anonymous = await client.post(f"/incidents/{number}/review", json={"text_decision": "approve"})
    assert anonymous.status_code == 401
    resident = await _review(client, settings, users["resident"], number, text_decision="approve")
    assert resident.status_code == 403
    # The worker the report is assigned to sees it but may not decide what is published.
    worker = await _review(client, settings, users["worker"], number, text_decision="approve")
    assert worker.status_code == 403
    # Another community's manager: out of scope, so not found (existence not revealed).
    outside = await _review(client, settings, users["cm_b"], number, text_decision="approve")
    assert outside.status_code == 404
    state = (
        await db.execute(
            text("SELECT text_review FROM incidents WHERE tracking_number = :t"), {"t": number}
        )
    ).scalar()
    assert state == "pending"
    assert (
        await _review(client, settings, users["street"], number, text_decision="approve")
    ).status_code == 200


async def test_a_manager_who_holds_the_report_may_not_review_it(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    version = (
        await db.execute(
            text("SELECT version FROM incidents WHERE tracking_number = :t"), {"t": number}
        )
    ).scalar()
    assigned = await client.post(
        f"/incidents/{number}/actions",
        headers=auth_headers(users["cm_a"], settings),
        json={"action": "assign", "assignee": "cm-a2", "version": version},
    )
    assert assigned.status_code == 200, assigned.text
    own = await _review(client, settings, users["cm_a2"], number, text_decision="approve")
    assert own.status_code == 403
    assert "处理人" in own.json()["error"]["message"]
    state = (
        await client.get(
            f"/incidents/{number}/publication", headers=auth_headers(users["cm_a2"], settings)
        )
    ).json()
    assert state["may_review"] is False
    assert (
        await _review(client, settings, users["cm_a"], number, text_decision="approve")
    ).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text_decision"),
        ({"text_decision": "maybe"}, "text_decision"),
        ({"text": "改过的文字"}, "text"),
        ({"text_decision": "reject", "text": "改过的文字"}, "text"),
        ({"text_decision": "approve", "text": "   "}, "text"),
        ({"text_decision": "approve", "text": "火" * 2001}, "text"),
        ({"text_decision": "approve", "reason": "a\x00b"}, "reason"),
        ({"publish_photos": [0]}, "publish_photos.0"),
        ({"publish_photos": [999999]}, "publish_photos[0]"),
        ({"publish_photos": [1], "unpublish_photos": [1]}, "unpublish_photos"),
    ],
)
async def test_bad_review_requests_name_the_field_and_change_nothing(
    client, db, settings, scene, body, field
):
    _world, users = scene
    number = await _report(client)
    response = await _review(client, settings, users["cm_a"], number, **body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    state = (
        await db.execute(
            text("""
        SELECT text_review, (SELECT count(*) FROM incident_events e
                             WHERE e.incident_id = i.id AND e.kind = 'review')
        FROM incidents i WHERE tracking_number = :t"""),
            {"t": number},
        )
    ).one()
    assert tuple(state) == ("pending", 0)


async def test_a_report_without_text_has_no_text_to_approve(client, settings, scene):
    _world, users = scene
    number = await _report(client, description=None)
    response = await _review(client, settings, users["cm_a"], number, text_decision="approve")
    assert response.status_code == 409


# --- the queue -------------------------------------------------------------------------------


async def test_the_queue_lists_what_waits_in_my_area_with_the_proposed_masking(
    client, settings, scene
):
    _world, users = scene
    older = await _report(client)
    newer = await _report(client, description=None, photos=1)
    await _report(client, description=None)  # nothing to review
    cm_a = auth_headers(users["cm_a"], settings)
    page = (await client.get("/review-queue", headers=cm_a)).json()
    assert [i["tracking_number"] for i in page["items"]] == [older, newer]
    first = page["items"][0]
    assert (first["description"], first["proposed_text"]) == (TEXT, MASKED_TEXT)
    assert page["items"][1]["text_review"] == "none"
    assert len(page["items"][1]["photos_pending"]) == 1
    one = (await client.get("/review-queue?limit=1", headers=cm_a)).json()
    assert [i["tracking_number"] for i in one["items"]] == [older] and one["next"]
    rest = (await client.get(f"/review-queue?limit=1&after={one['next']}", headers=cm_a)).json()
    assert [i["tracking_number"] for i in rest["items"]] == [newer]
    await _review(client, settings, users["cm_a"], older, text_decision="approve")
    after = (await client.get("/review-queue", headers=cm_a)).json()
    assert [i["tracking_number"] for i in after["items"]] == [newer]
    other = await client.get("/review-queue", headers=auth_headers(users["cm_b"], settings))
    assert other.json()["items"] == []
    worker = await client.get("/review-queue", headers=auth_headers(users["worker"], settings))
    assert worker.status_code == 403
    bad = await client.get("/review-queue?limit=0", headers=cm_a)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "limit"


async def test_staff_photos_are_for_staff_who_can_see_the_report(client, db, settings, scene):
    _world, users = scene
    number = await _report(client, photos=1)
    (photo,) = await _photo_ids(db, number)
    assert (await client.get(f"/incidents/{number}/photos/{photo}")).status_code == 401
    outside = await client.get(
        f"/incidents/{number}/photos/{photo}", headers=auth_headers(users["cm_b"], settings)
    )
    assert outside.status_code == 404
    public_copy = await client.get(
        f"/incidents/{number}/photos/{photo}?copy=public",
        headers=auth_headers(users["cm_a"], settings),
    )
    assert public_copy.status_code == 200 and b"TestPhone" not in public_copy.content
    bad = await client.get(
        f"/incidents/{number}/photos/{photo}?copy=raw",
        headers=auth_headers(users["cm_a"], settings),
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "copy"


async def test_a_resolved_reports_result_note_waits_in_the_queue_until_reviewed(
    client, settings, scene
):
    _world, users = scene
    number = await _report(client, description=None)
    worker = auth_headers(users["worker"], settings)
    for step in ({"action": "accept"}, {"action": "resolve", "note": "已清理，联系 13812345678"}):
        done = await client.post(f"/incidents/{number}/actions", headers=worker, json=step)
        assert done.status_code == 200, done.text
    cm_a = auth_headers(users["cm_a"], settings)
    items = (await client.get("/review-queue", headers=cm_a)).json()["items"]
    (item,) = [i for i in items if i["tracking_number"] == number]
    assert item["result_note"] == "已清理，联系 13812345678"
    assert "13812345678" not in item["proposed_result"]
    decided = await _review(client, settings, users["cm_a"], number, result_decision="approve")
    assert decided.status_code == 200, decided.text
    items = (await client.get("/review-queue", headers=cm_a)).json()["items"]
    assert number not in [i["tracking_number"] for i in items]
