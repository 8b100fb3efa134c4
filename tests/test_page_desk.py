"""The managers' desk (/desk) in headless Chromium against a real server and the test
database: a community manager assigns, bulk-assigns, decides an extension, approves a
text in publication review, records a work order's revisit and confirms a rating flag,
each through the page only, with the server's state checked after each; the ?cell= and
?region= filters; accessibility with data loaded; a grid worker is told the desk is for
managers. Also the desk's own reads (GET /desk/area, GET /desk/rating-flags)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import PASSWORD, assign, auth_headers, make_user, make_world, metres_point
from tests.pages_support import needs_chromium, serious_violations
from tests.test_page_dashboard import POINT_OF

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

A1, A2 = "880101001001001", "880101001001002"
COMMUNITY_A, COMMUNITY_B = "880101001001", "880101001002"
PHONE_TEXT = "三楼楼道堆满纸箱，联系13912345678"


@dataclass
class DeskWorld:
    """The committed objects the desk tests act on (numbers, ids, usernames)."""

    manager: str
    worker_a1: str
    worker_a2: str
    transferred: str  # in the queue after its worker's transfer
    bulk: tuple[str, str]  # two reports of cell a2, with its worker
    extension_number: str
    extension_id: int
    review_number: str  # its text names a phone number
    work_order_id: int
    flag_id: int
    flagged_rating_id: int
    resolved: tuple[str, str]  # resolved by the a1 worker, waiting for verification
    stale: str  # changed by another manager after the page loaded it


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def desk_world(async_engine, settings, server) -> AsyncIterator[DeskWorld]:
    """A committed world: two workers (cells a1 and a2), two community managers, and
    reports in every state the desk acts on, made through the API; removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        world = await make_world(session)
        cm = await make_user(
            session, "desk-cm", "community_manager", world.community_a, display_name="甲社区主任"
        )
        cm2 = await make_user(session, "desk-cm2", "community_manager", world.community_a)
        w1 = await make_user(
            session, "desk-w1", "grid_worker", world.community_a, display_name="网格员一"
        )
        w2 = await make_user(
            session, "desk-w2", "grid_worker", world.community_a, display_name="网格员二"
        )
        await assign(session, world.cell_a1, w1, valid_from=date(2026, 1, 1))
        await assign(session, world.cell_a2, w2, valid_from=date(2026, 1, 1))
        await session.commit()
    h_w1, h_cm2 = auth_headers(w1, settings), auth_headers(cm2, settings)
    a1_point, a2_point = metres_point(250, 250), metres_point(750, 250)

    async with httpx.AsyncClient(base_url=server) as client:

        async def report(point: tuple[float, float], description: str | None = None) -> dict:
            body: dict[str, Any] = {
                "category": "fire.blocked_exit",
                "lon": point[0],
                "lat": point[1],
            }
            if description:
                body["description"] = description
            return await _ok(await client.post("/reports", json=body), 201)

        async def act(number: str, headers: dict, action: str, **body: Any) -> None:
            await _ok(
                await client.post(
                    f"/incidents/{number}/actions", headers=headers, json={"action": action, **body}
                )
            )

        async def closed_and_rated(overall: int) -> tuple[str, int]:
            filed = await report(a1_point)
            number = filed["tracking_number"]
            await act(number, h_w1, "accept")
            await act(number, h_w1, "resolve", note="已清理楼道")
            await act(number, h_cm2, "close")
            await _ok(
                await client.post(
                    f"/reports/{number}/rating",
                    json={
                        "overall": overall,
                        "timeliness": overall,
                        "convenience": overall,
                        "secret": filed["secret"],
                    },
                ),
                201,
            )
            async with AsyncSession(async_engine) as s:
                rating = (
                    await s.execute(
                        text(
                            "SELECT g.id FROM ratings g JOIN incidents i ON i.id = g.incident_id "
                            "WHERE i.tracking_number = :n"
                        ),
                        {"n": number},
                    )
                ).scalar_one()
            return number, rating

        transferred = (await report(a1_point))["tracking_number"]
        await act(transferred, h_w1, "accept")
        await act(transferred, h_w1, "transfer", note="不在本网格，应由乙社区处理")
        bulk = (
            (await report(a2_point))["tracking_number"],
            (await report(a2_point))["tracking_number"],
        )
        extension_number = (await report(a1_point))["tracking_number"]
        await act(extension_number, h_w1, "accept")
        extension = await _ok(
            await client.post(
                f"/incidents/{extension_number}/extension-requests",
                headers=h_w1,
                json={
                    "until": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                    "reason": "需等待物业配合清运",
                },
            ),
            201,
        )
        review_number = (await report(a2_point, PHONE_TEXT))["tracking_number"]
        resolved = []
        for _ in range(2):
            number = (await report(a1_point))["tracking_number"]
            await act(number, h_w1, "accept")
            await act(number, h_w1, "resolve", note="已清理楼道")
            resolved.append(number)
        stale = (await report(a2_point))["tracking_number"]
        _bad, _bad_rating = await closed_and_rated(1)
        _flagged, flagged_rating = await closed_and_rated(2)
        flag = await _ok(
            await client.post(
                f"/ratings/{flagged_rating}/flags",
                headers=h_cm2,
                json={"reason": "评价人并非上报人"},
            ),
            201,
        )
    async with AsyncSession(async_engine) as s:
        work_order = (
            await s.execute(
                text(
                    "SELECT w.id FROM work_orders w JOIN incidents i ON i.id = w.incident_id "
                    "WHERE i.tracking_number = :n"
                ),
                {"n": _bad},
            )
        ).scalar_one()
    yield DeskWorld(
        manager=cm.username,
        worker_a1=w1.username,
        worker_a2=w2.username,
        transferred=transferred,
        bulk=bulk,
        extension_number=extension_number,
        extension_id=extension["id"],
        review_number=review_number,
        work_order_id=work_order,
        flag_id=flag["id"],
        flagged_rating_id=flagged_rating,
        resolved=(resolved[0], resolved[1]),
        stale=stale,
    )
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM incidents"))
        await conn.execute(text("DELETE FROM cell_assignments"))
        await conn.execute(text("DELETE FROM users WHERE username LIKE 'desk-%'"))
        await conn.execute(text("DELETE FROM grid_cells"))
        await conn.execute(text("DELETE FROM boundary_versions"))
        for level in ("community", "street", "district", "city"):
            await conn.execute(
                text("DELETE FROM regions WHERE code LIKE '8801%' AND level = :l"), {"l": level}
            )


