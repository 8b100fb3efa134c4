"""The grid worker's app (/worker) in headless Chromium on a phone (390x844, located by
the test): my open reports overdue first with address, distance and time left, linking to
/case; to-do markers above patrol markers; a patrol visit and a hazard filed from one; new
work arriving live with the inbox badge; the cached lists when the network fails; the
lists without WebGL; accessibility; a non-worker told the page is not theirs."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Locator, Page, expect
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from grid.models import GridCell
from incidents.intake.filing import ReportIn, submit_report
from incidents.notify.outbox import deliver_batch
from tests.factories import PASSWORD, make_building, metres_point
from tests.pages_support import PATROL_ADDRESS, needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

WORKER = "pages-w"
OVERDUE_ADDRESS = "超时路1号"
STACKED_ADDRESS = "叠放路2号"
HERE = metres_point(250, 150)  # the phone: 100 m south of the open report
FINDINGS = "三楼楼道堆放纸箱"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker_world(async_engine, settings, open_incident, patrol_building):
    """Beside the open report: an overdue one of the worker's (2 h past its deadline, with
    an address) and a patrol building right under the open report's pin (its marker and
    the report's at the same spot); the building, and every visit made, removed after."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        lon, lat = metres_point(150, 150)
        overdue = await submit_report(
            session,
            intake_context(settings),
            ReportIn(category="fire.blocked_lane", lon=lon, lat=lat, address=OVERDUE_ADDRESS),
            [],
            None,
            datetime.now(UTC),
        )
        late = datetime.now(UTC) - timedelta(hours=2, minutes=10)
        await session.execute(
            text("UPDATE incidents SET accept_due_at = :late WHERE tracking_number = :n"),
            {"late": late, "n": overdue.tracking_number},
        )
        cell = (
            await session.execute(select(GridCell).where(GridCell.code == "880101001001001"))
        ).scalar_one()
        stacked = await make_building(session, cell, (240, 240, 260, 260), STACKED_ADDRESS)
        await session.commit()
    yield {"overdue": overdue.tracking_number, "stacked": stacked.id}
    async with async_engine.begin() as conn:
        await conn.execute(
            text(
                "DELETE FROM patrol_visits WHERE user_id = (SELECT id FROM users WHERE username = :u)"
            ),
            {"u": WORKER},
        )
        await conn.execute(text("DELETE FROM buildings WHERE id = :id"), {"id": stacked.id})


@pytest_asyncio.fixture(loop_scope="session")
async def phone(browser, server, worker_world) -> AsyncIterator[Page]:
    """A phone-sized page that may read its position (HERE); script errors fail the test."""
    context = await browser.new_context(
        base_url=server,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        geolocation={"longitude": HERE[0], "latitude": HERE[1], "accuracy": 10},
        has_touch=True,
        # The page's own fallback is tested here; routes cannot see a service worker's fetches.
        service_workers="block",
    )
    await context.grant_permissions(["geolocation"])
    opened = await context.new_page()
    opened.set_default_timeout(8000)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    # net::ERR_FAILED is a request the test aborts on purpose, ERR_INTERNET_DISCONNECTED
    # one made while the context is offline (the network gone).
    opened.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and "net::ERR_FAILED" not in msg.text
            and "ERR_INTERNET_DISCONNECTED" not in msg.text
            and errors.append(msg.text)
        ),
    )
    yield opened
    assert errors == []
    await context.close()


async def _sign_in(page: Page, username: str = WORKER, path: str = "/worker") -> None:
    await page.goto(path)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")


async def _signed_in(page: Page) -> None:
    await _sign_in(page)
    await page.locator("body[data-incidents][data-buildings]").wait_for(state="attached")


async def _open_visit(page: Page, building_id: int) -> Locator:
    """Signed in, the building's entry on the patrol list with its visit form open."""
    await _signed_in(page)
    building = page.locator(f"#patrol li[data-building='{building_id}']")
    await building.locator(".wk-record").click()
    return building


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, "JPEG")
    return buffer.getvalue()


