"""Before filing (issue 18): once the category and the place are known, /report lists the
open reports of that category nearby (category, status, public place, day, tracking link;
never a pin), and 我也遇到 follows one instead of filing a duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Page
from sqlalchemy import text

from tests.pages_support import needs_chromium, serious_violations
from tests.test_page_report import open_form

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

FOLLOWER_PHONE = "13700001234"


@pytest_asyncio.fixture(loop_scope="session")
async def public_place(async_engine, open_incident) -> AsyncIterator[tuple[float, float]]:
    """The open report's public place (lon, lat): where a neighbour would pin the same
    hazard. Its followers are removed afterwards."""
    async with async_engine.connect() as conn:
        row = (
            await conn.execute(
                text("""
            SELECT ST_X(p), ST_Y(p) FROM incidents,
                   LATERAL ST_Transform(public_point_3857, 4326) AS p
            WHERE tracking_number = :n"""),
                {"n": open_incident},
            )
        ).one()
    yield row[0], row[1]
    async with async_engine.begin() as conn:
        await conn.execute(
            text("""
            DELETE FROM incident_followers WHERE incident_id =
                (SELECT id FROM incidents WHERE tracking_number = :n)"""),
            {"n": open_incident},
        )


async def pin_here(page: Page, lon: float, lat: float) -> None:
    """Centre the map on lon/lat and pin the centre (the page's own button)."""
    await page.evaluate("ll => gg.currentMap.jumpTo({center: ll, zoom: 18})", [lon, lat])
    await page.click("#use-centre")


async def counts(async_engine, number: str) -> tuple[int, int]:
    """All reports, and the followers of report `number`."""
    async with async_engine.connect() as conn:
        row = (
            await conn.execute(
                text("""
            SELECT (SELECT count(*) FROM incidents),
                   (SELECT count(*) FROM incident_followers f JOIN incidents i
                      ON i.id = f.incident_id WHERE i.tracking_number = :n)"""),
                {"n": number},
            )
        ).one()
    return row[0], row[1]


async def test_the_same_hazard_nearby_is_listed_with_public_facts_and_a_tracking_link(
    page, open_incident, public_place
):
    answers: list[dict] = []

    async def keep(response):
        if "/reports/nearby" in response.url:
            answers.append(await response.json())

    page.on("response", keep)
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    await pin_here(page, *public_place)
    item = page.locator("#nearby:not([hidden]) .rep-nearby-item")
    await item.first.wait_for()
    assert await page.locator("#nearby-title").inner_text() == "附近已有相同隐患"
    words = await item.first.inner_text()
    assert "安全出口、疏散通道或楼梯间堵塞" in words and open_incident in words
    assert "上报日期：" in words and "位置：" in words
    link = item.first.locator("a")
    assert await link.get_attribute("href") == f"/track/{open_incident}?lang=zh-Hans"
    # The page was told public facts only: no coordinates, no reporter's words.
    shown = answers[-1]["open_reports"][0]
    assert not {"lon", "lat", "location", "description", "distance_m"} & set(shown)
    assert await serious_violations(page) == []


async def test_me_too_follows_the_nearby_report_and_files_nothing(
    page, open_incident, public_place, async_engine
):
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    await pin_here(page, *public_place)
    button = page.locator("#nearby .rep-follow").first
    await button.wait_for()
    reports_before, followers_before = await counts(async_engine, open_incident)
    # Without a phone (and not signed in) nothing is sent: the phone box says why.
    await button.click()
    assert (
        await page.locator("#nearby-phone-error").inner_text()
        == "请填写能接收短信的手机号码，再点“我也遇到”。"
    )
    assert await page.evaluate("document.activeElement.id") == "nearby-phone"
    await page.fill("#nearby-phone", FOLLOWER_PHONE)
    await button.click()
    status = page.locator("#nearby .rep-nearby-status").first
    await page.wait_for_function(
        "() => document.querySelector('#nearby .rep-nearby-status').textContent !== ''"
    )
    assert "已关注，没有重复上报" in await status.inner_text()
    assert await counts(async_engine, open_incident) == (reports_before, followers_before + 1)
    assert await page.locator("#result").is_hidden()  # no report was filed


async def test_in_elder_mode_the_nearby_list_has_no_serious_accessibility_violations(
    page, open_incident, public_place
):
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto("/report?lang=zh-Hans")
    await page.evaluate("() => localStorage.setItem('gridgov.elder', '1')")
    await page.reload()
    await page.locator(".rep-tile input[value='fire.blocked_exit']").wait_for(state="attached")
    await page.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")
    assert await page.evaluate("document.documentElement.classList.contains('elder')")
    await page.click(".rep-tile:has(input[value='fire.blocked_exit'])")
    await page.click("#show-map")
    await page.evaluate(
        "ll => { gg.currentMap.resize(); gg.currentMap.jumpTo({center: ll, zoom: 18}); }",
        list(public_place),
    )
    await page.locator("#map").click()  # the map's centre
    await page.locator("#nearby:not([hidden]) .rep-follow").first.wait_for()
    box = await page.locator("#nearby .rep-follow").first.bounding_box()
    assert box["height"] >= 44
    assert await serious_violations(page) == []


async def test_on_a_kiosk_the_nearby_list_names_the_number_without_a_link(
    page, open_incident, public_place
):
    await page.goto("/kiosk?lang=zh-Hans")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")
    await page.select_option("#category", "fire.blocked_exit")
    await pin_here(page, *public_place)
    item = page.locator("#nearby:not([hidden]) .rep-nearby-item").first
    await item.wait_for()
    assert open_incident in await item.inner_text()
    assert await page.locator("#nearby a").count() == 0  # no way out of the terminal's flow
    assert await serious_violations(page) == []
