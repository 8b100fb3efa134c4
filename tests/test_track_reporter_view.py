"""What the reporter sees on GET /reports/{n} (and /track/{n}): the handling result (the
resolve note once a reviewer approved it for publication, masked; the after photos once
published) for anyone holding the number; their own text and photos with
the secret from submission; nobody else sees anything
unapproved, and a wrong secret is refused naming the field."""

from __future__ import annotations

import io

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import expect
from sqlalchemy import text

from incidents.publication.redaction import PHONE_MASK
from tests.factories import auth_headers, make_scene, metres_point
from tests.pages_support import needs_chromium, serious_violations

OWN_TEXT = "三楼楼道堆满纸箱，电话13812345678"
NOTE = "已清理楼道纸箱，房东电话13912345678已告知"


@pytest.fixture
async def scene(db):
    return await make_scene(db, "cm_a", "cm_a2", "resident")


def _jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _report(client, headers=None) -> tuple[str, str]:
    lon, lat = metres_point(250, 250)
    fields = {
        "category": "fire.blocked_exit",
        "lon": str(lon),
        "lat": str(lat),
        "description": OWN_TEXT,
    }
    response = await client.post(
        "/reports",
        data=fields,
        headers=headers or {},
        files=[("photos", ("own.jpg", _jpeg("red"), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"], response.json()["secret"]


async def _act(client, settings, user, number, action, note=None, photo=None):
    data = {"action": action} | ({"note": note} if note else {})
    headers = auth_headers(user, settings)
    if photo:
        response = await client.post(
            f"/incidents/{number}/actions",
            data=data,
            files=[("photos", ("after.jpg", photo, "image/jpeg"))],
            headers=headers,
        )
    else:
        response = await client.post(f"/incidents/{number}/actions", json=data, headers=headers)
    assert response.status_code == 200, response.text


async def _photos(db, number) -> dict[str, int]:
    """The report's photo ids by step: 'own' (filed with it) and 'after' (resolving)."""
    rows = (
        await db.execute(
            text("""
        SELECT p.id, e.to_status FROM incident_photos p JOIN incidents i ON i.id = p.incident_id
        LEFT JOIN incident_events e ON e.id = p.event_id
        WHERE i.tracking_number = :t ORDER BY p.id"""),
            {"t": number},
        )
    ).all()
    return {"after" if step == "resolved" else "own": pid for pid, step in rows}


async def _handled(client, settings, users, number, *, close: bool = True) -> None:
    await _act(client, settings, users["worker"], number, "accept")
    await _act(
        client, settings, users["worker"], number, "resolve", note=NOTE, photo=_jpeg("green")
    )
    if close:
        await _act(client, settings, users["cm_a"], number, "close")


async def _public(client, number, secret=None, headers=None):
    extra = {"X-Report-Secret": secret} if secret is not None else {}
    response = await client.get(f"/reports/{number}", headers=extra | (headers or {}))
    return response


async def _review(client, settings, user, number, **body):
    return await client.post(
        f"/incidents/{number}/review", json=body, headers=auth_headers(user, settings)
    )


async def test_before_review_nothing_of_the_result_is_public_even_once_closed(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _report(client)
    await _handled(client, settings, users, number, close=False)
    body = (await _public(client, number)).json()
    assert body["status"] == "resolved"
    assert body["result"] == {"note": None, "photos": []}
    assert body["own"] is None and body["description"] is None and body["photos"] == []
    await _act(client, settings, users["cm_a"], number, "close")
    answer = await _public(client, number)
    assert answer.json()["result"] == {"note": None, "photos": []}
    assert "已清理" not in answer.text and "纸箱" not in answer.text
    state = (
        await client.get(
            f"/incidents/{number}/publication", headers=auth_headers(users["cm_a2"], settings)
        )
    ).json()
    assert (state["result_note"], state["result_review"]) == (NOTE, "pending")


async def test_an_approved_note_is_public_masked_and_after_photos_once_published(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _report(client)
    await _handled(client, settings, users, number)
    approved = await _review(client, settings, users["cm_a2"], number, result_decision="approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["result_review"] == "approved"
    body = (await _public(client, number)).json()
    assert body["result"]["note"] == f"已清理楼道纸箱，房东电话{PHONE_MASK}已告知"
    assert "13912345678" not in (await _public(client, number)).text
    # The after photo waits for its own review.
    assert body["result"]["photos"] == []
    ids = await _photos(db, number)
    reviewed = await _review(
        client, settings, users["cm_a2"], number, publish_photos=[ids["after"]]
    )
    assert reviewed.status_code == 200, reviewed.text
    body = (await _public(client, number)).json()
    assert [p["id"] for p in body["result"]["photos"]] == [ids["after"]]
    # The reporter's own photo is not among the public ones: it was not published.
    assert body["photos"] == []
    served = await client.get(body["result"]["photos"][0]["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    # The public timeline says a review happened, never what the note said before it.
    assert [s["kind"] for s in body["timeline"]].count("review") == 2


async def test_a_rejected_note_stays_private_and_the_handler_may_not_review_it(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _report(client)
    await _handled(client, settings, users, number, close=False)
    by_handler = await _review(client, settings, users["worker"], number, result_decision="approve")
    assert by_handler.status_code == 403
    rejected = await _review(
        client, settings, users["cm_a"], number, result_decision="reject", reason="含住户信息"
    )
    assert rejected.status_code == 200, rejected.text
    assert (await _public(client, number)).json()["result"]["note"] is None


async def test_a_note_needs_approving_again_after_the_report_is_reopened(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _report(client)
    await _handled(client, settings, users, number)
    await _review(client, settings, users["cm_a2"], number, result_decision="approve")
    await _act(client, settings, users["cm_a"], number, "reopen", note="隐患复现")
    assert (await _public(client, number)).json()["result"]["note"] is None
    nothing = await _review(client, settings, users["cm_a2"], number, result_decision="approve")
    assert nothing.status_code == 409
    await _act(client, settings, users["worker"], number, "accept")
    await _act(client, settings, users["worker"], number, "resolve", note="再次清理")
    assert (await _public(client, number)).json()["result"]["note"] is None
    await _review(client, settings, users["cm_a2"], number, result_decision="approve")
    assert (await _public(client, number)).json()["result"]["note"] == "再次清理"


async def test_the_reporter_sees_their_own_text_and_photos_with_the_secret(
    client, db, settings, scene
):
    _world, _users = scene
    number, secret = await _report(client)
    answer = await _public(client, number, secret)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-store"
    own = answer.json()["own"]
    assert own["description"] == OWN_TEXT  # their own words, unmasked and unreviewed
    assert [p["id"] for p in own["photos"]] == [(await _photos(db, number))["own"]]
    assert own["photos"][0]["thumbnail"].startswith("data:image/jpeg;base64,/9j/")
    # The public part is unchanged by the secret: still nothing unapproved.
    assert answer.json()["description"] is None and answer.json()["photos"] == []


async def test_without_the_secret_nobody_sees_the_unapproved_text_or_photos(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _report(client)
    for headers in (
        {},
        auth_headers(users["resident"], settings),
        auth_headers(users["worker"], settings),
    ):
        answer = await _public(client, number, headers=headers)
        assert answer.status_code == 200
        assert answer.json()["own"] is None
        assert "纸箱" not in answer.text and "13812345678" not in answer.text
    assert (await _public(client, number, "")).json()["own"] is None


async def test_a_wrong_secret_is_refused_naming_the_field(client, db, settings, scene):
    _world, _users = scene
    number, _secret = await _report(client)
    _other, other_secret = await _report(client)
    for wrong in ("not-the-secret", other_secret):
        answer = await _public(client, number, wrong)
        assert answer.status_code == 403, answer.text
        error = answer.json()["error"]
        assert [f["field"] for f in error["fields"]] == ["secret"]
        assert "纸箱" not in answer.text


async def test_signed_in_as_the_reporter_is_not_enough_without_the_secret(
    client, db, settings, scene
):
    _world, users = scene
    headers = auth_headers(users["resident"], settings)
    number, secret = await _report(client, headers)
    assert (await _public(client, number, headers=headers)).json()["own"] is None
    answer = await _public(client, number, secret, headers=headers)
    assert answer.json()["own"]["description"] == OWN_TEXT


# --- the page (/track/{n}) in headless Chromium -------------------------------------------


async def _principal(session, username: str):
    from sqlalchemy import select

    from grid.access import load_principal
    from grid.models import User

    user_id = (await session.execute(select(User.id).where(User.username == username))).scalar()
    return await load_principal(session, user_id)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def handled_report(async_engine, settings, open_incident, community_manager):
    """A committed report with the reporter's photo, resolved by the pages' worker with a
    note and an after photo (not yet verified); its number and secret."""
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from api.app import intake_context
    from incidents.handling.actions import ActionRequest, take_action
    from incidents.intake.filing import ReportIn, submit_report
    from incidents.intake.photos import inspect_photo

    def photo(colour):
        return inspect_photo(_jpeg(colour), field="photos[0]", max_bytes=2**20)

    ctx = intake_context(settings)
    now = datetime.now(UTC)
    lon, lat = metres_point(250, 250)
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        worker = await _principal(session, "pages-w")
        filed = await submit_report(
            session,
            ctx,
            ReportIn(category="fire.blocked_exit", lon=lon, lat=lat, description=OWN_TEXT),
            [photo("red")],
            None,
            now,
        )
        await take_action(session, ctx, worker, filed.tracking_number, ActionRequest("accept"), now)
        await take_action(
            session,
            ctx,
            worker,
            filed.tracking_number,
            ActionRequest("resolve", note=NOTE),
            now,
            [photo("green")],
        )
        await session.commit()
    return filed.tracking_number, filed.secret


@needs_chromium
async def test_the_page_shows_the_result_note_after_approval_and_the_reporters_own(
    page, async_engine, settings, handled_report, community_manager
):
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from api.app import intake_context
    from incidents.handling.actions import ActionRequest, take_action
    from incidents.publication.review import ReviewRequest, review

    number, secret = handled_report
    await page.add_init_script(f"localStorage.setItem('gridgov.report.{number}', '{secret}')")
    await page.goto(f"/track/{number}")
    # The reporter (this device holds the secret) sees what they sent, unreviewed.
    own = page.locator("#own-description")
    await expect(own).to_have_text(OWN_TEXT)
    await expect(page.locator("#own-photos img")).to_have_count(1)
    # Not approved yet: no result on the page.
    assert await page.locator("#report-result").is_hidden()
    assert "已清理" not in await page.content()

    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        manager = await _principal(session, community_manager)
        now = datetime.now(UTC)
        await take_action(
            session, intake_context(settings), manager, number, ActionRequest("close"), now
        )
        after = (await _photos(session, number))["after"]
        await review(
            session,
            manager,
            number,
            ReviewRequest(result_decision="approve", publish_photos=(after,)),
            now,
        )
        await session.commit()
    await page.reload()
    note = page.locator("#result-note")
    await expect(note).to_have_text(f"已清理楼道纸箱，房东电话{PHONE_MASK}已告知")
    photo = page.locator("#result-photos img")
    await expect(photo).to_have_count(1)
    assert await photo.get_attribute("alt") == "整改后照片 1"
    await expect(photo).to_have_js_property("complete", True)
    assert await photo.evaluate("img => img.naturalWidth") > 0
    assert "13912345678" not in await page.content()
    assert await serious_violations(page) == []


@needs_chromium
async def test_without_the_secret_the_page_shows_nothing_of_the_reporters_own(page, handled_report):
    number, _secret = handled_report
    await page.goto(f"/track/{number}?lang=en")
    await page.locator("#track-status[data-status]").wait_for()
    assert await page.locator("#report-own").is_hidden()
    assert OWN_TEXT not in await page.content()


@needs_chromium
async def test_a_stale_secret_on_the_device_falls_back_to_the_public_view(
    browser, server, handled_report
):
    number, _secret = handled_report
    # Its own context: the refused secret's 403 is an expected console error here.
    context = await browser.new_context(base_url=server)
    page = await context.new_page()
    page.set_default_timeout(5000)
    try:
        await page.add_init_script(
            f"localStorage.setItem('gridgov.report.{number}', 'not-the-secret')"
        )
        await page.goto(f"/track/{number}")
        await page.locator("#track-status[data-status]").wait_for()
        assert await page.locator("#report-own").is_hidden()
        assert OWN_TEXT not in await page.content()
    finally:
        await context.close()