async def test_a_worker_sees_open_reports_overdue_first_with_address_distance_and_time_left(
    phone, open_incident, worker_world, async_engine
):
    await _signed_in(phone)
    numbers = await phone.locator("#incidents > li").evaluate_all(
        "items => items.map(li => li.dataset.number)"
    )
    assert numbers.index(worker_world["overdue"]) < numbers.index(open_incident)
    assert numbers[0] == worker_world["overdue"]  # the only overdue one leads
    overdue = phone.locator(f"#incidents li[data-number='{worker_world['overdue']}']")
    assert OVERDUE_ADDRESS in await overdue.inner_text()
    assert "已超时 2 小时" in await overdue.inner_text()
    async with async_engine.connect() as conn:
        address = (
            await conn.execute(
                text("SELECT address FROM incidents WHERE tracking_number = :n"),
                {"n": open_incident},
            )
        ).scalar()
    mine = phone.locator(f"#incidents li[data-number='{open_incident}']")
    await expect(mine.locator(".wk-dist")).to_contain_text("100 米")  # once the phone knows
    assert (address or "地址不详") in await mine.inner_text()
    assert "剩余" in await mine.inner_text()
    assert "已派发" in await mine.inner_text()
    box = await mine.locator("a").bounding_box()
    assert box is not None and box["height"] >= 44
    await mine.locator("a").click()
    await phone.wait_for_url(f"**/case/{open_incident}?lang=zh-Hans")


async def test_a_todo_marker_stays_above_a_patrol_marker_on_the_same_spot_and_opens_the_case(
    phone, open_incident, worker_world
):
    await _signed_in(phone)
    todo = phone.locator(f"#map .wk-todo[data-number='{open_incident}']")
    await todo.wait_for()
    stacked = phone.locator(f"#map .wk-patrol-dot[aria-label*='{STACKED_ADDRESS}']")
    await stacked.wait_for()
    await phone.wait_for_timeout(300)  # markers placed after the map's first frame
    box = await todo.bounding_box()
    under = await stacked.bounding_box()
    assert box is not None and under is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # The two markers overlap: the building's centre is the report's pin.
    assert abs(under["x"] + under["width"] / 2 - centre[0]) < 4
    on_top = await phone.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y);"
        " const dot = e && e.closest('.wk-todo'); return dot ? dot.dataset.number : null; }",
        list(centre),
    )
    assert on_top == open_incident
    assert await phone.locator("#map .wk-me").count() == 1  # my position, once known
    await todo.click()
    await phone.wait_for_url(f"**/case/{open_incident}?lang=zh-Hans")


async def test_a_worker_records_a_patrol_visit_with_findings_and_position(
    phone, patrol_building, async_engine
):
    await _signed_in(phone)
    building = phone.locator(f"#patrol li[data-building='{patrol_building}']")
    assert PATROL_ADDRESS in await building.inner_text()
    assert "从未巡查" in await building.locator(".wk-reasons").inner_text()
    await building.locator(".wk-record").click()
    await expect(building.locator("#visit-position")).to_contain_text("已定位")
    # A bare visit may carry a photo too (kept as evidence with the visit).
    await expect(building.locator("#visit-photo")).to_be_visible()
    await building.locator("#visit-note").fill(FINDINGS)
    await building.locator("#visit-submit").click()
    await expect(building.locator(".wk-result")).to_contain_text("巡查记录已提交")
    assert await phone.locator("#visit-form").is_hidden()
    async with async_engine.connect() as conn:
        visit = (
            await conn.execute(
                text(
                    "SELECT note, hazards_found, ST_X(location) AS lon, ST_Y(location) AS lat"
                    " FROM patrol_visits WHERE building_id = :b ORDER BY id DESC LIMIT 1"
                ),
                {"b": patrol_building},
            )
        ).one()
    assert visit.note == FINDINGS and visit.hazards_found == 0
    assert (visit.lon, visit.lat) == pytest.approx(HERE, abs=1e-6)


async def test_a_visit_recorded_offline_waits_in_the_queue_and_is_sent_back_online(
    phone, patrol_building, async_engine
):
    building = await _open_visit(phone, patrol_building)
    await phone.context.set_offline(True)
    await building.locator("#visit-note").fill("断网时的巡查记录")
    await building.locator("#visit-submit").click()
    await expect(building.locator(".wk-result")).to_contain_text("联网后自动提交")
    await expect(phone.locator("#queue-status")).to_have_attribute("data-waiting", "1")
    await phone.context.set_offline(False)
    await expect(phone.locator("#queue-status")).to_have_attribute("data-waiting", "0")
    async with async_engine.connect() as conn:
        notes = (
            (
                await conn.execute(
                    text("SELECT note FROM patrol_visits WHERE building_id = :b"),
                    {"b": patrol_building},
                )
            )
            .scalars()
            .all()
        )
    assert notes.count("断网时的巡查记录") == 1


