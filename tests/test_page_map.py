"""The public hazard map (/map) on MapLibre in headless Chromium against a real server and
the test database: the base map's road names under the reports, single reports in their
legend colours, nearby reports in one neutral cluster, the heat map, the category filter,
the text alternative (counts and a list of the reports in view, each opening its popup),
every request to this server only, accessibility."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import metres_point
from tests.pages_support import USER_PHONE, needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mapped(async_engine, settings, open_incident, basemap_rows) -> None:
    """The test city's base map (named roads) and two more reports beside open_incident's,
    committed (the server has its own connections); open_incident's clean-up removes the
    reports, basemap_rows' the base map."""
    async with AsyncSession(async_engine) as session:
        for category, (x, y) in (("fire.gas", (260, 255)), ("fire.equipment", (240, 245))):
            lon, lat = metres_point(x, y)
            await submit_report(
                session,
                intake_context(settings),
                ReportIn(category=category, lon=lon, lat=lat, description="楼道检查"),
                [],
                None,
                datetime.now(UTC),
            )
        await session.commit()


IDLE = (
    "() => new Promise((r) => { gg.currentMap.once('idle', r); gg.currentMap.triggerRepaint(); })"
)
# The evaluated colour of each rendered feature of a layer, as [r, g, b] 0-255.
RENDERED = """(layer) => gg.currentMap.queryRenderedFeatures({layers: [layer]}).map((f) => {
    const c = f.layer.paint['circle-color'];
    return {props: f.properties, rgb: [c.r, c.g, c.b].map((v) => Math.round(v * 255))};
})"""


