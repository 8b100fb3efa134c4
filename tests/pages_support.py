"""Shared fixtures of the page tests: the app served on 127.0.0.1, Debian's headless
chromium (driven by Playwright), a committed world with one open report, and an axe-core
scan. Loaded for every test module by tests/conftest.py (pytest_plugins)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app, intake_context
from grid.models import GridCell, Region
from incidents.intake.filing import ReportIn, submit_report
from maps.page_assets import missing_vendor_files
from tests.factories import assign, make_building, make_user, make_world, metres_point
from tests.test_basemap_tiles import load_basemap

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/setup installs it: apt-get install chromium)",
)
USER_PHONE = "13912345678"
PATROL_ADDRESS = "巡查路8号"
REPORTER_TEXT = "王五家楼道堵了"


@contextmanager
def serve(app) -> Iterator[str]:
    """The ASGI app served by uvicorn in a thread on a free port of 127.0.0.1; its base
    URL while the block runs."""
    # The socket the OS picked is handed to uvicorn still bound, so no other run (or
    # other process) can take the port between picking and listening.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    assert running.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture(scope="module")
def server(settings, migrated_db) -> Iterator[str]:
    """The app served on 127.0.0.1."""
    assert not missing_vendor_files(), "run scripts/setup: the npm assets are missing"
    with serve(create_app(settings)) as base:
        yield base


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def open_incident(async_engine, settings) -> AsyncIterator[str]:
    """A committed world with a worker and one open report (the server has its own
    connections); removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        world = await make_world(session)
        worker = await make_user(
            session, "pages-w", "grid_worker", world.community_a, phone=USER_PHONE
        )
        await assign(session, world.cell_a1, worker, valid_from=date(2026, 1, 1))
        lon, lat = metres_point(250, 250)
        submission = await submit_report(
            session,
            intake_context(settings),
            ReportIn(
                category="fire.blocked_exit",
                lon=lon,
                lat=lat,
                description=REPORTER_TEXT,
                contact_name="王五",
                contact_phone=USER_PHONE,
            ),
            [],
            None,
            datetime.now(UTC),
        )
        await session.commit()
    yield submission.tracking_number
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM incidents"))
        await conn.execute(text("DELETE FROM cell_assignments"))
        await conn.execute(text("DELETE FROM users WHERE username LIKE 'pages-%'"))
        await conn.execute(text("DELETE FROM grid_cells"))
        await conn.execute(text("DELETE FROM boundary_versions"))
        for level in ("community", "street", "district", "city"):
            await conn.execute(
                text("DELETE FROM regions WHERE code LIKE '8801%' AND level = :l"), {"l": level}
            )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def community_manager(async_engine, open_incident) -> str:
    """A manager of the open report's community (community A: cells a1, staffed and with
    the report, and a2); open_incident's clean-up removes the account."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        community = (
            await session.execute(
                select(Region).where(Region.code == "880101001001", Region.level == "community")
            )
        ).scalar_one()
        user = await make_user(session, "pages-cm", "community_manager", community)
        await session.commit()
    return user.username


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def patrol_building(async_engine, open_incident) -> AsyncIterator[int]:
    """A building in the worker's cell a1 (on their patrol list); removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        cell = (
            await session.execute(select(GridCell).where(GridCell.code == "880101001001001"))
        ).scalar_one()
        building = await make_building(session, cell, (300, 300, 340, 340), PATROL_ADDRESS)
        await session.commit()
    yield building.id
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM buildings WHERE id = :id"), {"id": building.id})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def basemap_rows(async_engine, open_incident) -> AsyncIterator[None]:
    """The test city's named roads (中山大道 on y 250 m, 先烈路 on x 750 m, 翠竹街 on
    y 400 m...), areas and places, committed for the server; removed afterwards."""
    async with AsyncSession(async_engine) as session:
        await load_basemap(session)
        await session.commit()
    yield
    async with async_engine.begin() as conn:
        for table in ("roads", "water", "green", "places", "compounds"):
            await conn.execute(text(f"DELETE FROM basemap.{table} WHERE source = 'file'"))


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    await page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return await page.evaluate(
        "async () => (await axe.run()).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless chromium (no `playwright install`: no download)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser, server) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=server, locale="zh-CN")
    opened = await context.new_page()
    opened.set_default_timeout(5000)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    # A 422 is a form's expected answer to bad input; any other failed load is not.
    opened.on(
        "console",
        lambda msg: (
            msg.type == "error" and "status of 422" not in msg.text and errors.append(msg.text)
        ),
    )
    yield opened
    # A script error would leave a page half-working while its test might still pass.
    assert errors == []
    await context.close()