async def _one(async_engine, sql: str, **params: Any) -> Any:
    async with AsyncSession(async_engine) as s:
        return (await s.execute(text(sql), params)).one()


async def _sign_in(page, username: str, path: str = "/desk") -> None:
    await page.goto(path)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")


async def _live(page, contains: str) -> str:
    live = page.locator("#desk-live", has_text=contains)
    await live.wait_for()
    return await live.inner_text()


async def _row(page, number: str):
    row = page.locator(f"#list tr[data-number='{number}']")
    await row.wait_for()
    return row


async def test_a_manager_assigns_a_transferred_report_from_the_queue(
    page, desk_world, async_engine
):
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="待派发").click()
    await page.locator("#list[data-list='queue']").wait_for(state="attached")
    row = await _row(page, desk_world.transferred)
    assert "已转办" in await row.inner_text()
    # A transfer is decided by assigning, or by rejecting it with a reason.
    assert await row.get_by_role("button", name="不予受理").is_visible()
    # The workers are listed with their open load, lightest first.
    options = await row.locator("select option").all_inner_texts()
    assert any(o.startswith("网格员二（desk-w2）· 在办") for o in options), options
    await row.locator("select").select_option(desk_world.worker_a2)
    await row.get_by_role("button", name="指派").click()
    assert desk_world.transferred in await _live(page, "已指派给 desk-w2")
    found = await _one(
        async_engine,
        """
        SELECT i.status, u.username FROM incidents i JOIN users u ON u.id = i.assignee_id
        WHERE i.tracking_number = :n""",
        n=desk_world.transferred,
    )
    assert tuple(found) == ("assigned", desk_world.worker_a2)
    # It left the queue: the list reloaded without it.
    await page.locator(f"#list tr[data-number='{desk_world.transferred}']").wait_for(
        state="detached"
    )


