"""Page benchmark: for each map page, the size of its HTML and of the data answers its
scripts fetch, and the time until it has drawn in headless chromium (p50 of a few runs),
on the demo city and on a 10,000-cell district.

    .venv/bin/python -m bench.pages_bench [--runs 5] [--cells 10000] [--buildings 100000]
        [--reports 2000] [--only demo|district] [--rebuild]

Targets (issue "Maps and pages"): no page's HTML over 2 MB; every page drawn in under
2 s. Progress goes to stderr; the figures table and one JSON line go to stdout; the exit
status is 1 when a page did not draw cleanly (an error answer, a script error, a map that
drew nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    WORKER_PASSWORD,
    Clock,
    free_port,
    gridgov_command,
    load_register,
    prepare_files,
    refuse_shared_databases,
    run_gridgov,
    start_server,
    stop_server,
)
from gis.database import create_bulk_engine, ensure_database
from maps.browser import (
    Answer,
    NetworkLog,
    carry_session_storage,
    launched_chromium,
    session_storage,
    sign_in,
    wait_until_drawn,
    watch_drawing,
)
from maps.screenshots import Account, find_tracking_number

DEMO_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_pages_demo"
DISTRICT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_pages_district"
DEFAULT_WORK_DIR = Path("/tmp/gridgov-bench")
DEFAULT_SEED = 20261124
HTML_TARGET_BYTES = 2 * 1024 * 1024
DRAW_TARGET_MS = 2000.0
VIEWPORT = {"width": 1280, "height": 800}
DISTRICT_STREET_MANAGER = "bench-street"
DISTRICT_PASSWORD = WORKER_PASSWORD  # the street manager signs in as the workers do
DATA_TYPES = {"fetch", "xhr"}
SIGN_IN_PATH = "/auth/token"  # timed as the sign-in, not as the page's data


@dataclass(frozen=True)
class City:
    """A database to measure and the accounts its staff pages sign in with."""

    name: str
    url: str
    manager: Account
    worker: Account


@dataclass
class PageFigures:
    """One page on one city: sizes from the first visit, draw times of every run."""

    city: str
    page: str
    html_bytes: int = 0
    data_answers: int = 0
    data_bytes: int = 0
    largest_data: tuple[str, int] = ("", 0)
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    sign_in_ms: list[float] = field(default_factory=list)
    # Per load, the data answer that took longest: (path, ms from sent to last byte).
    slowest: list[tuple[str, float]] = field(default_factory=list)
    shapes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def cold_p50(self) -> float:
        return statistics.median(self.cold_ms) if self.cold_ms else float("nan")

    @property
    def warm_p50(self) -> float:
        return statistics.median(self.warm_ms) if self.warm_ms else float("nan")

    @property
    def sign_in_p50(self) -> float | None:
        return statistics.median(self.sign_in_ms) if self.sign_in_ms else None

    def slowest_answer(self) -> tuple[str, float] | None:
        """The answer most often slowest, and the p50 of the slowest answers' times."""
        if not self.slowest:
            return None
        path = Counter(p for p, _ in self.slowest).most_common(1)[0][0]
        return path, statistics.median(ms for _, ms in self.slowest)

    def targets(self) -> dict[str, bool]:
        return {
            "html_under_2mb": self.html_bytes <= HTML_TARGET_BYTES,
            "drawn_under_2s": max(self.cold_p50, self.warm_p50) < DRAW_TARGET_MS,
        }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    figures: list[PageFigures] = []
    if args.only in (None, "demo"):
        figures += _measure_city(_prepare_demo(args, say), args, say)
    if args.only in (None, "district"):
        figures += _measure_city(_prepare_district(args, say), args, say)
    _print_figures(figures, args)
    return 1 if any(f.problems for f in figures) else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="timed loads of each kind per page")
    parser.add_argument(
        "--cells",
        type=int,
        default=10_000,
        help="the district's cells: a square of a multiple of 10",
    )
    parser.add_argument(
        "--buildings", type=int, default=100_000, help="the district's building footprints"
    )
    parser.add_argument(
        "--reports",
        type=int,
        default=2_000,
        help="reports filed in the district through intake and handling",
    )
    parser.add_argument("--only", choices=["demo", "district"], help="measure one city only")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="load the cities again even when their databases hold them",
    )
    parser.add_argument("--demo-database-url", default=DEMO_DATABASE_URL)
    parser.add_argument("--district-database-url", default=DISTRICT_DATABASE_URL)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK_DIR,
        help="where the district's GeoPackages are written",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return parser.parse_args(argv)


