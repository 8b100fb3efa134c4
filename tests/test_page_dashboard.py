"""The managers' coverage map (/dashboard) in headless Chromium against a real server and
the test database: the new layers with their legends, drilling down from regions to a
community's cells by mouse and by keyboard, the breadcrumb back up, accessibility."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from grid.models import Region, User
from maps.pages import NO_DATA_COLOUR, dashboard_config
from tests.factories import PASSWORD, make_user
from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

A1, A2 = "880101001001001", "880101001001002"
COMMUNITY_A, STREET, DISTRICT = "880101001001", "880101001", "880101"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def district_manager(async_engine, open_incident, patrol_building) -> AsyncIterator[str]:
    """A manager of the test world's district, and a patrol visit yesterday to the one
    building of cell a1 (so a1's patrol coverage is 100%); open_incident's clean-up
    removes the account, patrol_building's the visit with its building."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        district = (
            await session.execute(select(Region).where(Region.code == DISTRICT))
        ).scalar_one()
        user = await make_user(session, "pages-dm", "district_manager", district)
        worker = (
            await session.execute(select(User).where(User.username == "pages-w"))
        ).scalar_one()
        await session.execute(
            text(
                "INSERT INTO patrol_visits (building_id, user_id, visited_at) VALUES (:b, :u, :t)"
            ),
            {"b": patrol_building, "u": worker.id, "t": datetime.now(UTC) - timedelta(days=1)},
        )
        await session.commit()
    yield user.username


def _layer(layer_id: str) -> dict:
    return next(layer for layer in dashboard_config()["layers"] if layer["id"] == layer_id)


async def _sign_in(page, username: str) -> None:
    await page.goto("/dashboard?lang=en")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")


async def _crumbs(page) -> list[str]:
    return [text.strip() for text in await page.locator("#trail li").all_inner_texts()]


async def test_a_district_manager_drills_from_communities_to_cells_and_back_up(
    page, district_manager
):
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await _sign_in(page, district_manager)
    # The district has a single street: the map opens on that street's communities.
    await page.locator(f"body[data-level='community'][data-region='{STREET}']").wait_for(
        state="attached"
    )
    assert await _crumbs(page) == ["测试区", "测试街道"]
    assert await page.locator("#trail [aria-current]").inner_text() == "测试街道"
    assert await page.locator("#children button").all_inner_texts() == ["甲社区", "乙社区"]
    await page.locator(f"#map path[data-code='{COMMUNITY_A}']").hover()
    assert "Cells with a worker: 1/2" in (
        await page.locator(".leaflet-tooltip", has_text=COMMUNITY_A).inner_text()
    )
    await page.wait_for_load_state("networkidle")
    assert await serious_violations(page) == []

    # Click community A on the map: it zooms to its two cells.
    await page.locator(f"#map path[data-code='{COMMUNITY_A}']").click()
    await page.locator("body[data-level='cell'][data-cells='2']").wait_for(state="attached")
    assert await _crumbs(page) == ["测试区", "测试街道", "甲社区"]
    assert await page.locator("#children-panel").is_hidden()
    assert await page.locator(f"#map path[data-code='{A1}']").count() == 1
    await page.locator(f"#map path[data-code='{A1}']").hover()
    tip = await page.locator(".leaflet-tooltip", has_text=A1).inner_text()
    assert "Patrol coverage: 100%" in tip and "Median time to accept" in tip
    await page.wait_for_load_state("networkidle")
    assert await serious_violations(page) == []

    # Back up by the breadcrumb, from the keyboard; focus lands on where one now is.
    await page.locator("#trail button", has_text="测试街道").focus()
    await page.keyboard.press("Enter")
    await page.locator(f"body[data-level='community'][data-region='{STREET}']").wait_for(
        state="attached"
    )
    assert await page.evaluate("document.activeElement.id") == "trail-current"
    # Up once more: the district's streets, asked for by name (no skipping past one child).
    await page.locator("#trail button", has_text="测试区").click()
    await page.locator(f"body[data-level='street'][data-region='{DISTRICT}']").wait_for(
        state="attached"
    )
    assert await _crumbs(page) == ["测试区"]
    # Down again through the list beside the map, from the keyboard.
    await page.locator("#children button", has_text="测试街道").focus()
    await page.keyboard.press("Enter")
    await page.locator(f"body[data-region='{STREET}']").wait_for(state="attached")
    port = urlsplit(page.url).port
    assert {h for h in hosts if h} == {f"127.0.0.1:{port}"}


@pytest.mark.parametrize(
    ("layer_id", "caption"),
    [
        ("response", "Median hours from report to acceptance (reports of the last 90 days)"),
        ("hazards", "fire-hazard reports of the last 365 days per 100 buildings"),
        ("patrol", "share of buildings visited in the last 30 days"),
    ],
)
async def test_each_new_layer_shows_its_legend_for_regions_and_for_cells(
    page, district_manager, layer_id, caption
):
    await _sign_in(page, district_manager)
    await page.locator("body[data-level='community']").wait_for(state="attached")
    await page.check(f"input[name=layer][value={layer_id}]")
    await page.locator(f"#legend[data-layer={layer_id}]").wait_for(state="attached")
    assert caption in await page.locator("#legend-caption").inner_text()
    classes = len(_layer(layer_id)["region"]["classes"])
    assert await page.locator("#legend li").count() == classes + 1  # and "no data"
    assert "No data" in await page.locator("#legend").inner_text()
    # The list beside the map says each community's figure for this layer.
    assert await page.locator("#children .figure").count() == 2

    await page.locator("#children button", has_text="甲社区").click()
    await page.locator("body[data-level='cell']").wait_for(state="attached")
    assert await page.locator(f"#legend[data-layer={layer_id}]").count() == 1
    assert caption in await page.locator("#legend-caption").inner_text()
    await page.wait_for_load_state("networkidle")
    assert await serious_violations(page) == []


async def test_cells_are_coloured_by_the_layers_classes_and_grey_without_data(
    page, district_manager
):
    await _sign_in(page, district_manager)
    await page.locator("body[data-level='community']").wait_for(state="attached")
    await page.check("input[name=layer][value=patrol]")
    await page.locator("#children button", has_text="甲社区").click()
    await page.locator("body[data-level='cell']").wait_for(state="attached")
    top_class = _layer("patrol")["cell"]["classes"][-1]["colour"]
    # a1: its one building visited yesterday (100%); a2 has no building: no data.
    assert await page.locator(f"#map path[data-code='{A1}']").get_attribute("fill") == top_class
    assert (
        await page.locator(f"#map path[data-code='{A2}']").get_attribute("fill") == NO_DATA_COLOUR
    )


async def test_a_community_manager_opens_on_their_cells_with_nothing_above(page, community_manager):
    await _sign_in(page, community_manager)
    await page.locator("body[data-level='cell'][data-cells='2']").wait_for(state="attached")
    assert await _crumbs(page) == ["甲社区"]
    assert await page.locator("#trail button").count() == 0
    assert await page.locator("#children-panel").is_hidden()