async def test_a_visit_with_a_photo_from_the_phone_lands_in_patrol_visit_photos(
    phone, patrol_building, async_engine
):
    building = await _open_visit(phone, patrol_building)
    await expect(building.locator("#visit-photo-hint")).to_contain_text("不会公开")
    await expect(building.locator("#visit-position")).to_contain_text("已定位")
    await building.locator("#visit-note").fill("灭火器压力正常，已拍照")
    photo = _jpeg()
    await building.locator("#visit-photo").set_input_files(
        {"name": "visit.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    await building.locator("#visit-submit").click()
    await expect(building.locator(".wk-result")).to_contain_text("巡查记录已提交")
    assert await phone.locator("#visit-form").is_hidden()
    async with async_engine.connect() as conn:
        visit = (
            await conn.execute(
                text(
                    "SELECT v.hazards_found, ST_X(v.location) AS lon, ST_Y(v.location) AS lat,"
                    " array_agg(p.sha256) AS photos"
                    " FROM patrol_visits v JOIN patrol_visit_photos p ON p.visit_id = v.id"
                    " WHERE v.building_id = :b AND v.note = '灭火器压力正常，已拍照'"
                    " GROUP BY v.id"
                ),
                {"b": patrol_building},
            )
        ).one()
    assert visit.photos == [hashlib.sha256(photo).hexdigest()]
    assert visit.hazards_found == 0  # a plain visit: no hazard report went with it
    assert (visit.lon, visit.lat) == pytest.approx(HERE, abs=1e-6)


async def test_a_visit_with_a_photo_made_offline_is_kept_and_sent_with_it_back_online(
    phone, patrol_building, async_engine
):
    building = await _open_visit(phone, patrol_building)
    await phone.context.set_offline(True)
    await building.locator("#visit-note").fill("断网时拍的照片")
    photo = _jpeg()
    await building.locator("#visit-photo").set_input_files(
        {"name": "offline.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    await building.locator("#visit-submit").click()
    await expect(building.locator(".wk-result")).to_contain_text("联网后自动提交")
    await expect(phone.locator("#queue-status")).to_have_attribute("data-waiting", "1")
    await phone.context.set_offline(False)
    await expect(phone.locator("#queue-status")).to_have_attribute("data-waiting", "0")
    async with async_engine.connect() as conn:
        photos = (
            (
                await conn.execute(
                    text(
                        "SELECT p.sha256 FROM patrol_visit_photos p JOIN patrol_visits v ON v.id = p.visit_id"
                        " WHERE v.building_id = :b AND v.note = '断网时拍的照片'"
                    ),
                    {"b": patrol_building},
                )
            )
            .scalars()
            .all()
        )
    assert photos == [hashlib.sha256(photo).hexdigest()]


async def test_a_worker_files_a_hazard_with_a_photo_from_a_visit_and_gets_its_case_link(
    phone, worker_world, async_engine
):
    await _signed_in(phone)
    building = phone.locator(f"#patrol li[data-building='{worker_world['stacked']}']")
    await building.locator(".wk-hazard").click()
    await building.locator("#visit-category option[value='fire.flammable_storage']").wait_for(
        state="attached"
    )
    # A fire burning now is a 119 call, not a patrol report.
    assert await phone.locator("#visit-category option[value='fire.burning_now']").count() == 0
    await building.locator("#visit-submit").click()
    await expect(phone.locator("#visit-category-error")).to_have_text("请选择隐患类别")
    await building.locator("#visit-category").select_option("fire.flammable_storage")
    await building.locator("#visit-note").fill(FINDINGS + "，有汽油桶")
    await building.locator("#visit-photo").set_input_files(
        {"name": "hazard.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}
    )
    await building.locator("#visit-submit").click()
    link = building.locator(".wk-result a.wk-new-report")
    await link.wait_for()
    number = await link.inner_text()
    assert await link.get_attribute("href") == f"/case/{number}?lang=zh-Hans"
    async with async_engine.connect() as conn:
        report = (
            await conn.execute(
                text(
                    "SELECT i.channel, i.category_code, i.description, i.address,"
                    " (SELECT count(*) FROM incident_photos p WHERE p.incident_id = i.id) AS photos"
                    " FROM incidents i WHERE tracking_number = :n"
                ),
                {"n": number},
            )
        ).one()
        visit = (
            await conn.execute(
                text(
                    "SELECT note, hazards_found FROM patrol_visits WHERE building_id = :b"
                    " ORDER BY id DESC LIMIT 1"
                ),
                {"b": worker_world["stacked"]},
            )
        ).one()
    assert report.channel == "patrol" and report.category_code == "fire.flammable_storage"
    assert report.description == FINDINGS + "，有汽油桶"
    assert report.address == STACKED_ADDRESS
    assert report.photos == 1
    assert visit.note == FINDINGS + "，有汽油桶" and visit.hazards_found == 1
    async with async_engine.connect() as conn:
        kept_twice = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM patrol_visit_photos p JOIN patrol_visits v ON v.id = p.visit_id"
                    " WHERE v.building_id = :b"
                ),
                {"b": worker_world["stacked"]},
            )
        ).scalar()
    assert kept_twice == 0  # a hazard's photo goes with its report only


async def test_a_new_assignment_arrives_without_reload_with_the_unread_badge(
    phone, server, sync_engine, open_incident
):
    await _signed_in(phone)
    # The stream has answered once it set the badge's label (count on connect).
    await phone.locator("#inbox-link[aria-label]").wait_for(state="attached")
    await phone.wait_for_timeout(300)
    lon, lat = metres_point(350, 100)
    async with httpx.AsyncClient(base_url=server) as client:
        filed = await client.post(
            "/reports",
            json={"category": "fire.wiring_rental", "lon": lon, "lat": lat, "address": "新派路3号"},
        )
    assert filed.status_code == 201, filed.text
    number = filed.json()["tracking_number"]
    with sync_engine.begin() as conn:  # what the outbox worker does
        deliver_batch(conn)
    with sync_engine.connect() as conn:
        unread = conn.execute(
            text(
                "SELECT count(*) FROM inbox_items i JOIN users u ON u.id = i.user_id"
                " WHERE u.username = :u AND i.read_at IS NULL"
            ),
            {"u": WORKER},
        ).scalar()
    await phone.locator(f"#incidents li[data-number='{number}']").wait_for()
    await expect(phone.locator("#inbox-badge")).to_have_text(str(unread))
    news = phone.locator(f"#inbox a[href^='/case/{number}']")
    await expect(news).to_contain_text("新派发")


async def test_the_last_lists_are_shown_marked_offline_when_the_network_fails(
    phone, open_incident, patrol_building
):
    await _signed_in(phone)
    await phone.locator(f"#incidents li[data-number='{open_incident}']").wait_for()
    await phone.route(
        re.compile(r"/(incidents\?view=mine|patrol\?limit=)"), lambda route: route.abort()
    )
    await phone.reload()
    await phone.locator("#incidents-offline").wait_for()
    assert "离线数据" in await phone.locator("#incidents-offline").inner_text()
    assert await phone.locator(f"#incidents li[data-number='{open_incident}']").count() == 1
    assert "离线数据" in await phone.locator("#patrol-offline").inner_text()
    assert await phone.locator(f"#patrol li[data-building='{patrol_building}']").count() == 1


async def test_without_webgl_the_map_area_says_so_and_the_lists_work(phone, open_incident):
    await phone.add_init_script(
        "HTMLCanvasElement.prototype.getContext = function () { return null; };"
    )
    await _signed_in(phone)
    assert "WebGL" in await phone.locator("#map").inner_text()
    assert await phone.locator(f"#incidents li[data-number='{open_incident}']").count() == 1


async def test_the_worker_app_has_no_serious_accessibility_violations(phone, server):
    hosts: list[str] = []
    phone.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await _signed_in(phone)
    await phone.locator("#patrol .wk-hazard").first.click()
    await phone.wait_for_load_state("networkidle")
    assert await serious_violations(phone) == []
    assert {h for h in hosts if h} == {urlsplit(server).netloc}


async def test_the_worker_app_tells_a_non_worker_it_is_for_grid_workers(
    browser, server, community_manager
):
    # Its own context: the expected 403 shows in the console as an error.
    context = await browser.new_context(base_url=server, viewport={"width": 390, "height": 844})
    page = await context.new_page()
    page.set_default_timeout(8000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await _sign_in(page, community_manager, "/worker?lang=en")
        assert "My work map" in await page.locator("h1").inner_text()
        await page.locator("#not-worker").wait_for()
        assert "grid workers only" in await page.locator("#not-worker").inner_text()
        assert await page.locator("#worker-layout").is_hidden()
    finally:
        await context.close()
    assert errors == []