# --- the cities ---------------------------------------------------------------------


def _gridgov(url: str, *command: str, quiet: bool = False) -> None:
    """Run the gridgov command on a database (the product's own set-up path)."""
    run_gridgov({**os.environ, "GRIDGOV_DATABASE_URL": url}, *command, quiet=quiet)


def _prepare_demo(args: argparse.Namespace, say: Clock) -> City:
    """The demo city (`gridgov demo`), loaded once and kept."""
    from grid.user_admin import DEMO_PASSWORD

    url = args.demo_database_url
    refuse_shared_databases(url, "wipes its register")
    ensure_database(url)
    say(f"migrating {make_url(url).database}")
    _gridgov(url, "db", "upgrade", quiet=True)
    mode = "--replace" if args.rebuild else "--skip-if-loaded"
    say(f"gridgov demo {mode}")
    _gridgov(url, "demo", mode, quiet=True)
    return City("demo", url, Account("street", DEMO_PASSWORD), Account("worker", DEMO_PASSWORD))


def _prepare_district(args: argparse.Namespace, say: Clock) -> City:
    """The register bench's district (bench/district.py): its cells in force with a
    worker each, footprints imported, a street manager, and reports filed through the
    real intake and handling. Loaded once and kept (--rebuild loads it again)."""
    url = args.district_database_url
    refuse_shared_databases(url, "wipes its register")
    ensure_database(url)
    say(f"migrating {make_url(url).database}")
    _gridgov(url, "db", "upgrade", quiet=True)
    engine = create_bulk_engine(url)
    try:
        if args.rebuild or not _district_loaded(engine, args.cells):
            _load_district(engine, url, args, say)
        else:
            say(f"reusing the {args.cells:,}-cell district in {make_url(url).database}")
        worker = _busiest_worker(engine)
    finally:
        engine.dispose()
    return City(
        "district",
        url,
        Account(DISTRICT_STREET_MANAGER, DISTRICT_PASSWORD),
        Account(worker, DISTRICT_PASSWORD),
    )


def _district_loaded(engine: Engine, cells: int) -> bool:
    with engine.connect() as conn:
        in_force = conn.execute(
            text(
                "SELECT count(*) FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL"
            )
        ).scalar_one()
        manager = conn.execute(
            text("SELECT count(*) FROM users WHERE username = :u"), {"u": DISTRICT_STREET_MANAGER}
        ).scalar_one()
        reports = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    return in_force == cells and manager == 1 and reports > 0


