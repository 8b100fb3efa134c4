"""Elder mode (长辈版) on a phone (390 x 844): the header's switch on every resident page,
remembered on the device and applied before first paint; the 适老化 sizes (24 px body
text, line spacing >= 1.3, 60 px primary targets); on /report the shortened flow — tiles
with pictures, "use my location" first, one optional photo, one big button, the map
behind a button — filed end to end; and axe-core on /, /report, /track and /map in both
modes."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Page
from sqlalchemy import text

from tests.factories import metres_point
from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

PHONE = {"width": 390, "height": 844}
KEY = "gridgov.elder"
STORAGE = "fire.flammable_storage"  # min_content = description_or_photo
# Whether <html> had the class when <body> was first made (before anything is drawn).
AT_FIRST_BODY = """
    new MutationObserver((records, observer) => {
        if (document.body) {
            window.__elderAtBody = document.documentElement.classList.contains("elder");
            observer.disconnect();
        }
    }).observe(document, { childList: true, subtree: true });
"""


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser, server) -> AsyncIterator[Page]:
    """A phone-sized page (touch, 390 x 844) that fails the test on any script error."""
    context = await browser.new_context(
        base_url=server, locale="zh-CN", viewport=PHONE, has_touch=True, is_mobile=True
    )
    await context.add_init_script(AT_FIRST_BODY)
    opened = await context.new_page()
    opened.set_default_timeout(5000)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "console",
        lambda m: m.type == "error" and "status of 422" not in m.text and errors.append(m.text),
    )
    yield opened
    assert errors == []
    await context.close()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG")
    return out.getvalue()


async def _elder(page: Page) -> bool:
    return await page.evaluate("() => document.documentElement.classList.contains('elder')")


async def _px(page: Page, selector: str, prop: str) -> float:
    value = await page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")
    return float(value.removesuffix("px"))


async def _height(page: Page, selector: str) -> float:
    return (await page.locator(selector).first.bounding_box())["height"]


async def test_a_report_filed_in_elder_mode_on_a_phone_end_to_end(
    phone, server, open_incident, async_engine
):
    page = phone
    lon, lat = metres_point(700, 200)  # cell a2
    await page.context.grant_permissions(["geolocation"], origin=server)
    await page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 10})
    await page.goto("/")
    switch = page.locator("#elder-switch")
    assert await switch.get_attribute("aria-pressed") == "false" and not await _elder(page)
    await switch.tap()
    assert await switch.get_attribute("aria-pressed") == "true" and await _elder(page)
    await page.reload()
    # Remembered, and on <html> before the body existed: no flash of small print.
    assert await page.evaluate("() => window.__elderAtBody") is True
    assert await page.evaluate("k => localStorage.getItem(k)", KEY) == "1"

    await page.goto("/report")
    assert await page.evaluate("() => window.__elderAtBody") is True
    assert await switch.get_attribute("aria-pressed") == "true"
    await page.locator(f"#tile-list input[value='{STORAGE}']").wait_for(state="attached")
    # The 适老化 sizes: 24 px (18 pt) body text, line spacing >= 1.3, 60 px targets.
    assert await _px(page, "body", "fontSize") >= 24
    assert await _px(page, "body", "lineHeight") >= 1.3 * 24
    for target in ("#elder-switch", "#use-gps", "#submit", ".rep-tile", "#description"):
        assert await _height(page, target) >= 60, target
    # The shortened flow: tiles (with a picture and a name) stand in for the select;
    # "use my location" comes before the other ways; the map waits behind its button.
    assert not await page.locator("#category").is_visible()
    tile = page.locator(".rep-tile", has=page.locator(f"input[value='{STORAGE}']"))
    assert (
        await tile.locator("img").get_attribute("src")
        == "/static/icons/cat-fire-flammable_storage.svg"
    )
    assert await tile.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    assert "易燃易爆" in await tile.inner_text()
    order = await page.evaluate("""() => ['use-gps', 'address-search', 'show-map', 'pick-compound']
        .map(id => document.getElementById(id))
        .every((el, i, all) => i === 0 ||
               (all[i - 1].compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING))""")
    assert order
    assert not await page.locator("#map").is_visible()
    assert await page.locator("#show-map").get_attribute("aria-expanded") == "false"
    assert not await page.locator("#address").is_visible()
    assert await page.locator("#photos").evaluate("i => !i.multiple")

    posted: list[str] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST" and urlsplit(r.url).path == "/reports" and posted.append(r.url)
        ),
    )
    await tile.tap()
    assert await page.input_value("#category") == STORAGE
    await page.locator("#use-gps").tap()
    await page.wait_for_function(
        "() => document.getElementById('gps-status').textContent.includes('10')"
    )
    # Neither words nor a photo: the page says what this category needs, sends nothing.
    await page.locator("#submit").tap()
    need = page.locator("#description-error")
    assert "情况描述或添加照片" in await need.inner_text()
    assert posted == []
    await page.set_input_files(
        "#photos", files=[{"name": "gas.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
    )
    await page.locator("#photo-list img").wait_for()
    await page.locator("#submit").tap()
    await page.locator("#result").wait_for()
    number = (await page.locator("#tracking-number").inner_text()).strip()
    assert "查询码" in await page.locator("#result").inner_text()
    async with async_engine.connect() as conn:
        stored = (
            await conn.execute(
                text("""
            SELECT i.category_code, i.channel,
                   (SELECT count(*) FROM incident_photos p WHERE p.incident_id = i.id) AS photos
            FROM incidents i WHERE i.tracking_number = :n"""),
                {"n": number},
            )
        ).one()
    assert tuple(stored) == (STORAGE, "web", 1)

    # Still on across the resident pages, until switched off (then off after a reload).
    for path in (f"/track/{number}", "/track", "/map"):
        await page.goto(path)
        assert await _elder(page), path
        assert await page.locator("#elder-switch").get_attribute("aria-pressed") == "true"
    await page.locator("#elder-switch").tap()
    assert not await _elder(page)
    await page.reload()
    assert not await _elder(page)
    assert await page.evaluate("() => window.__elderAtBody") is False


async def test_the_map_on_the_elder_report_page_opens_from_its_button(phone, open_incident):
    await phone.add_init_script(f"localStorage.setItem('{KEY}', '1')")
    await phone.goto("/report?lang=en")
    toggle = phone.locator("#show-map")
    await toggle.tap()
    assert await toggle.get_attribute("aria-expanded") == "true"
    await phone.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")
    box = await phone.locator("#map .maplibregl-canvas").bounding_box()
    assert box["width"] > 300 and box["height"] > 200


async def test_staff_pages_have_no_switch_and_ignore_the_device_setting(phone, open_incident):
    await phone.add_init_script(f"localStorage.setItem('{KEY}', '1')")
    await phone.goto("/dashboard")
    assert await phone.locator("#elder-switch").count() == 0
    assert not await _elder(phone)


@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
@pytest.mark.parametrize("path", ["/", "/report", "/track", "/map", "/report?lang=en"])
async def test_no_serious_accessibility_violations_in_either_mode(
    phone, open_incident, path, elder
):
    await phone.add_init_script(f"localStorage.setItem('{KEY}', '{1 if elder else 0}')")
    await phone.goto(path)
    assert await _elder(phone) is elder
    if path.startswith("/report"):
        await phone.locator("#tile-list input").first.wait_for(state="attached")
        await phone.locator("#pick-compound option").first.wait_for(state="attached")
    await phone.wait_for_load_state("load")
    assert await serious_violations(phone) == []
