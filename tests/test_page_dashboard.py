"""The managers' coverage map (/dashboard, MapLibre on gridgov's base map) in headless
Chromium against a real server and the test database: the layers with their legends,
areas labelled with name and figure, drilling down from regions to a community's cells by
mouse and by keyboard, the breadcrumb back up, a cell's link to the desk, the base map's
road names, accessibility."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
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


# A point inside the drawn area of `code`, in page pixels (null when it is not drawn); from
# the middle outwards, so the map's own buttons in a corner are not hit.
POINT_OF = """(code) => {
    const m = gg.currentMap;
    const drawn = m.queryRenderedFeatures({layers: ['coverage-fill']})
        .filter((f) => f.properties.code === code);
    if (!drawn.length) { return null; }
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => typeof c[0] === 'number'
        ? ([w, s, e, n] = [Math.min(w, c[0]), Math.min(s, c[1]), Math.max(e, c[0]), Math.max(n, c[1])])
        : c.forEach(walk);
    drawn.forEach((f) => walk(f.geometry.coordinates));
    const box = m.getCanvas().getBoundingClientRect();
    const steps = [5, 4, 6, 3, 7, 2, 8, 1, 9];
    for (const i of steps) {
        for (const j of steps) {
            const p = m.project([w + (e - w) * i / 10, s + (n - s) * j / 10]);
            const hit = m.queryRenderedFeatures([p.x, p.y], {layers: ['coverage-fill']});
            if (hit.length && hit[0].properties.code === code) { return [box.left + p.x, box.top + p.y]; }
        }
    }
    return null;
}"""
# The evaluated fill colour of each area drawn, by code, as #rrggbb.
FILLS = """() => Object.fromEntries(gg.currentMap.queryRenderedFeatures({layers: ['coverage-fill']})
    .map((f) => {
        const c = f.layer.paint['fill-color'];
        return [f.properties.code,
                '#' + [c.r, c.g, c.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')];
    }))"""
LABELS = """() => gg.currentMap.queryRenderedFeatures({layers: ['coverage-label']})
    .map((f) => f.properties.gg_label)"""


async def _point(page, code: str) -> list[float]:
    point = await page.evaluate(POINT_OF, code)
    assert point, f"{code} is not drawn on the map"
    return point


def _layer(layer_id: str) -> dict:
    return next(layer for layer in dashboard_config()["layers"] if layer["id"] == layer_id)


async def _sign_in(page, username: str) -> None:
    await page.goto("/dashboard?lang=en")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")


async def _drawn(page, selector: str) -> None:
    """Waits for the answer matching `selector` (on body) and for the map to draw it."""
    await page.locator(f"body{selector}[data-drawn]").wait_for(state="attached", timeout=20000)


async def _crumbs(page) -> list[str]:
    return [text.strip() for text in await page.locator("#trail li").all_inner_texts()]


async def test_a_district_manager_drills_from_communities_to_cells_and_back_up(
    page, district_manager, basemap_rows
):
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await _sign_in(page, district_manager)
    # The district has a single street: the map opens on that street's communities.
    await _drawn(page, f"[data-level='community'][data-region='{STREET}']")
    assert await _crumbs(page) == ["测试区", "测试街道"]
    assert await page.locator("#trail [aria-current]").inner_text() == "测试街道"
    assert await page.locator("#children button").all_inner_texts() == ["甲社区", "乙社区"]
    await page.mouse.move(*await _point(page, COMMUNITY_A))
    assert "Cells with a worker: 1/2" in (
        await page.locator(".dash-tooltip", has_text=COMMUNITY_A).inner_text()
    )
    await page.wait_for_load_state("networkidle")
    assert await serious_violations(page) == []

    # Click community A on the map: it zooms to its two cells.
    await page.mouse.click(*await _point(page, COMMUNITY_A))
    await _drawn(page, "[data-level='cell'][data-cells='2']")
    assert await _crumbs(page) == ["测试区", "测试街道", "甲社区"]
    assert await page.locator("#children-panel").is_hidden()
    assert set(await page.evaluate(FILLS)) == {A1, A2}
    # The base map's road names are drawn under the cells' colours.
    roads = await page.evaluate(
        "() => gg.currentMap.queryRenderedFeatures({layers: ['road-label']})"
        ".map((f) => f.properties.name)"
    )
    assert "中山大道" in roads
    await page.mouse.move(*await _point(page, A1))
    tip = await page.locator(".dash-tooltip", has_text=A1).inner_text()
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
    await _drawn(page, "[data-level='cell']")
    top_class = _layer("patrol")["cell"]["classes"][-1]["colour"]
    # a1: its one building visited yesterday (100%); a2 has no building: no data.
    fills = await page.evaluate(FILLS)
    assert fills[A1] == top_class
    assert fills[A2] == NO_DATA_COLOUR
    # The legend shows the same two colours.
    swatches = await page.locator("#legend .swatch").evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).backgroundColor)"
    )
    assert len(swatches) == len(_layer("patrol")["cell"]["classes"]) + 1


async def test_areas_are_labelled_with_their_name_and_the_layers_figure(page, district_manager):
    await _sign_in(page, district_manager)
    await _drawn(page, "[data-level='community']")
    figures = await page.locator("#children .figure").all_inner_texts()
    assert sorted(await page.evaluate(LABELS)) == sorted(
        f"{name}\n{figure}" for name, figure in zip(["甲社区", "乙社区"], figures, strict=True)
    )
    # Another layer: the labels follow it.
    await page.check("input[name=layer][value=open]")
    await page.locator("#legend[data-layer=open]").wait_for(state="attached")
    await page.locator("body[data-drawn]").wait_for(state="attached")
    figures = await page.locator("#children .figure").all_inner_texts()
    assert sorted(await page.evaluate(LABELS)) == sorted(
        f"{name}\n{figure}" for name, figure in zip(["甲社区", "乙社区"], figures, strict=True)
    )
    # A community's cells, each named with its figure, without hovering.
    await page.locator("#children button", has_text="甲社区").click()
    await _drawn(page, "[data-level='cell']")
    labels = await page.evaluate(LABELS)
    assert sorted(label.split("\n")[0] for label in labels) == ["网格001", "网格002"]
    assert all(label.split("\n")[1].isdigit() for label in labels), labels


async def test_a_cell_opens_its_details_with_the_desk_link_by_click_and_from_the_list(
    page, community_manager
):
    await _sign_in(page, community_manager)
    await _drawn(page, "[data-level='cell'][data-cells='2']")
    await page.mouse.click(*await _point(page, A1))
    link = page.locator(".dash-cell-popup a.desk-link")
    await link.wait_for()
    assert f"/desk?cell={A1}" in await link.get_attribute("href")
    assert A1 in await page.locator(".dash-cell-popup").inner_text()
    # The keyboard's way: the list of the community's cells with the same links.
    assert await page.locator("#cells li").count() == 2
    listed = page.locator(f"#cells li[data-code='{A1}'] a.desk-link")
    assert f"/desk?cell={A1}" in await listed.get_attribute("href")
    assert (
        await page.locator(f"#cells li[data-code='{A1}'] .figure").inner_text() == "Worker assigned"
    )


async def test_a_community_manager_opens_on_their_cells_with_nothing_above(page, community_manager):
    await _sign_in(page, community_manager)
    await _drawn(page, "[data-level='cell'][data-cells='2']")
    assert await _crumbs(page) == ["甲社区"]
    assert await page.locator("#trail button").count() == 0
    assert await page.locator("#children-panel").is_hidden()


async def test_the_dashboard_shows_a_community_managers_cells_with_a_legend_after_login(
    page, server, community_manager
):
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await page.goto("/dashboard?lang=en")
    await page.fill("#username", community_manager)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    # Only the manager's community: its two cells, not community B's.
    await _drawn(page, "[data-cells='2']")
    assert len(await page.evaluate(FILLS)) == 2
    assert await page.locator("#legend li").count() == 2  # worker assigned or not
    await page.check("input[name=layer][value=overdue]")
    await page.locator("#legend[data-layer=overdue]").wait_for(state="attached")
    assert await page.locator("#legend li").count() == 4
    await page.mouse.move(*await _point(page, A1))
    assert "880101001001" in await page.locator(".dash-tooltip").inner_text()
    await page.wait_for_load_state("networkidle")
    assert await serious_violations(page) == []
    port = urlsplit(page.url).port
    assert {h for h in hosts if h} == {f"127.0.0.1:{port}"}
    async with httpx.AsyncClient(base_url=server) as client:
        token = (
            await client.post(
                "/auth/token", data={"username": community_manager, "password": PASSWORD}
            )
        ).json()["access_token"]
        cells = (
            await client.get(
                "/dashboard/cells.geojson?bbox=-180,-85,180,85",
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    figures = {f["properties"]["code"]: f["properties"] for f in cells["features"]}
    assert figures["880101001001001"]["staffed"] is True
    # The open report (other tests may file more, in either cell).
    assert figures["880101001001001"]["open"] >= 1
    assert figures["880101001001002"]["staffed"] is False
    assert set(figures) == {"880101001001001", "880101001001002"}
