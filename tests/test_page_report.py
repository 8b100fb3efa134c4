"""The resident's report page (/report) in headless Chromium against a real server and the
test database: the MapLibre map on gridgov's base map (road names drawn, nothing fetched
from elsewhere), the pin placed by click, keyboard, GPS or address and confirmed in words
(address or road, cell, duty card), photos, category questions, checks before sending,
the secret kept for the /track page, accessibility."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Page
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from grid.models import GridCell
from tests.factories import make_building, metres_point
from tests.pages_support import USER_PHONE, needs_chromium, serious_violations, serve

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

REGISTER_ADDRESS = "上报测试路12号"
SECRET_KEY = "gridgov.report.{}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def register_building(async_engine, open_incident) -> AsyncIterator[int]:
    """A building with an address in cell a2 of the test world; removed afterwards with
    the reports filed on it."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        cell = (
            await session.execute(select(GridCell).where(GridCell.code == "880101001001002"))
        ).scalar_one()
        building = await make_building(session, cell, (600, 100, 640, 140), REGISTER_ADDRESS)
        await session.commit()
    yield building.id
    async with async_engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM incidents WHERE building_id = :id"), {"id": building.id}
        )
        await conn.execute(text("DELETE FROM buildings WHERE id = :id"), {"id": building.id})


def jpeg_bytes(colour: str = "orange") -> bytes:
    """A small real JPEG photo."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


_STORED_REPORT = text("""
    SELECT ST_X(i.location) AS lon, ST_Y(i.location) AS lat, i.input_system, i.building_id,
           i.address, CAST(i.answers AS text) AS answers,
           ARRAY(SELECT p.sha256 FROM incident_photos p
                 WHERE p.incident_id = i.id ORDER BY p.id) AS photos
    FROM incidents i WHERE i.tracking_number = :n
""")


async def stored_report(async_engine, number: str) -> dict:
    """The stored report by tracking number: its point, input system, building, address,
    answers and photos' hashes."""
    async with async_engine.connect() as conn:
        row = (await conn.execute(_STORED_REPORT, {"n": number})).mappings().one()
    return {**row, "answers": json.loads(row["answers"])}


async def open_form(page: Page, lang: str = "zh-Hans") -> None:
    await page.goto(f"/report?lang={lang}")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.locator("#map .maplibregl-canvas").wait_for()
    await page.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")


async def click_at(page: Page, x: float, y: float) -> None:
    """Click the map at the test world's point (x, y) in metres."""
    lon, lat = metres_point(x, y)
    box = await page.locator("#map .maplibregl-canvas").bounding_box()
    point = await page.evaluate("ll => gg.currentMap.project(ll)", [lon, lat])
    assert 0 < point["x"] < box["width"] and 0 < point["y"] < box["height"], point
    await page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


async def pin_text(page: Page) -> str:
    """The pin's place in words, once the lookup has answered."""
    await page.wait_for_function("""() => {
        const text = document.getElementById("pin-text").textContent;
        return text && !text.startsWith("正在") && !text.startsWith("Looking");
    }""")
    return await page.locator("#pin-text").inner_text()


async def submit_and_get_number(page: Page) -> str:
    await page.click("#submit")
    await page.locator("#result").wait_for()
    return (await page.locator("#tracking-number").inner_text()).strip()


def posts_to_reports(page: Page) -> list[str]:
    """Every POST /reports the page makes from now on."""
    posted: list[str] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST" and urlsplit(r.url).path == "/reports" and posted.append(r.url)
        ),
    )
    return posted