async def test_a_manager_bulk_assigns_two_reports(page, desk_world, async_engine):
    await _sign_in(page, desk_world.manager)
    for number in desk_world.bulk:
        await (await _row(page, number)).get_by_role("checkbox").check()
    assert await page.locator("#bulk-count").inner_text() == "已选 2 件"
    await page.locator("#bulk-worker").select_option(desk_world.worker_a1)
    await page.get_by_role("button", name="指派所选").click()
    await _live(page, "已将 2 件指派给 desk-w1")
    assignees = await _one(
        async_engine,
        """
        SELECT array_agg(DISTINCT u.username), array_agg(DISTINCT i.status)
        FROM incidents i JOIN users u ON u.id = i.assignee_id
        WHERE i.tracking_number = ANY(:n)""",
        n=list(desk_world.bulk),
    )
    assert tuple(assignees) == ([desk_world.worker_a1], ["assigned"])


async def test_a_manager_verifies_one_resolved_report_and_sends_another_back(
    page, desk_world, async_engine
):
    closing, sending_back = desk_world.resolved
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="待验收").click()
    await page.locator("#list[data-list='verify']").wait_for(state="attached")
    await (await _row(page, closing)).get_by_role("button", name="验收关闭").click()
    await _live(page, f"{closing} 已验收关闭")
    row = await _row(page, sending_back)
    await row.get_by_role("button", name="退回").click()
    await _live(page, "请填写原因")  # nothing sent without the reason
    await row.get_by_label(f"退回 {sending_back} 的原因").fill("楼道仍有杂物")
    await row.get_by_role("button", name="退回").click()
    await _live(page, f"{sending_back} 已退回重办")
    states = await _one(
        async_engine,
        """
        SELECT array_agg(status ORDER BY tracking_number = :closing DESC)
        FROM incidents WHERE tracking_number IN (:closing, :back)""",
        closing=closing,
        back=sending_back,
    )
    assert states[0] == ["closed", "reopened"]
    note = await _one(
        async_engine,
        """
        SELECT e.note FROM incident_events e JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :n ORDER BY e.id DESC LIMIT 1""",
        n=sending_back,
    )
    assert note[0] == "楼道仍有杂物"


async def test_a_stale_assignment_says_someone_else_changed_it_and_reloads(
    browser, server, desk_world, async_engine, settings
):
    # Its own context: the 409 is this test's point, not a console error to fail on.
    context = await browser.new_context(base_url=server, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(5000)
    try:
        await _sign_in(page, desk_world.manager)
        row = await _row(page, desk_world.stale)
        async with AsyncSession(async_engine) as s:
            cm2 = _Account(
                (
                    await s.execute(text("SELECT id FROM users WHERE username = 'desk-cm2'"))
                ).scalar_one()
            )
            version = (
                await s.execute(
                    text("SELECT version FROM incidents WHERE tracking_number = :n"),
                    {"n": desk_world.stale},
                )
            ).scalar_one()
        async with httpx.AsyncClient(base_url=server) as client:
            await _ok(
                await client.post(
                    f"/incidents/{desk_world.stale}/actions",
                    headers=auth_headers(cm2, settings),
                    json={"action": "assign", "assignee": desk_world.worker_a1, "version": version},
                )
            )
        await row.locator("select").select_option(desk_world.worker_a2)
        await row.get_by_role("button", name="改派").click()
        assert "已被他人修改" in await _live(page, desk_world.stale)
        # The row was reloaded with the other manager's choice; nothing was overwritten.
        await page.locator(
            f"#list tr[data-number='{desk_world.stale}']", has_text=desk_world.worker_a1
        ).wait_for()
        assignee = await _one(
            async_engine,
            """
            SELECT u.username FROM incidents i JOIN users u ON u.id = i.assignee_id
            WHERE i.tracking_number = :n""",
            n=desk_world.stale,
        )
        assert assignee[0] == desk_world.worker_a1
    finally:
        await context.close()


async def test_a_manager_grants_an_extension(page, desk_world, async_engine):
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="延期申请").click()
    card = page.locator(f"#extensions li[data-extension='{desk_world.extension_id}']")
    assert "需等待物业配合清运" in await card.inner_text()
    await card.get_by_role("button", name="同意延期").click()
    await _live(page, "已同意")
    decided = await _one(
        async_engine,
        """
        SELECT x.status, i.resolve_due_at = x.requested_until
        FROM extension_requests x JOIN incidents i ON i.id = x.incident_id
        WHERE x.id = :id""",
        id=desk_world.extension_id,
    )
    assert tuple(decided) == ("granted", True)
    await page.locator("#ext-empty").wait_for()


