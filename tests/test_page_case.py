"""The report's staff page (/case/{number}) in headless Chromium on a phone: the worker
signs for a report, checks in by GPS, starts, and resolves with a note and a photo; the
manager verifies and closes; offline, the actions wait on the phone (IndexedDB) and are
replayed once each, in order; a manager's change made meanwhile is shown as a conflict
and the worker's note and photo survive it. No serious accessibility violations."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from grid.access import Principal, load_principal
from grid.models import User
from incidents.handling.actions import ActionRequest, take_action
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import PASSWORD, metres_point
from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

PHONE = {"width": 390, "height": 844}
WORKER = "pages-w"
RESULT = "已清理楼道杂物，恢复通道畅通"
SCRIPT_ERRORS: list[str] = []
SECRETS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _no_script_errors():
    SCRIPT_ERRORS.clear()
    yield
    assert SCRIPT_ERRORS == []


def _jpeg(path, colour: str = "green") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return str(path)


async def _principal(session: AsyncSession, username: str) -> Principal:
    user_id = (await session.execute(select(User.id).where(User.username == username))).scalar()
    principal = await load_principal(session, user_id)
    assert principal is not None
    return principal


@pytest_asyncio.fixture(loop_scope="session")
async def new_report(async_engine, settings, open_incident, community_manager):
    """A fresh report in the worker's cell, routed to them; a factory taking the steps
    already taken (by the worker) before the page opens."""

    async def make(*steps: str) -> str:
        async with AsyncSession(async_engine, expire_on_commit=False) as session:
            lon, lat = metres_point(250, 250)
            filed = await submit_report(
                session,
                intake_context(settings),
                ReportIn(
                    category="fire.blocked_exit",
                    lon=lon,
                    lat=lat,
                    description="五楼楼道堆放杂物",
                    contact_phone="13912345678",
                ),
                [],
                None,
                datetime.now(UTC),
            )
            worker = await _principal(session, WORKER)
            for step in steps:
                await take_action(
                    session,
                    intake_context(settings),
                    worker,
                    filed.tracking_number,
                    ActionRequest(step),
                    datetime.now(UTC),
                )
            await session.commit()
        SECRETS[filed.tracking_number] = filed.secret
        return filed.tracking_number

    return make


async def _events(async_engine, number: str) -> list[tuple[str, str | None, str | None]]:
    async with async_engine.connect() as conn:
        rows = await conn.execute(
            text("""
            SELECT e.kind, e.to_status, e.note FROM incident_events e
            JOIN incidents i ON i.id = e.incident_id
            WHERE i.tracking_number = :t ORDER BY e.id
        """),
            {"t": number},
        )
        return [tuple(r) for r in rows]


async def _scalar(async_engine, sql: str, number: str):
    async with async_engine.connect() as conn:
        return (await conn.execute(text(sql), {"t": number})).scalar()


async def _phone(browser, server) -> BrowserContext:
    """A phone-sized context whose GPS stands at the report's spot."""
    lon, lat = metres_point(252, 251)
    context = await browser.new_context(
        base_url=server,
        locale="zh-CN",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"longitude": lon, "latitude": lat},
        permissions=["geolocation"],
    )
    return context


async def _open(context: BrowserContext, number: str, username: str) -> Page:
    page = await context.new_page()
    page.set_default_timeout(8000)
    # A script error would leave the page half-working while a check might still pass.
    page.on("pageerror", lambda exc: SCRIPT_ERRORS.append(str(exc)))
    await page.goto(f"/case/{number}")
    if await page.locator("#login").is_visible():
        await page.fill("#username", username)
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
    await page.locator("body[data-status]").wait_for(state="attached")
    return page


async def _act(page: Page, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).click()