def _load_district(engine: Engine, url: str, args: argparse.Namespace, say: Clock) -> None:
    from bench.district import STREET_CODE, make_district
    from grid.importing.buildings import import_buildings
    from grid.user_admin import create_user

    district = make_district(args.cells, args.seed)
    cells_path, buildings_path = prepare_files(
        district, args.work_dir, args.cells, args.buildings, args.seed, say
    )
    load_register(engine, district, cells_path, say)
    say(f"importing {args.buildings:,} footprints")
    with engine.begin() as conn:
        import_buildings(conn, buildings_path, progress=say)
        create_user(
            conn,
            username=DISTRICT_STREET_MANAGER,
            role="street_manager",
            password=DISTRICT_PASSWORD,
            region_code=STREET_CODE,
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE buildings, users"))
    say(f"filing {args.reports:,} reports through intake and handling")
    asyncio.run(_file_reports(url, args.reports, args.seed, say))


async def _file_reports(url: str, count: int, seed: int, say: Clock) -> None:
    from api.app import intake_context
    from gis.database import create_request_engine, session_factory
    from gis.settings import Settings
    from incidents.demo import make_demo_incidents

    engine = create_request_engine(url, pool_size=2)
    try:
        made = await make_demo_incidents(
            session_factory(engine),
            intake_context(Settings(database_url=url)),
            count=count,
            seed=seed,
            progress=say,
        )
    finally:
        await engine.dispose()
    say("reports: " + ", ".join(f"{n} {s}" for s, n in made.by_status.most_common()))


def _busiest_worker(engine: Engine) -> str:
    """The grid worker with the most reports, so /worker has something to draw."""
    with engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT u.username FROM incidents i JOIN users u ON u.id = i.assignee_id
            WHERE u.role = 'grid_worker' GROUP BY u.username
            ORDER BY count(*) DESC, u.username LIMIT 1
        """)
        ).scalar_one()


# --- the server ---------------------------------------------------------------------


def _start_server(url: str, port: int, say: Clock) -> subprocess.Popen:
    """One uvicorn worker with the app factory (what `gridgov serve` runs); waits for
    /health."""
    env = {
        **os.environ,
        "GRIDGOV_DATABASE_URL": url,
        # Back-to-back runs sign the same accounts in more often than the login limit allows.
        "GRIDGOV_RATE_LIMIT_EXEMPT": '["127.0.0.1/32"]',
    }
    server = start_server(gridgov_command(port), env, f"http://127.0.0.1:{port}/health")
    say(f"server on port {port} healthy")
    return server


# --- measuring ----------------------------------------------------------------------


def _measure_city(city: City, args: argparse.Namespace, say: Clock) -> list[PageFigures]:
    port = free_port()
    server = _start_server(city.url, port, say)
    try:
        return asyncio.run(_measure_pages(city, f"http://127.0.0.1:{port}", args.runs, say))
    finally:
        stop_server(server)
        say("server stopped")


async def _measure_pages(city: City, base_url: str, runs: int, say: Clock) -> list[PageFigures]:
    number = await find_tracking_number(base_url, city.manager)
    pages: list[tuple[str, str, Account | None]] = [
        ("map", "/map", None),
        ("report", "/report", None),
        ("track", f"/track/{number}", None),
        ("dashboard", "/dashboard", city.manager),
        ("worker", "/worker", city.worker),
    ]
    found = []
    async with launched_chromium() as browser:
        for name, path, account in pages:
            figures = PageFigures(city.name, name)
            if number is None and name == "track":
                figures.problems.append("no report to track")
            else:
                await _measure_page(browser, base_url, path, account, runs, figures, say)
            found.append(figures)
            say(
                f"{city.name} {name}: cold p50 {figures.cold_p50:.0f} ms, warm p50 "
                f"{figures.warm_p50:.0f} ms, HTML {figures.html_bytes / 1024:.1f} KiB, data "
                f"{figures.data_bytes / 1024:.0f} KiB in {figures.data_answers} answer(s)"
                + "".join(f"\n    problem: {p}" for p in figures.problems)
            )
    return found


async def _measure_page(
    browser: Browser,
    base_url: str,
    path: str,
    account: Account | None,
    runs: int,
    figures: PageFigures,
    say: Clock,
) -> None:
    """A staff page first signs in once (timed: click to answer) and keeps the tab's
    session; then `runs` cold visits (a new browser context each: empty cache, the
    session carried over) and `runs` warm reloads in the last one's tab (cached assets),
    each timed from the navigation start."""
    session: dict[str, str] = {}
    if account is not None:
        session = await _signed_in_session(browser, base_url, path, account, figures)
        if not session:
            return
    for run in range(runs):
        context = await browser.new_context(base_url=base_url, viewport=VIEWPORT, locale="zh-CN")
        await carry_session_storage(context, session)
        page = await context.new_page()
        await watch_drawing(page)
        log = NetworkLog(page)
        response = await page.goto(path, wait_until="commit")
        if response is None or response.status >= 400:
            figures.problems.append(f"GET {path} answered {response.status if response else '-'}")
            await context.close()
            return
        await _drawn(page, log, figures, figures.cold_ms)
        if run == 0:
            await _record_sizes(log, figures)
        if run < runs - 1:
            await context.close()
            continue
        for _ in range(runs):
            log.clear()
            await page.reload(wait_until="commit")
            await _drawn(page, log, figures, figures.warm_ms)
        await context.close()
    say(f"  {figures.page}: {runs} cold and {runs} warm loads")


async def _signed_in_session(
    browser: Browser, base_url: str, path: str, account: Account, figures: PageFigures
) -> dict[str, str]:
    """Sign in through the page's form once; the tab's session (empty if refused)."""
    context = await browser.new_context(base_url=base_url, viewport=VIEWPORT, locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(path, wait_until="load")
        clicked_ms = await page.evaluate("performance.now()")
        refused = await sign_in(page, account.username, account.password)
        if refused:
            figures.problems.append(refused)
            return {}
        figures.sign_in_ms.append(await page.evaluate("performance.now()") - clicked_ms)
        return await session_storage(page)
    finally:
        await context.close()


async def _drawn(page: Page, log: NetworkLog, figures: PageFigures, times: list[float]) -> None:
    """Wait until drawn; keep the time, the slowest data answer and any problem."""
    drawn = await wait_until_drawn(page, log)
    figures.problems.extend(p for p in drawn.problems if p not in figures.problems)
    figures.shapes = drawn.shapes
    times.append(drawn.last_change_ms)
    await _record_slowest(log, figures)


async def _data_answers(log: NetworkLog) -> list[Answer]:
    """What the page's scripts fetched, less the sign-in."""
    return [
        a
        for a in await log.answers()
        if a.resource_type in DATA_TYPES and urlsplit(a.url).path != SIGN_IN_PATH
    ]


async def _record_slowest(log: NetworkLog, figures: PageFigures) -> None:
    """The data answer of the last load that took longest to arrive."""
    timed = [(urlsplit(a.url).path, a.duration_ms) for a in await _data_answers(log)]
    if timed:
        figures.slowest.append(max(timed, key=lambda t: t[1]))


async def _record_sizes(log: NetworkLog, figures: PageFigures) -> None:
    """The HTML and the data answers of a visit (decoded bytes; gridgov does not gzip)."""
    for answer in await log.answers():
        if answer.resource_type == "document":
            figures.html_bytes = answer.body_bytes
    for answer in await _data_answers(log):
        figures.data_answers += 1
        figures.data_bytes += answer.body_bytes
        if answer.body_bytes > figures.largest_data[1]:
            figures.largest_data = (urlsplit(answer.url).path, answer.body_bytes)


# --- output -------------------------------------------------------------------------


def _print_figures(figures: list[PageFigures], args: argparse.Namespace) -> None:
    print(
        f"\nPage benchmark: {args.runs} cold and {args.runs} warm loads per page, "
        f"chromium {VIEWPORT['width']}x{VIEWPORT['height']}, one uvicorn worker; district "
        f"{args.cells:,} cells, {args.buildings:,} buildings, {args.reports:,} reports"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    header = (
        f"{'city':<9} {'page':<10} {'HTML KiB':>9} {'data':>5} {'data KiB':>9} "
        f"{'largest answer':<24} {'slowest answer p50':<24} {'sign-in':>8} "
        f"{'cold p50':>9} {'warm p50':>9}  targets"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        largest = (
            f"{_short(f.largest_data[0])} {f.largest_data[1] / 1024:.0f} KiB"
            if f.data_answers
            else "-"
        )
        slowest = f.slowest_answer()
        slow = f"{_short(slowest[0])} {slowest[1]:.0f} ms" if slowest else "-"
        sign_in = f"{f.sign_in_p50:.0f}ms" if f.sign_in_p50 is not None else "-"
        met = (
            "ok"
            if all(f.targets().values())
            else "MISSED " + ",".join(k for k, ok in f.targets().items() if not ok)
        )
        if f.problems:
            met += f" ({len(f.problems)} problem(s))"
        print(
            f"{f.city:<9} {f.page:<10} {f.html_bytes / 1024:>9.1f} {f.data_answers:>5} "
            f"{f.data_bytes / 1024:>9.0f} {largest:<24} {slow:<24} {sign_in:>8} "
            f"{f.cold_p50:>7.0f}ms {f.warm_p50:>7.0f}ms  {met}"
        )
    print(
        f"targets: HTML <= {HTML_TARGET_BYTES // (1024 * 1024)} MB; drawn (p50, cold and "
        f"warm) < {DRAW_TARGET_MS / 1000:.0f} s. Cold = new browser context (empty cache; staff "
        "pages with the session of one sign-in, timed click to answer); warm = reload in the "
        "same tab; "
        "slowest answer = the data request that took longest (sent to last byte), p50 of loads."
    )
    print(json.dumps([_as_json(f) for f in figures], ensure_ascii=False))


def _short(path: str) -> str:
    """A path that fits its column (tracking numbers make /reports/... long)."""
    return path if len(path) <= 18 else path[:17] + "…"


def _as_json(f: PageFigures) -> dict[str, Any]:
    return {
        "city": f.city,
        "page": f.page,
        "html_bytes": f.html_bytes,
        "data_answers": f.data_answers,
        "data_bytes": f.data_bytes,
        "largest_data": list(f.largest_data),
        "cold_ms": [round(x) for x in f.cold_ms],
        "warm_ms": [round(x) for x in f.warm_ms],
        "sign_in_ms": [round(x) for x in f.sign_in_ms],
        "slowest_answers": [[p, round(ms)] for p, ms in f.slowest],
        "cold_p50_ms": round(f.cold_p50) if f.cold_ms else None,
        "warm_p50_ms": round(f.warm_p50) if f.warm_ms else None,
        "targets": f.targets(),
        "problems": f.problems,
    }


if __name__ == "__main__":
    sys.exit(main())