async def test_a_manager_approves_a_text_with_its_phone_number_masked(
    page, desk_world, async_engine
):
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="发布审核").click()
    card = page.locator(f"#reviews li[data-review='{desk_world.review_number}']")
    # The automatic redaction is highlighted; the phone number is not in the proposal.
    assert await card.locator("mark").first.text_content() == "[电话已隐去] (已自动隐去)"
    assert "13912345678" not in await card.locator("textarea").input_value()
    await card.get_by_role("button", name="通过文本").click()
    await _live(page, "文本已通过审核")
    state = await _one(
        async_engine,
        """
        SELECT text_review, published_description FROM incidents WHERE tracking_number = :n""",
        n=desk_world.review_number,
    )
    assert state.text_review == "approved"
    assert "[电话已隐去]" in state.published_description
    assert "13912345678" not in state.published_description


async def test_a_manager_records_a_work_orders_revisit(page, desk_world, async_engine):
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="好差评").click()
    card = page.locator(f"#work-orders li[data-work-order='{desk_world.work_order_id}']")
    assert "回访期限" in await card.inner_text()
    await card.get_by_label("回访方式").select_option("phone")
    await card.get_by_label("回访结果").fill("上报人表示已清理，基本满意")
    await card.get_by_label("整改措施").fill("督促物业每日巡查楼道")
    await card.get_by_role("button", name="记录回访").click()
    await _live(page, f"已记录工单 {desk_world.work_order_id} 的回访")
    order = await _one(
        async_engine,
        """
        SELECT status, contact_method, outcome FROM work_orders WHERE id = :id""",
        id=desk_world.work_order_id,
    )
    assert tuple(order) == ("revisited", "phone", "上报人表示已清理，基本满意")


async def test_a_second_manager_confirms_a_rating_flag(page, desk_world, async_engine):
    await _sign_in(page, desk_world.manager)
    await page.get_by_role("button", name="好差评").click()
    card = page.locator(f"#flags li[data-flag='{desk_world.flag_id}']")
    assert "desk-cm2 标记：评价人并非上报人" in await card.inner_text()
    await card.get_by_role("button", name="确认剔除").click()
    await _live(page, f"评价 {desk_world.flagged_rating_id} 不再计入统计")
    flag = await _one(
        async_engine,
        """
        SELECT f.status, g.excluded, u.username FROM rating_flags f
        JOIN ratings g ON g.id = f.rating_id JOIN users u ON u.id = f.decided_by_id
        WHERE f.id = :id""",
        id=desk_world.flag_id,
    )
    assert tuple(flag) == ("confirmed", True, desk_world.manager)


async def test_the_cell_and_region_links_narrow_the_list(page, desk_world):
    await _sign_in(page, desk_world.manager, f"/desk?cell={A1}")
    await page.locator("#list-status", has_text="共显示").wait_for()
    assert await page.locator("#place-text").inner_text() == f"网格 {A1}"
    numbers = await page.locator("#list tr").evaluate_all("rows => rows.map(r => r.dataset.number)")
    assert desk_world.extension_number in numbers  # cell a1's
    assert not set(desk_world.bulk) & set(numbers)  # cell a2's
    await page.goto(f"/desk?region={COMMUNITY_A}&lang=en")
    await page.locator("#list-status", has_text="shown").wait_for()
    assert f"Region 甲社区 ({COMMUNITY_A})" in await page.locator("#place-text").inner_text()
    numbers = await page.locator("#list tr").evaluate_all("rows => rows.map(r => r.dataset.number)")
    assert {desk_world.extension_number, *desk_world.bulk} <= set(numbers)
    assert await page.get_by_role("button", name="Assign selected").is_visible()


