"""The public pages in headless Chromium (Debian's, driven by Playwright) against a real
server on 127.0.0.1 and the test database."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from maps import page_assets as assets
from maps.page_assets import CachedStaticFiles
from tests.factories import PASSWORD, metres_point
from tests.pages_support import (
    REPORTER_TEXT,
    USER_PHONE,
    needs_chromium,
    serious_violations,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@needs_chromium
async def test_a_report_filed_by_clicking_the_map_gets_a_number_that_can_be_tracked(
    page, server, open_incident
):
    await page.goto("/report?lang=en")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map .maplibregl-canvas").wait_for()
    await page.locator("#map").click()  # the map opens on the cells: its centre is in one
    await page.fill("#description", "楼道堆放杂物")
    await page.click("#submit")
    await page.locator("#result").wait_for()
    number = (await page.locator("#tracking-number").inner_text()).strip()
    assert number
    async with httpx.AsyncClient(base_url=server) as client:
        found = await client.get(f"/reports/{number}")
    assert found.status_code == 200
    assert found.json()["category"]["code"] == "fire.blocked_exit"
    await page.click("#track-link")
    await page.locator("#track-status[data-status]").wait_for()
    assert await page.locator("#timeline li").count() >= 1


@needs_chromium
async def test_a_bad_phone_shows_the_servers_error_next_to_the_field(page, open_incident):
    await page.goto("/report?lang=en")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    await page.fill("#contact_phone", "call me")
    await page.click("#submit")
    error = page.locator("#contact_phone-error")
    await error.wait_for()
    assert (await error.inner_text()).strip()
    assert await page.get_attribute("#contact_phone", "aria-invalid") == "true"
    assert await page.locator("#result").is_hidden()


async def test_vendor_files_are_served_with_long_cache_and_nothing_else_of_node_modules(client):
    served = await client.get("/static/vendor/maplibre-gl/dist/maplibre-gl-csp.js")
    assert served.status_code == 200
    assert "immutable" in served.headers["cache-control"]
    assert (await client.get("/static/vendor/maplibre-gl/package.json")).status_code == 404
    assert (await client.get("/static/js/map.js")).status_code == 200


async def test_without_node_modules_the_app_runs_and_the_page_says_assets_are_missing(
    client, monkeypatch, tmp_path
):
    monkeypatch.setattr(assets, "VENDOR_DIR", tmp_path / "node_modules")
    page = await client.get("/map?lang=en")
    assert page.status_code == 200
    assert 'id="assets-missing"' in page.text and "maplibre-gl/dist/maplibre-gl-csp.js" in page.text
    bare = Starlette()
    bare.mount("/v", CachedStaticFiles(directory=tmp_path / "node_modules", cache_control="x"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://test"
    ) as c:
        assert (await c.get("/v/maplibre-gl/dist/maplibre-gl-csp.js")).status_code == 404


async def test_the_public_incident_layer_needs_a_bbox_and_gives_only_public_fields(
    server, open_incident
):
    box = ",".join(str(v) for v in (*metres_point(-100, -100), *metres_point(1600, 600)))
    async with httpx.AsyncClient(base_url=server) as client:
        assert (await client.get("/map/incidents.geojson")).status_code == 422
        found = (await client.get(f"/map/incidents.geojson?bbox={box}")).json()
    assert found["numberReturned"] >= 1
    assert set(found["features"][0]["properties"]) == {
        "status",
        "category",
        "label_zh",
        "label_en",
        "tier",
        "created_at",
    }
    assert USER_PHONE not in str(found) and REPORTER_TEXT not in str(found)


@needs_chromium
@pytest.mark.parametrize("path", ["/report", "/report?lang=en"])
async def test_the_pages_have_no_serious_accessibility_violations(page, open_incident, path):
    await page.goto(path)
    await page.locator("select#category option").nth(1).wait_for(state="attached")
    assert await serious_violations(page) == []


@needs_chromium
async def test_an_anonymous_visitor_of_the_dashboard_sees_the_login_form_and_no_data(
    page, server, open_incident
):
    asked: list[str] = []
    page.on("request", lambda request: asked.append(urlsplit(request.url).path))
    await page.goto("/dashboard")
    await page.locator("#login #username").wait_for()
    await page.wait_for_load_state("networkidle")
    assert await page.locator("#coverage").is_hidden()
    assert "/dashboard/cells.geojson" not in asked
    assert "网格覆盖图" in await page.locator("h1").inner_text()  # zh-Hans by default
    assert await serious_violations(page) == []
    async with httpx.AsyncClient(base_url=server) as client:
        anonymous = await client.get("/dashboard/cells.geojson?bbox=-180,-85,180,85")
        worker = await client.post(
            "/auth/token", data={"username": "pages-w", "password": PASSWORD}
        )
        not_manager = await client.get(
            "/dashboard/cells.geojson?bbox=-180,-85,180,85",
            headers={"Authorization": f"Bearer {worker.json()['access_token']}"},
        )
    assert anonymous.status_code == 401
    assert not_manager.status_code == 403


async def test_every_page_label_exists_in_both_languages():
    from maps.pages import strings

    labels = strings()
    assert labels["zh-Hans"].keys() == labels["en"].keys()
    assert all(labels["en"].values()) and all(labels["zh-Hans"].values())