async def test_a_report_with_a_photo_is_sent_as_a_form_and_stored_with_its_photo(
    page, open_incident, async_engine
):
    photo = jpeg_bytes()
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    await page.fill("#description", "楼道堆放纸箱")
    await page.set_input_files(
        "#photos", files=[{"name": "exit.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    preview = page.locator("#photo-list .photo-item img")
    await preview.wait_for()
    assert "exit.jpg" in await preview.get_attribute("alt")
    async with page.expect_request(lambda r: r.method == "POST") as sent:
        number = await submit_and_get_number(page)
    request = await sent.value
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.headers["idempotency-key"]
    stored = await stored_report(async_engine, number)
    assert stored["photos"] == [hashlib.sha256(photo).hexdigest()]
    assert stored["input_system"] == "wgs84"


async def test_the_secret_is_shown_and_kept_in_local_storage_for_the_track_page(
    page, server, open_incident
):
    await open_form(page, "en")
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    number = await submit_and_get_number(page)
    secret = (await page.locator("#secret").inner_text()).strip()
    kept = await page.evaluate("key => localStorage.getItem(key)", SECRET_KEY.format(number))
    assert secret and kept == secret
    assert "Keep this tracking secret" in await page.locator("#result").inner_text()
    assert await page.get_attribute("#track-link", "href") == f"/track/{number}?lang=en"
    assert await page.evaluate("document.activeElement.id") == "result-title"
    # It is the report's real secret: it opens the reporter's view of the rating.
    async with httpx.AsyncClient(base_url=server) as client:
        right = await client.get(f"/reports/{number}/rating", headers={"X-Report-Secret": kept})
        wrong = await client.get(
            f"/reports/{number}/rating", headers={"X-Report-Secret": "not-the-secret"}
        )
    assert right.status_code == 200
    assert wrong.status_code in (403, 404)


async def test_use_my_location_puts_the_pin_there_and_the_report_is_stored_there(
    page, server, open_incident, async_engine
):
    lon, lat = metres_point(700, 200)  # in cell a2
    await page.context.grant_permissions(["geolocation"], origin=server)
    await page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 12})
    await open_form(page, "en")
    await page.select_option("#category", "fire.blocked_exit")
    await page.click("#use-gps")
    status = page.locator("#gps-status")
    await page.wait_for_function(
        "() => document.getElementById('gps-status').textContent.includes('12 m')"
    )
    assert "error" not in (await status.get_attribute("class") or "")
    assert f"{lon:.6f}, {lat:.6f}" in await page.locator("#pin-coords").inner_text()
    await page.locator("#map .rep-pin").wait_for()
    assert "Grid cell: 网格002" in await pin_text(page)
    # The fix's accuracy is drawn as a circle on the map, under the labels.
    circle = await page.evaluate("""() => {
        const layers = gg.currentMap.getStyle().layers.map(l => l.id);
        const data = gg.currentMap.getSource("rep-accuracy").serialize().data;
        return {fill: layers.indexOf("rep-accuracy-fill"), labels: layers.indexOf("labels-start"),
                features: data.features.length};
    }""")
    assert circle["features"] == 1 and -1 < circle["fill"] < circle["labels"]
    number = await submit_and_get_number(page)
    stored = await stored_report(async_engine, number)
    assert (stored["lon"], stored["lat"]) == pytest.approx((lon, lat), abs=1e-6)
    assert stored["input_system"] == "wgs84"
    async with httpx.AsyncClient(base_url=server) as client:
        public = (await client.get(f"/reports/{number}")).json()
    assert public["category"]["code"] == "fire.blocked_exit"


async def test_a_refused_location_permission_says_so_and_places_no_pin(page, open_incident):
    await page.context.clear_permissions()
    await open_form(page, "en")
    await page.click("#use-gps")
    status = page.locator("#gps-status.error")
    await status.wait_for()
    assert "permission was denied" in await status.inner_text()
    assert await page.locator("#map .rep-pin").count() == 0
    assert await page.locator("#pin-text").inner_text() == ""


async def test_an_address_chosen_from_the_search_places_the_report_on_that_building(
    page, server, register_building, async_engine
):
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    search = page.locator("#address-search")
    await search.fill("上报测试路")
    option = page.locator("#address-results [role=option]", has_text=REGISTER_ADDRESS)
    await option.wait_for()
    assert await search.get_attribute("aria-expanded") == "true"
    # Keyboard only: down to the result, Enter to choose it (not to submit the form).
    for _ in range(await page.locator("#address-results [role=option]").count()):
        await search.press("ArrowDown")
        if await option.get_attribute("aria-selected") == "true":
            break
    assert await search.get_attribute("aria-activedescendant") == await option.get_attribute("id")
    await search.press("Enter")
    assert await page.locator("#address-results").is_hidden()
    assert await search.get_attribute("aria-expanded") == "false"
    assert await page.input_value("#address") == REGISTER_ADDRESS
    assert await page.locator("#result").is_hidden()  # Enter chose; it did not submit
    confirmed = await pin_text(page)
    assert f"标记位置：{REGISTER_ADDRESS}。" in confirmed and "网格002" in confirmed
    number = await submit_and_get_number(page)
    async with httpx.AsyncClient(base_url=server) as client:
        hits = (await client.get("/addresses", params={"q": REGISTER_ADDRESS})).json()["results"]
    hit = next(h for h in hits if h["building_id"] == register_building)
    stored = await stored_report(async_engine, number)
    assert stored["building_id"] == register_building
    assert stored["address"] == REGISTER_ADDRESS
    assert (stored["lon"], stored["lat"]) == pytest.approx((hit["lon"], hit["lat"]), abs=1e-6)


async def test_moving_the_pin_off_the_chosen_building_forgets_the_building(
    page, register_building, async_engine
):
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    await page.fill("#address-search", "上报测试路")
    await page.locator("#address-results [role=option]", has_text=REGISTER_ADDRESS).click()
    assert await page.input_value("#address") == REGISTER_ADDRESS
    await page.click("#use-centre")
    assert await page.input_value("#address") == ""
    number = await submit_and_get_number(page)
    assert (await stored_report(async_engine, number))["building_id"] is None


async def test_category_questions_are_asked_and_sent_as_answers(page, open_incident, async_engine):
    await open_form(page, "en")
    assert await page.locator("#questions").is_hidden()
    await page.select_option("#category", "fire.ebike_indoor")
    await page.locator("#questions").wait_for()
    assert "Is it charging now?" in await page.locator("#questions").inner_text()
    await page.locator("#map").click()
    await page.fill("#q-count", "0")
    posted = posts_to_reports(page)
    await page.click("#submit")
    assert "from 1 to 500" in await page.locator("#q-count-error").inner_text()
    assert await page.get_attribute("#q-count", "aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "q-count"
    assert posted == []
    await page.check("#q-charging")
    await page.fill("#q-count", "3")
    number = await submit_and_get_number(page)
    stored = await stored_report(async_engine, number)
    assert stored["answers"] == {"charging": True, "count": 3}


async def test_checks_before_sending_show_each_message_next_to_its_field(page, open_incident):
    await open_form(page)
    posted = posts_to_reports(page)
    await page.fill("#contact_phone", "打给我")
    await page.fill("#description", "字" * 2001)
    await page.click("#submit")
    for field in ("category", "description", "contact_phone"):
        error = page.locator(f"#{field}-error")
        assert (await error.inner_text()).strip(), field
        assert f"{field}-error" in await page.get_attribute(f"#{field}", "aria-describedby")
        assert await page.get_attribute(f"#{field}", "aria-invalid") == "true"
    assert "请在地图上标记位置" in await page.locator("#location-error").inner_text()
    assert "2000" in await page.locator("#description-error").inner_text()
    assert await page.evaluate("document.activeElement.id") == "category"
    assert posted == []
    assert await page.locator("#result").is_hidden()


async def test_an_oversize_or_wrong_type_photo_is_refused_next_to_the_field_and_nothing_is_sent(
    page, open_incident, async_engine, tmp_path
):
    limit_mb = 10  # GRIDGOV_MAX_PHOTO_MB's default, which the test settings keep
    big = tmp_path / "big.jpg"
    with big.open("wb") as f:
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate(limit_mb * 2**20 + 1)  # sparse: no 10 MB written
    pdf = tmp_path / "scan.jpg"
    pdf.write_bytes(b"%PDF-1.4 not a photo")
    await open_form(page)
    config = json.loads(await page.locator("#page-config").text_content())
    assert config["limits"]["maxPhotoMb"] == limit_mb
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    posted = posts_to_reports(page)
    await page.set_input_files(
        "#photos",
        files=[str(big), str(pdf)],
    )
    refused = page.locator("#photo-list .photo-item.refused")
    await refused.nth(1).wait_for()
    error = await page.locator("#photos-error").inner_text()
    assert "big.jpg" in error and "10 MB" in error
    assert "scan.jpg" in error and "JPEG" in error
    assert await page.get_attribute("#photos", "aria-invalid") == "true"
    await page.click("#submit")
    assert "请先删除" in await page.locator("#photos-error").inner_text()
    assert await page.evaluate("document.activeElement.id") == "photos"
    assert posted == []
    assert await page.locator("#result").is_hidden()
    # Removing the refused photos lets the report go, without them.
    for _ in range(2):
        await page.locator("#photo-list button").first.click()
    assert await page.locator("#photo-list .photo-item").count() == 0
    number = await submit_and_get_number(page)
    assert (await stored_report(async_engine, number))["photos"] == []


async def test_a_photo_the_server_refuses_shows_its_message_next_to_the_photo_field(
    page, open_incident
):
    await open_form(page)
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    # JPEG's first bytes, so the page lets it through, but no decodable picture.
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 200
    await page.set_input_files(
        "#photos", files=[{"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": broken}]
    )
    await page.locator("#photo-list .photo-item img").wait_for()
    async with page.expect_response(lambda r: r.request.method == "POST") as answered:
        await page.click("#submit")
    response = await answered.value
    assert response.status == 422
    field = (await response.json())["error"]["fields"][0]["field"]
    assert field == "photos[0]"
    error = page.locator("#photos-error")
    await page.wait_for_function("() => document.getElementById('photos-error').textContent !== ''")
    assert (await response.json())["error"]["message"] in await error.inner_text()
    assert await page.get_attribute("#photos", "aria-invalid") == "true"
    assert await page.locator("#result").is_hidden()


async def test_the_filled_form_has_no_serious_accessibility_violations(page, register_building):
    await open_form(page)
    await page.select_option("#category", "fire.ebike_indoor")
    await page.locator("#questions").wait_for()
    await page.fill("#address-search", "上报测试路")
    await page.locator("#address-results [role=option]").first.wait_for()
    await page.press("#address-search", "ArrowDown")
    assert await serious_violations(page) == []  # with the listbox open
    await page.press("#address-search", "Enter")
    await page.check("#q-charging-no")
    await page.fill("#q-count", "2")
    await page.fill("#description", "楼道里停了两辆电动车")
    await page.fill("#contact_phone", "13800138000")
    await page.set_input_files(
        "#photos",
        files=[
            {"name": "bike.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()},
            {"name": "note.txt", "mimeType": "text/plain", "buffer": b"hello"},
        ],
    )
    await page.locator("#photo-list .photo-item.refused").wait_for()
    await page.click("#use-gps")  # no permission in this context: an error message shows
    await page.locator("#gps-status.error").wait_for()
    assert await serious_violations(page) == []


async def test_the_map_draws_road_names_from_gridgov_alone(page, server, basemap_rows):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.set_viewport_size({"width": 390, "height": 800})
    await open_form(page)
    await page.wait_for_function(
        "() => gg.currentMap.queryRenderedFeatures({layers: [gg.mapgl.roadLabelsLayer]}).length > 0"
    )
    names = await page.evaluate(
        "gg.currentMap.queryRenderedFeatures({layers: ['road-label']}).map(f => f.properties.name)"
    )
    assert {"中山大道", "先烈路"} & set(names), names
    assert any("/tiles/basemap/" in url for url in requests)
    assert all(url.startswith(server) or url.startswith(("blob:", "data:")) for url in requests), [
        url for url in requests if not url.startswith(server)
    ]


async def test_a_clicked_pin_is_told_back_as_the_road_the_cell_and_its_unnamed_worker(
    page, basemap_rows
):
    await open_form(page)
    await click_at(page, 250, 260)  # cell a1, on 中山大道, pages-w on duty
    await page.locator("#map .rep-pin").wait_for()
    confirmed = await pin_text(page)
    assert confirmed.startswith("标记位置：中山大道附近。")
    assert "所属网格：网格001，由本网格网格员负责。" in confirmed
    assert "测试用户" not in confirmed and USER_PHONE not in confirmed  # duty cards are off
    assert "已标记" not in confirmed
    assert await serious_violations(page) == []


async def test_the_pin_is_placed_and_moved_by_keyboard_and_confirmed_in_words(
    page, basemap_rows, async_engine
):
    await open_form(page, "en")
    await page.select_option("#category", "fire.blocked_exit")
    canvas = page.locator("#map .maplibregl-canvas")
    assert await canvas.get_attribute("tabindex") == "0"
    assert await canvas.get_attribute("aria-label") == "Map for choosing the place"
    await canvas.focus()
    centre_before = await page.evaluate("gg.currentMap.getCenter().toArray()")
    await page.keyboard.press("ArrowLeft")  # MapLibre's own pan
    await page.wait_for_function("() => !gg.currentMap.isMoving()")
    centre = await page.evaluate("gg.currentMap.getCenter().toArray()")
    assert centre[0] < centre_before[0]
    await page.keyboard.press("Enter")  # pins the crosshair
    pin = page.locator("#map .rep-pin")
    await pin.wait_for()
    assert "Grid cell: 网格00" in await pin_text(page)
    pinned = await page.evaluate("gg.currentMap.getCenter().toArray()")
    assert f"{pinned[0]:.6f}, {pinned[1]:.6f}" in await page.locator("#pin-coords").inner_text()
    # The pin itself: focused, the arrow keys move it (the map stays), Enter confirms.
    await pin.focus()
    for _ in range(3):
        await page.keyboard.press("ArrowUp")
    await page.keyboard.press("Enter")
    coords = (await page.locator("#pin-coords").inner_text()).split(":")[-1]
    moved = [float(part) for part in coords.split(",")]
    assert moved[1] > pinned[1] and moved[0] == pytest.approx(pinned[0], abs=1e-6)
    assert await page.evaluate("gg.currentMap.getCenter().toArray()") == pinned
    confirmed = await pin_text(page)
    assert confirmed.startswith("Place: ") and "looked after by" in confirmed
    assert await serious_violations(page) == []
    number = await submit_and_get_number(page)
    stored = await stored_report(async_engine, number)
    assert (stored["lon"], stored["lat"]) == pytest.approx(tuple(moved), abs=1e-6)


async def test_dragging_the_pin_moves_it_and_tells_the_new_place(page, register_building):
    await open_form(page)
    await click_at(page, 700, 400)  # cell a2, on 翠竹街 (先烈路 is 50 m east)
    assert "翠竹街附近" in await pin_text(page)
    pin = await page.locator("#map .rep-pin").bounding_box()
    lon, lat = metres_point(620, 120)  # the register building's middle
    canvas = await page.locator("#map .maplibregl-canvas").bounding_box()
    target = await page.evaluate("ll => gg.currentMap.project(ll)", [lon, lat])
    # The pin's tip (the marker's bottom centre) is the spot.
    centre = await page.evaluate("gg.currentMap.getCenter().toArray()")
    await page.mouse.move(pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] / 2)
    await page.mouse.down()
    tip_offset = pin["height"] / 2
    for step in range(1, 6):
        await page.mouse.move(
            pin["x"]
            + pin["width"] / 2
            + (canvas["x"] + target["x"] - pin["x"] - pin["width"] / 2) * step / 5,
            pin["y"]
            + pin["height"] / 2
            + (canvas["y"] + target["y"] - tip_offset - pin["y"] - pin["height"] / 2) * step / 5,
        )
    await page.mouse.up()
    await page.wait_for_function(
        "() => document.getElementById('pin-text').textContent.includes('上报测试路12号')"
    )
    assert "网格002" in await pin_text(page)
    # The pin was dragged, not the map panned under it.
    assert await page.evaluate("gg.currentMap.getCenter().toArray()") == centre


@pytest.fixture(scope="module")
def duty_card_server(settings, migrated_db) -> Iterator[str]:
    """A second server on 127.0.0.1 whose admin turned public duty cards on (网格员公示)."""
    with serve(create_app(settings.model_copy(update={"public_duty_cards": True}))) as base:
        yield base


async def test_with_public_duty_cards_the_pin_names_the_cells_grid_worker(
    browser, duty_card_server, basemap_rows
):
    context = await browser.new_context(base_url=duty_card_server, locale="zh-CN")
    try:
        page = await context.new_page()
        page.set_default_timeout(5000)
        await open_form(page)
        await click_at(page, 250, 260)
        confirmed = await pin_text(page)
        assert "由网格员测试用户负责" in confirmed  # pages-w's display name
        assert USER_PHONE not in confirmed and "pages-w" not in confirmed
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page_413(browser, server) -> AsyncIterator[Page]:
    """A page like the shared fixture's whose console may report a 413 (the shared one
    counts that as a failure); script errors still fail the test."""
    context = await browser.new_context(base_url=server, locale="zh-CN")
    opened = await context.new_page()
    opened.set_default_timeout(5000)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    await context.close()
    assert errors == []


async def test_a_body_too_large_answer_without_fields_is_shown_at_the_photo_field(
    page_413, open_incident
):
    page = page_413

    # A proxy in front of gridgov refuses a large body with its own HTML page; simulated
    # in the browser so nothing is stored and no limit has to be exceeded for real.
    async def too_large(route):
        await route.fulfill(
            status=413,
            content_type="text/html",
            body="<html><body>413 Request Entity Too Large</body></html>",
        )

    await page.route("**/reports", too_large)
    await open_form(page, "en")
    await page.select_option("#category", "fire.blocked_exit")
    await page.locator("#map").click()
    await page.set_input_files(
        "#photos", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    )
    await page.locator("#photo-list .photo-item img").wait_for()
    await page.click("#submit")
    error = page.locator("#photos-error")
    await page.wait_for_function("() => document.getElementById('photos-error').textContent !== ''")
    assert "larger than the server accepts" in await error.inner_text()
    assert await page.locator("#result").is_hidden()


async def test_choosing_a_fire_burning_now_tells_the_reporter_to_call_119(page, open_incident):
    await open_form(page)
    emergency = page.locator("#emergency")
    assert await emergency.is_hidden()
    await page.select_option("#category", "fire.burning_now")
    await emergency.wait_for()
    assert "119" in await emergency.inner_text()
    assert await emergency.locator("a[href='tel:119']").count() == 1