def _rgb(css: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", css)[:3]]


async def _open(page, path: str = "/map") -> None:
    await page.goto(path)
    await page.locator("body[data-markers]").wait_for(state="attached")
    await page.evaluate(IDLE)


async def _legend_rgb(page, status: str) -> list[int]:
    swatch = page.locator(f"#status-legend li[data-status='{status}'] .swatch")
    return _rgb(await swatch.evaluate("(el) => getComputedStyle(el).backgroundColor"))


async def test_the_map_draws_reports_and_road_names_with_every_request_to_this_server(page, mapped):
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await _open(page)
    assert int(await page.get_attribute("body", "data-markers")) >= 3
    roads = await page.evaluate(
        "() => gg.currentMap.queryRenderedFeatures({layers: ['road-label']})"
        ".map((f) => f.properties.name)"
    )
    assert "中山大道" in roads
    # The reports are drawn under the names (the base map's labels stay on top).
    layers = await page.evaluate("() => gg.currentMap.getStyle().layers.map((l) => l.id)")
    assert layers.index("incidents-point") < layers.index("road-label")
    assert await page.locator("select#category option").count() > 1
    # The heat map by the switch.
    visibility = "() => gg.currentMap.getLayoutProperty('incidents-heat', 'visibility')"
    assert await page.evaluate(visibility) == "none"
    await page.check("#heat")
    await page.locator("body[data-heat='on']").wait_for(state="attached")
    assert await page.evaluate(visibility) == "visible"
    await page.evaluate(IDLE)
    await page.wait_for_load_state("networkidle")
    port = urlsplit(page.url).port
    # data: and blob: URLs have no host; everything else must be this server.
    assert {h for h in hosts if h} == {f"127.0.0.1:{port}"}
    content = await page.content()
    assert USER_PHONE not in content and "王五" not in content


async def test_single_reports_are_drawn_in_their_legend_colour(page, mapped):
    await _open(page)
    drawn = await page.evaluate(RENDERED, "incidents-point")
    assert len(drawn) >= 3
    for feature in drawn:
        assert feature["rgb"] == await _legend_rgb(page, feature["props"]["status"])


async def test_nearby_reports_make_one_neutral_cluster_that_zooms_in_on_click(page, mapped):
    await _open(page)
    await page.evaluate("() => gg.currentMap.jumpTo({zoom: 11})")
    await page.locator("#map-status:empty").wait_for(state="attached")
    await page.evaluate(IDLE)
    clusters = await page.evaluate(RENDERED, "incidents-cluster")
    assert len(clusters) == 1 and clusters[0]["props"]["point_count"] >= 3
    # The cluster's colour is the legend's cluster swatch, never a status colour.
    assert clusters[0]["rgb"] == await _legend_rgb(page, "cluster")
    statuses = await page.evaluate("() => Object.keys(gg.config.statusColours)")
    for status in statuses:
        assert clusters[0]["rgb"] != await _legend_rgb(page, status)
    assert await page.evaluate(RENDERED, "incidents-point") == []
    counts = await page.evaluate(
        "() => gg.currentMap.queryRenderedFeatures({layers: ['incidents-count']})"
        ".map((f) => f.properties.point_count_abbreviated)"
    )
    assert [str(c) for c in counts] == [str(clusters[0]["props"]["point_count"])]
    # A click on the cluster zooms in towards its reports.
    point = await page.evaluate(
        """() => {
            const m = gg.currentMap;
            const f = m.queryRenderedFeatures({layers: ['incidents-cluster']})[0];
            const p = m.project(f.geometry.coordinates);
            const box = m.getCanvas().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }"""
    )
    await page.mouse.click(*point)
    await page.wait_for_function("() => gg.currentMap.getZoom() > 11.5")


async def test_the_reports_in_view_are_counted_and_listed_and_open_their_popup_from_the_keyboard(
    page, mapped
):
    await _open(page, "/map?lang=en")
    markers = int(await page.get_attribute("body", "data-markers"))
    assert (
        f"{markers} reports in the map's view." in await page.locator("#map-summary").inner_text()
    )
    assert await page.get_attribute("#map-summary", "aria-live") == "polite"
    by_status = {
        row[0]: int(row[1])
        for row in await page.locator("#by-status tbody tr").evaluate_all(
            "(rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])"
        )
    }
    assert sum(by_status.values()) == markers
    categories = await page.locator("#by-category tbody").inner_text()
    assert "Gas" in categories or "gas" in categories
    items = page.locator("#reports li")
    assert await items.count() == markers
    # Each report says its status, category and place (its grid cell's name).
    first = await items.first.inner_text()
    assert any(label in first for label in by_status)
    await page.locator("#reports .map-report-place", has_text="网格001").first.wait_for()
    await items.first.locator("button").focus()
    await page.keyboard.press("Enter")
    popup = page.locator(".maplibregl-popup")
    await popup.wait_for()
    shown = await popup.inner_text()
    assert any(label in shown for label in by_status)
    # Focus went into the popup, so the list's redraw after the move cannot lose it.
    assert await page.evaluate("!!document.activeElement.closest('.maplibregl-popup')")


async def test_the_category_filter_narrows_the_map_and_the_list(page, mapped):
    await _open(page, "/map?lang=en")
    await page.locator("select#category option[value='fire.gas']").wait_for(state="attached")
    await page.select_option("#category", "fire.blocked_lane")
    await page.locator("body[data-markers='0']").wait_for(state="attached")
    assert await page.locator("#map-summary").inner_text() == "No reports in the map's view."
    assert await page.locator("#reports li").count() == 0
    await page.select_option("#category", "fire.gas")
    await page.locator("body[data-markers='1']").wait_for(state="attached")
    await page.evaluate(IDLE)
    drawn = await page.evaluate(RENDERED, "incidents-point")
    assert [f["props"]["category"] for f in drawn] == ["fire.gas"]


@pytest.mark.parametrize("path", ["/map", "/map?lang=en"])
async def test_the_map_page_has_no_serious_accessibility_violations(page, mapped, path):
    await _open(page, path)
    await page.locator("select#category option").nth(1).wait_for(state="attached")
    assert await serious_violations(page) == []
