"""Reporting without the map: the public lists (compound -> building -> unit; a building in
no compound grouped by its road and house number; public facts only) and a report filed
on /report with the keyboard alone — Tab, the arrow keys and Enter through the lists, no
click anywhere — stored at the chosen building with the unit in its address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from grid.models import GridCell
from tests.factories import make_building, metres_box, metres_point
from tests.pages_support import needs_chromium

pytestmark = [pytest.mark.asyncio(loop_scope="session")]

COMPOUND = "翠竹苑"
IN_COMPOUND = ("测试市测试区翠竹路1号1栋", "测试市测试区翠竹路1号2栋")
OUTSIDE = ("测试市测试区先烈路165号3栋", "测试市测试区先烈路165号5栋")
UNITS = [("1单元101", 1), ("1单元102", 1), ("2单元502", 5)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def estate(async_engine, open_incident) -> AsyncIterator[dict]:
    """In cell a2: a compound holding two buildings (the first with three units and a
    household), and two buildings of 先烈路165号 in no compound; removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        cell = (
            await session.execute(select(GridCell).where(GridCell.code == "880101001001002"))
        ).scalar_one()
        first = await make_building(session, cell, (620, 120, 660, 160), IN_COMPOUND[0])
        second = await make_building(session, cell, (700, 200, 740, 240), IN_COMPOUND[1])
        third = await make_building(session, cell, (850, 100, 880, 130), OUTSIDE[0])
        fifth = await make_building(session, cell, (850, 200, 880, 230), OUTSIDE[1])
        compound_id = (
            await session.execute(
                text("""
            INSERT INTO basemap.compounds (source, external_id, name, geom)
            VALUES ('file', 'test:nomap', :name, ST_GeomFromText(:wkt, 4326)) RETURNING id
        """),
                {"name": COMPOUND, "wkt": metres_box(600, 100, 800, 300).wkt},
            )
        ).scalar_one()
        for unit, floor in UNITS:
            house_id = (
                await session.execute(
                    text("""
                INSERT INTO houses (building_id, floor, unit_number, is_rental, landlord_name,
                                    landlord_phone)
                VALUES (:b, :f, :u, true, '房东甲', '13800009999') RETURNING id
            """),
                    {"b": first.id, "f": floor, "u": unit},
                )
            ).scalar_one()
        await session.execute(
            text("INSERT INTO households (house_id, kind) VALUES (:h, 'registered')"),
            {"h": house_id},
        )
        await session.commit()
    ids = [first.id, second.id, third.id, fifth.id]
    yield {"compound": f"c{compound_id}", "first": first.id, "second": second.id, "third": third.id}
    async with async_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM incidents WHERE building_id = ANY(:ids)"), {"ids": ids}
        )
        await conn.execute(text("DELETE FROM buildings WHERE id = ANY(:ids)"), {"ids": ids})
        await conn.execute(
            text("DELETE FROM basemap.compounds WHERE id = :id"), {"id": compound_id}
        )


def _near(x: float = 700, y: float = 200) -> str:
    lon, lat = metres_point(x, y)
    return f"{lon},{lat}"


async def test_the_compounds_around_a_point_list_the_compound_and_address_groups(server, estate):
    async with httpx.AsyncClient(base_url=server) as client:
        answer = await client.get("/addresses/compounds", params={"near": _near()})
    assert answer.status_code == 200, answer.text
    listed = {c["id"]: c for c in answer.json()["compounds"]}
    assert listed[estate["compound"]] == {
        "id": estate["compound"],
        "name": COMPOUND,
        "kind": "compound",
        "buildings": 2,
    }
    # No compound covers 先烈路165号: its buildings are grouped by road and house number.
    assert listed["a:测试市测试区先烈路165号"] == {
        "id": "a:测试市测试区先烈路165号",
        "name": "测试市测试区先烈路165号",
        "kind": "address",
        "buildings": 2,
    }


