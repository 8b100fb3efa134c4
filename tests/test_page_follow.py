"""我也遇到 and area alerts in headless Chromium: on a report's tracking page someone
without an account gives a mobile number and follows the report (one follower, nothing
filed); on /my-reports a signed-in resident follows their community, sees it listed and
stops it; axe finds nothing serious or critical on either, in zh-Hans and English."""

from __future__ import annotations

import random

import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from grid.models import Region
from tests.factories import PASSWORD, make_user
from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

RESIDENT = "pages-fol-res"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def resident(async_engine, open_incident) -> str:
    """A resident's account in community A (open_incident's clean-up removes it)."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        community = (
            await session.execute(select(Region).where(Region.code == "880101001001"))
        ).scalar_one()
        await make_user(session, RESIDENT, "resident", community)
        await session.commit()
    return RESIDENT


async def _count(async_engine, sql: str) -> int:
    async with async_engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_i_see_this_too_adds_one_follower_and_files_nothing(
    page, async_engine, open_incident
):
    incidents = await _count(async_engine, "SELECT count(*) FROM incidents")
    # A fresh number each run: follows are counted per phone, across runs, in the database.
    phone = f"139{random.randrange(10**8):08d}"
    await page.goto(f"/track/{open_incident}")
    section = page.locator("#follow")
    await expect(section).to_be_visible()
    await page.get_by_label("手机号码（接收进度短信）").fill(phone)
    await section.get_by_role("button", name="我也遇到").click()
    await expect(page.locator("#follow-done")).to_have_text("已关注：处理进展会通知您。")
    await expect(page.locator("#follow-count")).to_have_text("已有 1 人表示也遇到")
    assert await _count(async_engine, "SELECT count(*) FROM incidents") == incidents
    assert await _count(async_engine, "SELECT count(*) FROM incident_followers") == 1
    # The same phone again is the same follower.
    await page.reload()
    await page.get_by_label("手机号码（接收进度短信）").fill(phone)
    await section.get_by_role("button", name="我也遇到").click()
    await expect(page.locator("#follow-done")).to_have_text("您已关注此上报。")
    assert await _count(async_engine, "SELECT count(*) FROM incident_followers") == 1
    assert phone not in await page.content()


async def test_a_resident_follows_their_community_on_my_reports(page, resident, async_engine):
    await page.goto("/my-reports?lang=en")
    await page.get_by_label("User name").fill(resident)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    alerts = page.locator("#alerts")
    await expect(alerts).to_be_visible()
    await expect(page.locator("#alert-list")).to_have_text("You do not follow any community yet.")
    await page.get_by_label("Community", exact=True).select_option(label="测试街道 · 甲社区")
    await page.get_by_role("button", name="Follow this community").click()
    await expect(page.locator("#alert-status")).to_have_text("Following: 甲社区")
    await expect(page.locator("#alert-list li")).to_have_count(1)
    await expect(page.locator("#alert-list li p")).to_have_text("甲社区 · Notices on this page")
    assert await _count(async_engine, "SELECT count(*) FROM area_alerts") == 1
    assert await serious_violations(page) == []
    await page.get_by_role("button", name="Stop following 甲社区").click()
    await expect(page.locator("#alert-status")).to_have_text("No longer following: 甲社区")
    await expect(page.locator("#alert-list")).to_have_text("You do not follow any community yet.")
    assert await _count(async_engine, "SELECT count(*) FROM area_alerts") == 0


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
async def test_no_serious_accessibility_violations(page, open_incident, resident, lang):
    await page.goto(f"/track/{open_incident}?lang={lang}")
    await expect(page.locator("#follow")).to_be_visible()
    assert await serious_violations(page) == []
    await page.goto(f"/my-reports?lang={lang}&unsubscribed=1")
    await expect(page.locator("#unsubscribed")).to_be_visible()
    assert await serious_violations(page) == []
