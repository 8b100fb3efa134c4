"""The front page (/), the look-up on /track and a resident's /my-reports in headless
Chromium: a tracking number typed in lower case with spaces lands on its report, a
malformed one is explained in words; the last four phone digits show the reporter what
they sent; a signed-in resident sees their own reports; every page links home; axe finds
nothing serious or critical in either language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from grid.access import load_principal
from grid.models import Region
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import PASSWORD, make_user, metres_point
from tests.pages_support import REPORTER_TEXT, needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

RESIDENT = "pages-front-res"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def resident_reports(async_engine, settings, open_incident) -> list[str]:
    """A resident's account with two reports filed from it (committed; open_incident's
    clean-up removes them and the account)."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        community = (
            await session.execute(select(Region).where(Region.code == "880101001001"))
        ).scalar_one()
        user = await make_user(session, RESIDENT, "resident", community)
        principal = await load_principal(session, user.id)
        lon, lat = metres_point(260, 260)
        numbers = []
        for category in ("fire.blocked_exit", "fire.ebike_indoor"):
            filed = await submit_report(
                session,
                intake_context(settings),
                ReportIn(category=category, lon=lon, lat=lat, description="我的上报"),
                [],
                principal,
                datetime.now(UTC),
            )
            numbers.append(filed.tracking_number)
        await session.commit()
    return numbers


async def test_a_lower_case_number_with_spaces_lands_on_its_report(page, open_incident):
    await page.goto("/")
    field = page.get_by_label("上报编号")
    await field.fill(f"  {open_incident.lower()[:9]} {open_incident.lower()[9:]} ")
    await field.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/track/{open_incident}\?lang=zh-Hans$"))
    await expect(page.locator("#number")).to_have_text(open_incident)
    await expect(page.locator("#track-status")).to_contain_text("状态")


async def test_a_malformed_number_is_explained_and_keeps_the_focus(page, open_incident):
    await page.goto("/?lang=en")
    field = page.get_by_label("Tracking number")
    await field.fill("26120-ABC")
    await page.click("#lookup-submit")
    await expect(page.locator("#lookup-error")).to_have_text(
        "That is not a tracking number: it has 6 digits, a dash and 8 letters or digits, "
        "e.g. 261206-CW20EWV8."
    )
    assert await field.get_attribute("aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "lookup-number"
    assert page.url.endswith("/?lang=en")


async def test_the_track_page_without_a_number_looks_one_up(page, open_incident):
    await page.goto("/track?lang=en")
    await page.get_by_label("Tracking number").fill(open_incident.lower())
    await page.get_by_role("button", name="Find").click()
    await expect(page.locator("#number")).to_have_text(open_incident)


async def test_the_last_four_phone_digits_show_the_reporter_what_they_sent(page, open_incident):
    await page.goto(f"/track/{open_incident}?lang=en")
    form = page.locator("#phone-proof")
    await expect(form).to_be_visible()
    await page.get_by_label("Last 4 digits of your phone").fill("5678")
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#own-description")).to_have_text(REPORTER_TEXT)
    await expect(form).to_be_hidden()


async def test_my_reports_lists_a_signed_in_residents_reports(
    page, resident_reports, open_incident
):
    await page.goto("/")
    await page.get_by_role("link", name="我的上报").first.click()
    await page.get_by_label("用户名").fill(RESIDENT)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    listed = page.locator("#mine-list a")
    await expect(listed).to_have_count(2)
    assert sorted(await listed.all_inner_texts()) == sorted(resident_reports)
    # Someone else's report is not among them.
    assert open_incident not in await page.locator("#mine-list").inner_text()
    await listed.first.click()
    await expect(page.locator("#number")).to_have_text(resident_reports[1])


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
async def test_no_serious_accessibility_violations(page, open_incident, resident_reports, lang):
    for path in ("/", "/track", f"/track/{open_incident}", "/my-reports"):
        await page.goto(f"{path}?lang={lang}")
        await page.wait_for_load_state("networkidle")
        assert await serious_violations(page) == [], path
        # Every page leads home.
        home = page.locator("header nav a").first
        assert await home.get_attribute("href") == f"/?lang={lang}"
    await page.goto(f"/?lang={lang}")
    await expect(page.locator("#figures-status")).not_to_have_text(
        "正在加载公示数据…" if lang == "zh-Hans" else "Loading the published figures…"
    )