async def test_a_report_goes_from_assigned_to_closed_and_rated_through_the_pages_only(
    browser,
    server,
    new_report,
    community_manager,
    async_engine,
    tmp_path,
):
    number = await new_report()
    secret = SECRETS[number]
    context = await _phone(browser, server)
    page = await _open(context, number, WORKER)
    # The worker sees the address line, the distance from their GPS and the map-app link.
    await expect(page.locator("#case-distance")).to_have_text("2 m", timeout=8000)
    assert (await page.get_attribute("#case-navigate", "href")).startswith("geo:")
    # Only the actions the worker may take now; never a manager's.
    buttons = page.locator("#action-buttons button")
    await expect(buttons.first).to_have_text("签收")
    names = await buttons.all_inner_texts()
    assert "验收关闭" not in names and "指派" not in names
    assert await serious_violations(page) == []

    await _act(page, "签收")
    await expect(page.locator("#case-status")).to_have_text("已受理")
    await _act(page, "到场签到")
    await expect(page.locator("#case-message")).to_contain_text("在现场")
    await _act(page, "开始处理")
    await expect(page.locator("#case-status")).to_have_text("处理中")
    await _act(page, "办结")
    # Resolving without a photo is refused in the page, next to the field.
    await page.fill("#f-result", RESULT)
    await page.click("button.action-submit")
    await expect(page.locator("#f-after-error")).to_contain_text("整改后照片")
    await page.set_input_files("#f-before", _jpeg(tmp_path / "before.jpg", "red"))
    await page.set_input_files("#f-after", _jpeg(tmp_path / "after.jpg"))
    await page.click("button.action-submit")
    await expect(page.locator("#case-status")).to_have_text("已办结")
    await expect(page.locator(".case-photo")).to_have_count(2)
    await expect(page.locator(".case-photo.stage-after")).to_have_count(1)
    # Resolved: the worker has nothing more to do (verifying is the manager's).
    await expect(page.locator("#no-actions")).to_be_visible()
    await context.close()

    manager = await browser.new_context(
        base_url=server, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    desk = await _open(manager, number, community_manager)
    await expect(desk.get_by_text(RESULT)).to_be_visible()
    assert await serious_violations(desk) == []
    await _act(desk, "验收关闭")
    await expect(desk.locator("#case-status")).to_have_text("已关闭")
    # The result note and the after photo go public through the publication review.
    await desk.goto("/desk")
    await desk.locator("button[data-section=review]").click()
    card = desk.locator(f"#reviews li[data-review='{number}']")
    await card.get_by_role("button", name="公开处理结果", exact=True).click()
    await expect(desk.get_by_text(f"{number} 的处理结果已公开")).to_be_visible()
    card = desk.locator(f"#reviews li[data-review='{number}']")
    for box in await card.locator(".desk-photo-pick").all():
        await box.check()
    await card.get_by_role("button", name="公开所选照片").click()
    await expect(card.locator(".desk-photo-pick")).to_have_count(0)
    await manager.close()

    # The reporter follows it on /track with the secret the report page kept, sees what
    # was done, and rates it there.
    reporter = await browser.new_context(base_url=server, locale="zh-CN", viewport=PHONE)
    track = await reporter.new_page()
    await track.add_init_script(f"localStorage.setItem('gridgov.report.{number}', '{secret}')")
    await track.goto(f"/track/{number}")
    await expect(track.locator("#result-note")).to_have_text(RESULT)
    await expect(track.locator("#result-photos img")).to_have_count(1)
    await track.locator("#rating-form").wait_for()
    await track.get_by_label("非常满意", exact=True).check()
    await track.click("#rate-submit")
    await track.locator("#rating-result[data-overall='5']").wait_for()
    assert await serious_violations(track) == []
    await reporter.close()

    steps = [(kind, to) for kind, to, _ in await _events(async_engine, number)]
    assert [to for kind, to in steps if kind in ("transition", "assignment")][-4:] == [
        "accepted",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert ("check_in", None) in steps
    rated = await _scalar(
        async_engine,
        """
        SELECT string_agg(g.overall::text || g.channel, ',') FROM ratings g
        JOIN incidents i ON i.id = g.incident_id WHERE i.tracking_number = :t""",
        number,
    )
    assert rated == "5secret"
    on_site = await _scalar(
        async_engine,
        """
        SELECT bool_and(c.on_site) FROM check_ins c JOIN incidents i
        ON i.id = c.incident_id WHERE i.tracking_number = :t""",
        number,
    )
    assert on_site is True


async def test_offline_actions_wait_on_the_phone_and_are_sent_once_each_in_order(
    browser,
    server,
    new_report,
    async_engine,
    tmp_path,
):
    number = await new_report()
    context = await _phone(browser, server)
    page = await _open(context, number, WORKER)
    await context.set_offline(True)
    await expect(page.locator("#queue-status")).to_contain_text("离线")
    await _act(page, "签收")
    await expect(page.locator("#case-message")).to_contain_text("联网后自动发送")
    # The page shows the state the queued action leads to, and the next step.
    await expect(page.locator("#case-status")).to_contain_text("已受理")
    await _act(page, "办结")
    await page.fill("#f-result", RESULT)
    await page.set_input_files("#f-after", _jpeg(tmp_path / "after.jpg"))
    await page.click("button.action-submit")
    await expect(page.locator("#queue-status")).to_contain_text("2 条待发送")
    assert (
        await _scalar(
            async_engine, "SELECT status FROM incidents WHERE tracking_number = :t", number
        )
        == "assigned"
    )
    # A reload while offline does not lose them (they live in IndexedDB).
    await context.set_offline(False)
    await page.evaluate("() => new Promise(r => setTimeout(r, 50))")
    await expect(page.locator("#queue-status")).not_to_contain_text("待发送", timeout=10000)
    await expect(page.locator("#case-status")).to_have_text("已办结")
    transitions = [
        to for kind, to, _ in await _events(async_engine, number) if kind == "transition"
    ]
    assert transitions == ["accepted", "resolved"]
    photos = await _scalar(
        async_engine,
        """SELECT count(*) FROM incident_photos p
        JOIN incidents i ON i.id = p.incident_id WHERE i.tracking_number = :t""",
        number,
    )
    assert photos == 1
    await context.close()


async def test_a_managers_change_made_offline_is_shown_and_the_workers_note_and_photo_survive(
    browser,
    server,
    new_report,
    community_manager,
    async_engine,
    settings,
    tmp_path,
):
    number = await new_report("accept")
    context = await _phone(browser, server)
    page = await _open(context, number, WORKER)
    await context.set_offline(True)
    await _act(page, "办结")
    await page.fill("#f-result", RESULT)
    await page.set_input_files("#f-after", _jpeg(tmp_path / "after.jpg"))
    await page.click("button.action-submit")
    await expect(page.locator("#queue-status")).to_contain_text("1 条待发送")
    # Meanwhile the manager sends the report back to the queue's owner (a new version).
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        manager = await _principal(session, community_manager)
        version = await _scalar(
            async_engine, "SELECT version FROM incidents WHERE tracking_number = :t", number
        )
        await take_action(
            session,
            intake_context(settings),
            manager,
            number,
            ActionRequest("assign", assignee=WORKER, version=version),
            datetime.now(UTC),
        )
        await session.commit()
    await context.set_offline(False)
    problem = page.locator("#problems li")
    await expect(problem).to_have_count(1, timeout=10000)
    await expect(problem).to_contain_text("办结")
    await expect(problem.locator(".kept-note")).to_have_text(RESULT)
    await expect(problem.locator("img.kept-photo")).to_have_count(1)
    await expect(page.locator("#queue-status")).to_contain_text("1 条需处理")
    # The server holds the manager's state, not a half-applied resolve.
    assert (
        await _scalar(
            async_engine, "SELECT status FROM incidents WHERE tracking_number = :t", number
        )
        == "assigned"
    )
    # Reloaded, the kept note and photo are still there (IndexedDB, not the page).
    await page.reload()
    await expect(page.locator("#problems .kept-note")).to_have_text(RESULT)
    assert await serious_violations(page) == []
    await context.close()


async def test_a_page_signed_in_once_serves_every_tab_and_signing_out_ends_it(
    browser,
    server,
    new_report,
):
    number = await new_report()
    context = await browser.new_context(base_url=server, locale="zh-CN")
    first = await _open(context, number, WORKER)
    second = await context.new_page()
    await second.goto(f"/case/{number}")
    await second.locator("body[data-status]").wait_for(state="attached")
    await first.click("#logout")
    await expect(second.locator("#login")).to_be_visible()
    assert await second.evaluate("() => localStorage.getItem('gridgov.staff.token')") is None
    await context.close()