async def test_the_coverage_map_links_its_region_and_cells_to_the_desk(page, desk_world):
    await _sign_in(page, desk_world.manager, "/dashboard")
    await page.locator("body[data-level='cell'][data-drawn]").wait_for(
        state="attached", timeout=20000
    )
    region_link = page.locator("#desk-region-link a")
    assert await region_link.get_attribute("href") == f"/desk?region={COMMUNITY_A}&lang=zh-Hans"
    await page.mouse.click(*await page.evaluate(POINT_OF, A1))  # on the MapLibre canvas
    cell_link = page.locator(".dash-cell-popup a", has_text=f"网格 {A1} 的上报")
    assert await cell_link.get_attribute("href") == f"/desk?cell={A1}&lang=zh-Hans"
    await cell_link.click()
    await page.locator("#place-text", has_text=A1).wait_for()


async def test_the_desk_with_data_loaded_has_no_serious_accessibility_findings(page, desk_world):
    await _sign_in(page, desk_world.manager)
    await page.locator("#list tr").first.wait_for()
    found = await serious_violations(page)
    for section in ("延期申请", "发布审核", "好差评"):
        await page.get_by_role("button", name=section).click()
        found += await serious_violations(page)
    assert found == []
    await page.set_viewport_size({"width": 390, "height": 800})  # a phone
    await page.get_by_role("button", name="上报列表").click()
    assert await serious_violations(page) == []


async def test_a_grid_worker_is_told_the_desk_is_for_managers(page, desk_world):
    await _sign_in(page, desk_world.worker_a1)
    notice = page.locator("#desk-not-manager")
    await notice.wait_for()
    assert "仅供社区、街道、区级管理人员使用" in await notice.inner_text()
    assert await page.locator("#desk").is_hidden()
    assert await page.get_by_role("link", name="打开我的工作地图").get_attribute("href") == (
        "/worker?lang=zh-Hans"
    )


async def test_the_desk_area_lists_its_workers_with_their_open_load(
    desk_world, server, async_engine, settings
):
    async with AsyncSession(async_engine) as s:
        users = {
            u.username: u
            for u in (
                await s.execute(text("SELECT id, username FROM users WHERE username LIKE 'desk-%'"))
            ).all()
        }
        load = dict(
            (
                await s.execute(
                    text("""
            SELECT u.username, count(*) FROM incidents i JOIN users u ON u.id = i.assignee_id
            WHERE i.status IN ('assigned', 'accepted', 'in_progress', 'transferred',
                               'reopened', 'submitted')
            GROUP BY u.username""")
                )
            ).all()
        )
    cm = _Account(users["desk-cm"].id)
    async with httpx.AsyncClient(base_url=server, headers=auth_headers(cm, settings)) as c:
        area = await _ok(await c.get("/desk/area"))
        assert area["region"]["code"] == COMMUNITY_A
        assert area["cells"] == [A1, A2]
        assert {w["username"]: w["open_load"] for w in area["workers"]} == {
            "desk-w1": load.get("desk-w1", 0),
            "desk-w2": load.get("desk-w2", 0),
        }
        assert {w["username"]: w["cells"] for w in area["workers"]} == {
            "desk-w1": [A1],
            "desk-w2": [A2],
        }
        outside = await c.get("/desk/area", params={"region": COMMUNITY_B})
        assert outside.status_code == 403
        bad = await c.get("/desk/area", params={"region": "12"})
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "region"
        flags = await _ok(await c.get("/desk/rating-flags"))
        assert all(set(f) >= {"id", "tracking_number", "reason", "mine"} for f in flags["items"])
    worker = _Account(users["desk-w1"].id)
    async with httpx.AsyncClient(base_url=server) as c:
        refused = await c.get("/desk/area", headers=auth_headers(worker, settings))
    assert refused.status_code == 403


@dataclass
class _Account:
    """Just enough of a user for auth_headers."""

    id: int
