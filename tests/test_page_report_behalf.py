"""Staff file a report for a resident from the report page (a phone call, a walk-in, a
neighbour who cannot report): signed in on this browser, they choose the channel, which
is stored with their account as the filer; a resident's page shows no such choice."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import text

from tests.factories import PASSWORD
from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]


async def _open_form(page) -> None:
    await page.goto("/report")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.locator("#map .maplibregl-canvas").wait_for()


async def test_a_worker_files_for_a_resident_who_phoned_and_the_channel_is_recorded(
    page, open_incident, async_engine
):
    # Signed in once on the worker app; the report page uses the same staff session.
    await page.goto("/worker")
    await page.fill("#username", "pages-w")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.locator("#behalf-link").click()
    await page.locator("#map .maplibregl-canvas").wait_for()
    behalf = page.locator("#on-behalf")
    await expect(behalf).to_be_visible()
    await page.get_by_label("居民来电").check()
    await page.fill("#contact_name", "李阿姨")
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    await page.fill("#description", "李阿姨来电：三楼楼道堆满杂物")
    assert await serious_violations(page) == []
    await page.click("#submit")
    await page.locator("#result").wait_for()
    number = (await page.locator("#tracking-number").inner_text()).strip()
    assert await page.get_attribute("#case-link", "href") == f"/case/{number}?lang=zh-Hans"
    async with async_engine.connect() as conn:
        row = (
            await conn.execute(
                text("""
            SELECT i.channel, u.username, i.reporter_name FROM incidents i
            LEFT JOIN users u ON u.id = i.reporter_id WHERE i.tracking_number = :n
        """),
                {"n": number},
            )
        ).one()
    assert tuple(row) == ("phone", "pages-w", "李阿姨")


async def test_a_resident_sees_no_staff_channel_choice(page, open_incident):
    await _open_form(page)
    assert await page.locator("#on-behalf").is_hidden()
