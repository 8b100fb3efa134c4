"""Text from the server is never markup on a page (issue 15, item 18): a building address
and a report address `<img src=x onerror=window.__pwned=1>` show as text on the worker
page (patrol list, to-dos, map markers) and on the desk; no element is made of them and
window.__pwned stays undefined. (No page script writes innerHTML, insertAdjacentHTML or
setHTML; this test holds them to it.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from grid.models import GridCell
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import PASSWORD, make_building, metres_point
from tests.pages_support import needs_chromium

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]

HOSTILE = "<img src=x onerror=window.__pwned=1>"
A1 = "880101001001001"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hostile(async_engine, settings, open_incident) -> AsyncIterator[str]:
    """A building on the worker's patrol list and a report in cell a1, both with the
    hostile address; removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        cell = (await session.execute(select(GridCell).where(GridCell.code == A1))).scalar_one()
        building = await make_building(session, cell, (360, 360, 380, 380), HOSTILE)
        lon, lat = metres_point(200, 350)
        report = await submit_report(
            session,
            intake_context(settings),
            ReportIn(category="fire.blocked_lane", lon=lon, lat=lat, address=HOSTILE),
            [],
            None,
            datetime.now(UTC),
        )
        await session.commit()
    yield report.tracking_number
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM buildings WHERE id = :id"), {"id": building.id})


async def _sign_in(page, username: str, path: str) -> None:
    await page.goto(path)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")


async def _rendered_as_text(page) -> None:
    await page.get_by_text(HOSTILE).first.wait_for()
    assert await page.locator("img[src='x']").count() == 0
    assert await page.evaluate("() => typeof window.__pwned") == "undefined"


async def test_the_worker_page_shows_a_hostile_address_as_text(page, hostile):
    await _sign_in(page, "pages-w", "/worker")
    await page.locator("body[data-incidents][data-buildings]").wait_for(state="attached")
    await _rendered_as_text(page)
    # Marker labels are attributes, never markup either.
    labels = await page.locator(".gl-dot").evaluate_all(
        "dots => dots.map(d => d.getAttribute('aria-label') || '')"
    )
    assert any(HOSTILE in label for label in labels)


async def test_the_desk_shows_a_hostile_address_as_text(page, hostile, community_manager):
    await _sign_in(page, community_manager, f"/desk?cell={A1}")
    await page.locator("#list-status", has_text="共显示").wait_for()
    await page.locator(f"#list tr[data-number='{hostile}']").wait_for()
    await _rendered_as_text(page)