async def test_a_compounds_buildings_and_a_buildings_units_are_public_facts_only(server, estate):
    async with httpx.AsyncClient(base_url=server) as client:
        inside = (
            await client.get("/addresses/buildings", params={"compound": estate["compound"]})
        ).json()
        grouped = (
            await client.get(
                "/addresses/buildings", params={"compound": "a:测试市测试区先烈路165号"}
            )
        ).json()
        units = await client.get(f"/addresses/buildings/{estate['first']}/units")
        none = (await client.get(f"/addresses/buildings/{estate['second']}/units")).json()
    assert [b["address"] for b in inside["buildings"]] == list(IN_COMPOUND)
    assert set(inside["buildings"][0]) == {"building_id", "address", "lon", "lat"}
    assert [b["address"] for b in grouped["buildings"]] == list(OUTSIDE)
    assert units.json()["units"] == [{"unit_number": u, "floor": f} for u, f in UNITS]
    # Nothing about who lives there or who lets it.
    assert "房东" not in units.text and "13800009999" not in units.text
    assert "rental" not in units.text and "household" not in units.text
    assert none["units"] == []


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/addresses/compounds", {"near": "east"}, 422, "near"),
        ("/addresses/buildings", {"compound": "x1"}, 422, "compound"),
        ("/addresses/buildings", {"compound": "c999999999"}, 404, None),
        ("/addresses/buildings/999999999/units", {}, 404, None),
    ],
)
async def test_bad_list_requests_get_a_clear_4xx(server, estate, path, params, status, field):
    async with httpx.AsyncClient(base_url=server) as client:
        answer = await client.get(path, params=params)
    assert answer.status_code == status, answer.text
    if field:
        assert answer.json()["error"]["fields"][0]["field"] == field


async def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element `selector` has the focus."""
    for _ in range(limit):
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def arrow_to(page: Page, selector: str, wanted: str, limit: int = 120) -> None:
    """Press ArrowDown in the focused select until its chosen option's text is `wanted`."""
    for _ in range(limit):
        shown = await page.evaluate(
            "s => { const e = document.querySelector(s); return e.options[e.selectedIndex].text; }",
            selector,
        )
        if shown == wanted:
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"{wanted} is not among {selector}'s options")


@needs_chromium
async def test_a_report_filed_by_keyboard_alone_through_the_lists_lands_on_the_building(
    page, estate, async_engine
):
    await page.goto("/report?lang=zh-Hans")
    await page.evaluate(
        "() => document.addEventListener('pointerdown', () => { window.__clicked = true; })"
    )
    await page.locator("#pick-compound option", has_text=COMPOUND).wait_for(state="attached")
    await page.locator("#category option[value='fire.blocked_exit']").wait_for(state="attached")
    await tab_to(page, "#category")
    await arrow_to(page, "#category", "安全出口、疏散通道或楼梯间堵塞")
    await tab_to(page, "#pick-compound")
    await arrow_to(page, "#pick-compound", COMPOUND)
    await page.locator("#pick-building:not([disabled])").wait_for()
    assert "2 栋楼" in await page.locator("#lists-status").inner_text()
    await tab_to(page, "#pick-building")
    await arrow_to(page, "#pick-building", IN_COMPOUND[0])
    await page.locator("#pick-unit:not([disabled])").wait_for()
    await tab_to(page, "#pick-unit")
    await arrow_to(page, "#pick-unit", "2单元502")
    assert await page.input_value("#address") == f"{IN_COMPOUND[0]} 2单元502"
    # The place is told back in words, as after a pin (the building's address).
    await page.wait_for_function(
        "a => document.getElementById('pin-text').textContent.includes(a)", arg=IN_COMPOUND[0]
    )
    await tab_to(page, "#description")
    await page.keyboard.type("楼梯间堆满纸箱")
    await tab_to(page, "#submit")
    await page.keyboard.press("Enter")
    await page.locator("#result").wait_for()
    number = (await page.locator("#tracking-number").inner_text()).strip()
    assert await page.evaluate("() => window.__clicked") is None  # no pointer at all
    async with async_engine.connect() as conn:
        stored = (
            (
                await conn.execute(
                    text("""
            SELECT i.building_id, i.address, i.description,
                   ST_Covers(b.footprint, i.location) AS on_building
            FROM incidents i JOIN buildings b ON b.id = i.building_id
            WHERE i.tracking_number = :n"""),
                    {"n": number},
                )
            )
            .mappings()
            .one()
        )
    assert stored["building_id"] == estate["first"]
    assert stored["address"] == f"{IN_COMPOUND[0]} 2单元502"
    assert stored["on_building"] and stored["description"] == "楼梯间堆满纸箱"


@needs_chromium
async def test_choosing_on_the_map_afterwards_clears_the_lists_building(page, estate):
    await page.goto("/report?lang=en")
    await page.locator("#pick-compound option", has_text=COMPOUND).wait_for(state="attached")
    await page.select_option("#pick-compound", estate["compound"])
    await page.locator("#pick-building:not([disabled])").wait_for()
    await page.select_option("#pick-building", index=1)
    assert await page.input_value("#address") == IN_COMPOUND[0]
    await page.locator("#map .maplibregl-canvas").wait_for()
    await page.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")
    # Away from the pin, which sits on the building at the map's centre.
    await page.locator("#map").click(position={"x": 30, "y": 30})
    assert await page.input_value("#pick-building") == ""
    assert await page.input_value("#address") == ""
