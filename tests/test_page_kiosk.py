"""The report form on a self-service terminal (政务服务一体机, issue 18): /kiosk and
/report?kiosk=1 — big touch targets, no sign-in, no links out of the flow; after the idle
time a visible countdown, then the form and everything typed are cleared and the page
starts over; a report filed there leaves no secret on the device and prints a receipt."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page
from sqlalchemy import text

from tests.factories import metres_point
from tests.pages_support import needs_chromium, serious_violations
from tests.test_page_report_nearby import pin_here

pytestmark = [pytest.mark.asyncio(loop_scope="session")]

IDLE, WARN = 10, 4
KIOSK = f"/kiosk?idle={IDLE}&warn={WARN}&lang=zh-Hans"


async def open_kiosk(page: Page, url: str = KIOSK) -> None:
    await page.goto(url)
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    await page.wait_for_function("() => window.gg.currentMap && gg.currentMap.isStyleLoaded()")


async def kept_secrets(page: Page) -> dict[str, str]:
    """Everything this origin keeps in localStorage."""
    return await page.evaluate("() => Object.fromEntries(Object.entries(localStorage))")


@needs_chromium
@pytest.mark.parametrize("url", [KIOSK, f"/report?kiosk=1&idle={IDLE}&warn={WARN}"])
async def test_the_kiosk_is_touch_sized_without_sign_in_or_links_out(page, open_incident, url):
    await page.set_viewport_size({"width": 1080, "height": 1920})  # a portrait terminal
    await open_kiosk(page, url)
    assert await page.locator("header.bar nav").is_hidden()
    hrefs = await page.evaluate("""() => Array.from(document.querySelectorAll('a[href]'))
        .filter(a => a.getClientRects().length).map(a => a.getAttribute('href'))""")
    assert hrefs == [f"/kiosk?idle={IDLE}&warn={WARN}&lang=en"]  # the language, in the flow
    assert await page.locator("#contact_phone").get_attribute("inputmode") == "tel"
    assert await page.locator("#photos").count() == 0  # no camera, no file chooser
    assert await page.locator("#on-behalf").count() == 0
    assert await page.locator("#use-gps").is_hidden()
    for selector in ("#category", "#description", "#contact_phone", "#submit", "#kiosk-restart"):
        box = await page.locator(selector).bounding_box()
        assert box["height"] >= 56, selector
    assert await serious_violations(page) == []


@needs_chromium
async def test_an_idle_kiosk_warns_then_clears_everything_and_starts_over(page, open_incident):
    await open_kiosk(page)
    await page.select_option("#category", "fire.blocked_exit")
    await page.fill("#description", "三楼楼道堆放杂物")
    await page.fill("#contact_phone", "13800001111")
    warning = page.locator("#kiosk-warning")
    await warning.wait_for(timeout=(IDLE - WARN + 2) * 1000)
    assert "秒后将清空" in await page.locator("#kiosk-warning-text").inner_text()
    assert (await page.locator("#kiosk-seconds").inner_text()).endswith(" 秒")
    assert await serious_violations(page) == []
    # A touch keeps the visitor's work and hides the warning...
    await page.click("#kiosk-stay")
    await warning.wait_for(state="hidden")
    assert await page.input_value("#description") == "三楼楼道堆放杂物"
    # ...then, left alone, the page starts over, empty.
    async with page.expect_navigation(timeout=(IDLE + 3) * 1000):
        pass
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    assert page.url.endswith(KIOSK)
    assert await page.input_value("#category") == ""
    assert await page.input_value("#description") == ""
    assert await page.input_value("#contact_phone") == ""
    assert await page.locator("#kiosk-warning").is_hidden()


@needs_chromium
async def test_a_kiosk_report_prints_a_receipt_and_keeps_no_secret(
    page, open_incident, async_engine
):
    # What an earlier visitor's report on another page of this device would have kept.
    await page.add_init_script(
        "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"
    )
    await page.goto("/track")
    await page.evaluate(
        "() => localStorage.setItem('gridgov.report.260101-AAAAAAAA', 'x'.repeat(24))"
    )
    await open_kiosk(page)
    assert await kept_secrets(page) == {}
    await page.select_option("#category", "fire.blocked_exit")
    await pin_here(page, *metres_point(700, 200))  # in cell a2
    await page.fill("#description", "消防通道被车辆堵塞")
    await page.click("#submit")
    await page.locator("#result").wait_for()
    number = (await page.locator("#tracking-number").inner_text()).strip()
    secret = (await page.locator("#secret").inner_text()).strip()
    assert number and len(secret) >= 20
    assert "不会保存查询码" in await page.locator("#secret-saved").inner_text()
    assert await page.locator("#copy-secret").is_hidden()
    stored = await kept_secrets(page)
    assert stored == {} and not any(secret in v for v in stored.values())
    assert await page.locator("#receipt-category").inner_text() == "安全出口、疏散通道或楼梯间堵塞"
    assert await page.locator("#result a[href]").count() == 0  # no link out of the flow
    # The receipt: printed by the browser, the result alone on paper.
    await page.click("#kiosk-print")
    assert await page.evaluate("() => window.__printed") == 1
    await page.emulate_media(media="print")
    assert await page.locator("#report-form").is_hidden()
    assert await page.locator(".ksk-done").is_hidden()
    assert await page.locator("#tracking-number").is_visible()
    assert await page.locator("#secret").is_visible()
    await page.emulate_media(media="screen")
    assert await serious_violations(page) == []
    # Done: the next visitor finds the start page, and nothing of this report.
    async with page.expect_navigation():
        await page.click("#kiosk-finish")
    await page.locator("select#category option[value='fire.blocked_exit']").wait_for(
        state="attached"
    )
    assert await page.locator("#result").is_hidden()
    assert secret not in await page.content()
    assert await kept_secrets(page) == {}
    async with async_engine.begin() as conn:
        channel = (
            await conn.execute(
                text("SELECT channel FROM incidents WHERE tracking_number = :n"), {"n": number}
            )
        ).scalar()
        await conn.execute(text("DELETE FROM incidents WHERE tracking_number = :n"), {"n": number})
    assert channel == "terminal"  # filed on the self-service terminal's own channel


@pytest.mark.parametrize(
    ("query", "field"), [("idle=5", "idle"), ("idle=60&warn=60", "warn"), ("warn=0", "warn")]
)
async def test_bad_kiosk_timings_get_a_422_naming_the_field(server, query, field):
    async with httpx.AsyncClient(base_url=server) as client:
        answer = await client.get(f"/kiosk?{query}", headers={"Accept": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["fields"][0]["field"] == field
