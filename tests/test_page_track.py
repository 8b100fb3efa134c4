"""The tracking page (/track/{number}) in headless Chromium: the approved text with its
phone number masked (an unreviewed one not at all), and the reporter's rating of a closed
report with the secret the report page saved, or typed in with the server's errors shown
next to the field; no serious accessibility violations."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import expect
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from grid.access import Principal, load_principal
from grid.models import User
from incidents.handling.actions import ActionRequest, take_action
from incidents.intake.filing import ReportIn, submit_report
from incidents.intake.photos import inspect_photo
from incidents.publication.redaction import PHONE_MASK
from incidents.publication.review import ReviewRequest, review
from incidents.ratings.scores import SCORE_LABELS
from tests.factories import metres_point
from tests.pages_support import needs_chromium, serious_violations

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = "13812345678"
APPROVED_TEXT = "楼道堆满纸箱，请联系 138 1234 5678"
PENDING_TEXT = "二楼电表箱冒烟，未审核的描述"
CLOSED = ("rate_saved", "rate_typed", "axe")


def _photo(colour: str):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return inspect_photo(buffer.getvalue(), field="photos[0]", max_bytes=2**20)


async def _principal(session: AsyncSession, username: str) -> Principal:
    user_id = (await session.execute(select(User.id).where(User.username == username))).scalar()
    principal = await load_principal(session, user_id)
    assert principal is not None
    return principal


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def track_reports(async_engine, settings, open_incident, community_manager):
    """Reports in the pages' world, committed: one with its text and one of its two
    photos approved, one waiting for review, and three handled and closed (rateable);
    number and secret of each."""
    ctx = intake_context(settings)
    now = datetime.now(UTC)
    lon, lat = metres_point(250, 250)
    reports: dict[str, tuple[str, str]] = {}
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        worker = await _principal(session, "pages-w")
        manager = await _principal(session, community_manager)
        texts = {"approved": APPROVED_TEXT, "pending": PENDING_TEXT} | dict.fromkeys(CLOSED)
        for name, description in texts.items():
            filed = await submit_report(
                session,
                ctx,
                ReportIn(category="fire.blocked_exit", lon=lon, lat=lat, description=description),
                [_photo("red"), _photo("blue")] if name == "approved" else [],
                None,
                now,
            )
            reports[name] = (filed.tracking_number, filed.secret)
        first_photo = (
            await session.execute(
                text("""SELECT min(p.id) FROM incident_photos p JOIN incidents i
                        ON i.id = p.incident_id WHERE i.tracking_number = :t"""),
                {"t": reports["approved"][0]},
            )
        ).scalar()
        await review(
            session,
            manager,
            reports["approved"][0],
            ReviewRequest(text_decision="approve", publish_photos=(first_photo,)),
            now,
        )
        for name in CLOSED:
            for who, step in (
                (worker, ActionRequest("accept")),
                (worker, ActionRequest("resolve", note="已清理楼道")),
                (manager, ActionRequest("close")),
            ):
                await take_action(session, ctx, who, reports[name][0], step, now)
        await session.commit()
    return reports  # open_incident's clean-up deletes every incident


async def test_the_rating_levels_are_labelled_as_the_ratings_module_names_them():
    from maps.pages import strings

    labels = strings()["zh-Hans"]
    assert {score: labels[f"trk_score_{score}"] for score in range(1, 6)} == SCORE_LABELS


@needs_chromium
async def test_an_approved_text_shows_with_its_phone_masked(page, track_reports):
    number, _secret = track_reports["approved"]
    await page.goto(f"/track/{number}")
    text = page.locator("#description[data-state=approved]")
    await text.wait_for()
    assert await text.inner_text() == f"楼道堆满纸箱，请联系 {PHONE_MASK}"
    content = await page.content()
    assert PHONE not in content and "138 1234 5678" not in content
    # The published photo only (not the other one), loaded from this server.
    photo = page.locator("#photos img")
    await expect(photo).to_have_count(1)
    assert await photo.get_attribute("alt") == "现场照片 1"
    await expect(photo).to_have_js_property("complete", True)
    assert await photo.evaluate("img => img.naturalWidth") > 0
    # The review is on the timeline; the report is open, so there is no rating form.
    assert await page.locator("#timeline li[data-kind=review]").count() == 1
    assert await page.locator("#rating").is_hidden()
    assert await serious_violations(page) == []


@needs_chromium
async def test_a_text_not_yet_approved_does_not_show(page, track_reports):
    number, _secret = track_reports["pending"]
    await page.goto(f"/track/{number}?lang=en")
    notice = page.locator("#description[data-state=pending]")
    await notice.wait_for()
    assert "once staff have reviewed it" in await notice.inner_text()
    assert PENDING_TEXT not in await page.content()


@needs_chromium
async def test_the_reporter_rates_a_closed_report_by_keyboard_with_the_saved_secret(
    page, server, track_reports
):
    number, secret = track_reports["rate_saved"]
    # What the report page leaves behind after submission.
    await page.add_init_script(f"localStorage.setItem('gridgov.report.{number}', '{secret}')")
    await page.goto(f"/track/{number}")
    await page.locator("#rating-form").wait_for()
    assert await page.locator("#secret-field").is_hidden()
    assert await page.locator("#secret-saved").is_visible()
    await page.focus("#overall-4")
    await page.keyboard.press("Space")
    await page.select_option("#timeliness", "5")
    await page.fill("#comment", "处理及时")
    await page.focus("#rate-submit")
    await page.keyboard.press("Enter")
    result = page.locator("#rating-result[data-overall='4']")
    await result.wait_for()
    assert await result.inner_text() == "感谢您的评价：满意"
    assert await page.locator("#rating-form").is_hidden()
    async with httpx.AsyncClient(base_url=server) as client:
        history = await client.get(f"/reports/{number}/rating", headers={"X-Report-Secret": secret})
    assert [(r["overall"], r["timeliness"], r["comment"]) for r in history.json()["ratings"]] == [
        (4, 5, "处理及时")
    ]
    # Back later on this device: rated, and the reporter's own rating is shown.
    await page.reload()
    await page.locator("#rating-result[data-overall='4']").wait_for()
    assert await page.locator("#rating-form").is_hidden()
    assert await page.locator("#timeline li[data-kind=rating]").count() == 1


@needs_chromium
async def test_without_a_saved_secret_the_page_asks_for_it_and_shows_the_servers_errors(
    browser, server, track_reports
):
    number, secret = track_reports["rate_typed"]
    # Its own context: the page fixture counts the expected 403 in the console as an error.
    context = await browser.new_context(base_url=server)
    page = await context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(f"/track/{number}?lang=en")
        await page.locator("#rating-form").wait_for()
        field = page.get_by_label("Tracking secret", exact=True)
        assert await field.is_visible()
        await page.click("#rate-submit")  # nothing chosen: checked before sending
        assert await page.locator("#overall-error").inner_text() == (
            "Choose your overall satisfaction"
        )
        await page.get_by_label("Very satisfied", exact=True).check()
        await page.click("#rate-submit")  # no secret: the server's 422 names the field
        error = page.locator("#secret-error")
        await expect(error).to_contain_text("secret")
        assert await field.get_attribute("aria-invalid") == "true"
        await field.fill("not-the-secret")
        await page.click("#rate-submit")  # a wrong secret: 403, shown at the field
        await expect(error).to_contain_text("does not match")
        await field.fill(secret)
        await page.click("#rate-submit")
        result = page.locator("#rating-result[data-overall='5']")
        await result.wait_for()
        assert await result.inner_text() == "Thank you for your rating: Very satisfied"
        assert await error.inner_text() == ""
    finally:
        await context.close()
    assert errors == []


@needs_chromium
@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
async def test_the_track_page_with_its_rating_form_has_no_serious_violations(
    page, track_reports, lang
):
    number, _secret = track_reports["axe"]
    await page.goto(f"/track/{number}?lang={lang}")
    await page.locator("#rating-form").wait_for()
    assert await page.locator("#secret").is_visible()
    assert await serious_violations(page) == []
