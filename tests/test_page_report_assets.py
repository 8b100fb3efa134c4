"""The report page's city asset picker (部件, issue 16): reporting 消火栓损坏 next to a
hydrant offers the hydrant ("none of these" chosen until the resident picks it), the
report carries it (incidents.asset_id), a category concerning no asset offers none, and an
asset that no longer fits is refused at the picker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Page
from sqlalchemy import text

from tests.factories import metres_point
from tests.pages_support import needs_chromium, serious_violations
from tests.test_page_report import click_at as click_map_at
from tests.test_page_report import open_form, submit_and_get_number

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

HYDRANT = "4401060116000701"
CABINET = "4401060651000702"
HYDRANT_AT = (300, 180)  # in cell a1, away from open_incident's report at (250, 250)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hydrant(async_engine, open_incident) -> AsyncIterator[str]:
    """A hydrant at HYDRANT_AT and an extinguisher cabinet 20 m east, committed for the
    server; removed afterwards with the reports naming them."""
    async with async_engine.begin() as conn:
        for code, kind, x in (
            (HYDRANT, "fire_hydrant", HYDRANT_AT[0]),
            (CABINET, "extinguisher_cabinet", HYDRANT_AT[0] + 20),
        ):
            lon, lat = metres_point(x, HYDRANT_AT[1])
            await conn.execute(
                text("""
                INSERT INTO city_assets (code, kind, status, location, source, name)
                VALUES (:code, :kind, 'in_service', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                        'file', :name)
            """),
                {"code": code, "kind": kind, "lon": lon, "lat": lat, "name": f"测试{kind}"},
            )
    yield HYDRANT
    async with async_engine.begin() as conn:
        await conn.execute(
            text("""
            DELETE FROM incidents WHERE asset_id IN
                (SELECT id FROM city_assets WHERE code = ANY(:codes))"""),
            {"codes": [HYDRANT, CABINET]},
        )
        await conn.execute(
            text("DELETE FROM city_assets WHERE code = ANY(:codes)"), {"codes": [HYDRANT, CABINET]}
        )


async def pin_at(page: Page, x: float, y: float) -> None:
    """Click the map at (x, y) metres, the map scrolled into view first (the category's
    questions push it down)."""
    await page.locator("#map").scroll_into_view_if_needed()
    await click_map_at(page, x, y)
    await page.wait_for_function("() => document.getElementById('pin-coords').textContent")


async def offered(page: Page) -> list[str]:
    """The picker's choices as shown, once it is shown."""
    await page.locator("#assets:not([hidden]) input[name=asset_code]").first.wait_for()
    return [t.strip() for t in await page.locator("#asset-list label").all_inner_texts()]


async def test_reporting_broken_fire_equipment_by_a_hydrant_offers_it_and_files_it(
    page, hydrant, async_engine
):
    await open_form(page)
    await page.select_option("#category", "fire.equipment")
    await pin_at(page, HYDRANT_AT[0] + 4, HYDRANT_AT[1])
    choices = await offered(page)
    # "None of these" first and chosen; then nearest first, with the kind, code and metres.
    assert choices[0] == "不是这些"
    assert choices[1].startswith(f"消火栓 {HYDRANT} · ") and choices[1].endswith(" 米")
    assert choices[2].startswith(f"灭火器箱 {CABINET} · ")
    assert await page.locator("input[name=asset_code][value='']").is_checked()
    assert await serious_violations(page) == []
    await page.check(f"input[name=asset_code][value='{HYDRANT}']")
    await page.fill("#description", "消火栓损坏，阀门漏水")
    number = await submit_and_get_number(page)
    async with async_engine.connect() as conn:
        carried = (
            await conn.execute(
                text("""
            SELECT a.code FROM incidents i JOIN city_assets a ON a.id = i.asset_id
            WHERE i.tracking_number = :n"""),
                {"n": number},
            )
        ).scalar_one()
    assert carried == HYDRANT


async def test_a_category_concerning_no_asset_offers_none(page, hydrant):
    await open_form(page)
    await page.select_option("#category", "fire.equipment")
    await pin_at(page, HYDRANT_AT[0] + 4, HYDRANT_AT[1])
    await offered(page)
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#assets").wait_for(state="hidden")
    assert await page.locator("input[name=asset_code]").count() == 0


async def test_an_asset_removed_meanwhile_is_refused_at_the_picker_and_nothing_is_filed(
    page, hydrant, async_engine
):
    await open_form(page)
    await page.select_option("#category", "fire.equipment")
    await pin_at(page, HYDRANT_AT[0] + 4, HYDRANT_AT[1])
    await offered(page)
    await page.check(f"input[name=asset_code][value='{HYDRANT}']")
    await page.fill("#description", "消火栓不见了")
    async with async_engine.begin() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM incidents"))).scalar()
        await conn.execute(
            text("UPDATE city_assets SET status = 'removed' WHERE code = :c"), {"c": HYDRANT}
        )
    try:
        await page.click("#submit")
        await page.wait_for_function(
            "() => document.getElementById('asset_code-error').textContent !== ''"
        )
        assert (
            await page.locator(f"input[name=asset_code][value='{HYDRANT}']").get_attribute(
                "aria-invalid"
            )
            == "true"
        )
        assert await page.locator("#result").is_hidden()
        async with async_engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM incidents"))).scalar() == before
    finally:
        async with async_engine.begin() as conn:
            await conn.execute(
                text("UPDATE city_assets SET status = 'in_service' WHERE code = :c"), {"c": HYDRANT}
            )
