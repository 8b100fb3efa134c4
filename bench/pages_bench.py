"""Page benchmark: for each page, the scripts and stylesheets it loads (bytes on the wire,
compressed as the browser received them) and its time to interactive (p50 of a few
loads in headless chromium), on the demo city and, optionally, a 10,000-cell district.

    .venv/bin/python -m bench.pages_bench [--runs 5] [--only demo|district]
        [--cells 10000] [--buildings 100000] [--reports 2000] [--rebuild]

Pages: /, /map, /report, /track/{n}, /dashboard, /worker, /case/{n}, /desk, /docs; the
staff pages signed in as the demo accounts (street manager, grid worker). A page that
answers 404 (not built yet) is skipped with a message.

Time to interactive, from the navigation start, is the latest of: the DOM content
loaded; the page's last change (a DOM mutation); the last answer to any request the page
or its workers made (long-lived event streams excepted). It is taken once the page has
been quiet for 300 ms (no request in flight, no change) with its main content shown:
each visible map drawn (its MapLibre canvas shown), no sign-in form
on a staff page, the documentation's viewer started. A MapLibre map paints its last
tiles on the next animation frame, which the DOM does not show: up to ~16 ms unseen.

Targets: scripts + stylesheets <= 300 kB on the wire (first visit, empty cache); time
to interactive <= 1.5 s (p50 of the cold loads). The machine's load during the run is
printed; when other processes used more than a quarter of a core (bench.machine.
MachineWatch; the browsers and servers this bench starts are its own) no verdict is
given: the figures are then shown but not judged. Progress goes to stderr; the table and one JSON
line go to stdout; the exit status is 1 when a page did not load cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, Page, Request
from playwright.async_api import Error as PlaywrightError
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    free_port,
    gridgov_command,
    start_server,
    stop_server,
)
from bench.machine import MachineLoad, MachineWatch
from bench.pages_data import City, prepare_demo, prepare_district
from demo.browser import LONG_LIVED, POLL_S, QUIET_S, NetworkLog, launched_chromium, watch_drawing
from demo.screenshots import Account, find_tracking_number
from demo.seed import DEFAULT_SEED

DEMO_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_pages_demo"
DISTRICT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_pages_district"
DEFAULT_WORK_DIR = Path("/tmp/gridgov-bench")
ASSETS_TARGET_BYTES = 300_000
TTI_TARGET_MS = 1500.0
VIEWPORT = {"width": 1280, "height": 800}


LOAD_TIMEOUT_S = 20.0
ASSET_TYPES = {"script", "stylesheet"}
DATA_TYPES = {"fetch", "xhr"}
# Where staff.js keeps this browser's staff session (gg.staff): the bench signs in once
# over the API and gives each new browser the same session, as a signed-in user has.
STAFF_TOKEN_KEY = "gridgov.staff.token"
STAFF_EXPIRES_KEY = "gridgov.staff.expires"

# (name, path, who signs in); {number} is a report in the manager's area.
PAGES: tuple[tuple[str, str, str | None], ...] = (
    ("home", "/", None),
    ("map", "/map", None),
    ("report", "/report", None),
    ("track", "/track/{number}", None),
    ("dashboard", "/dashboard", "manager"),
    ("worker", "/worker", "worker"),
    ("case", "/case/{number}", "manager"),
    ("desk", "/desk", "manager"),
    ("docs", "/docs", None),
)

# Whether the main content is shown, and the page's clock.
_PROBE = """
() => {
  const shown = (el) => el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== "hidden";
  const gl = Array.from(document.querySelectorAll(".maplibregl-map")).filter(shown);
  const password = Array.from(document.querySelectorAll("input[type=password]")).some(shown);
  const nav = performance.getEntriesByType("navigation")[0];
  const docs = document.getElementById("docs-ui");
  return {
    complete: document.readyState === "complete",
    maps: gl.length,
    blankMaps: gl.filter((m) => !m.querySelector("canvas.maplibregl-canvas")).length,
    signInShown: password,
    docsWaiting: !!docs && document.body.dataset.ready !== "true",
    now: performance.now(),
    timeOrigin: performance.timeOrigin,
    lastChange: (window.__ggDrawState || { lastChange: 0 }).lastChange,
    contentLoaded: nav ? nav.domContentLoadedEventEnd : 0,
  };
}
"""


@dataclass
class PageFigures:
    """One page on one city: sizes from the first visit, times of every load."""

    city: str
    page: str
    path: str = ""
    skipped: str = ""
    asset_files: list[tuple[str, int, int]] = field(default_factory=list)  # path, wire, decoded
    asset_wire_bytes: int = 0  # scripts + stylesheets, as received (compressed)
    asset_bytes: int = 0  # the same, decoded
    assets: int = 0
    largest_asset: tuple[str, int] = ("", 0)  # wire bytes
    html_wire_bytes: int = 0
    data_answers: int = 0
    data_bytes: int = 0
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def cold_p50(self) -> float:
        return statistics.median(self.cold_ms) if self.cold_ms else float("nan")

    @property
    def warm_p50(self) -> float:
        return statistics.median(self.warm_ms) if self.warm_ms else float("nan")

    def targets(self) -> dict[str, bool]:
        return {
            "assets_under_300kb": self.asset_wire_bytes <= ASSETS_TARGET_BYTES,
            "interactive_under_1_5s": self.cold_p50 <= TTI_TARGET_MS,
        }


@dataclass
class Load:
    """One load of a page: when it became interactive and what it fetched."""

    tti_ms: float
    requests: list[Request]
    problems: list[str]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    say(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    figures: list[PageFigures] = []
    databases = [
        make_url(u).database or "" for u in (args.demo_database_url, args.district_database_url)
    ]
    # Its children (the servers, the browser) are the bench's own work, not others'.
    with MachineWatch(databases, os.getpid()) as watch:
        if args.only in (None, "demo"):
            figures += _measure_city(prepare_demo(args, say), args, say)
        if args.only == "district" or args.with_district:
            figures += _measure_city(prepare_district(args, say), args, say)
    _print_figures(figures, args, watch.load)
    return 1 if any(f.problems for f in figures) else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="timed loads of each kind per page")
    parser.add_argument("--only", choices=["demo", "district"], help="measure one city only")
    parser.add_argument(
        "--with-district",
        action="store_true",
        help="measure the 10,000-cell district after the demo city too",
    )
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


async def _staff_storage(base_url: str, account: Account) -> tuple[dict[str, str], str | None]:
    """The localStorage of a browser signed in as `account` (what staff.js keeps after
    its sign-in form), from one sign-in over the API; else why not."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as http:
        answer = await http.post(
            "/auth/token", data={"username": account.username, "password": account.password}
        )
    if answer.status_code != 200:
        return {}, f"signing in as {account.username} answered {answer.status_code}"
    body = answer.json()
    # As staff.js keeps it: a minute early.
    expires = int((time.time() + body["expires_in"] - 60) * 1000)
    return {STAFF_TOKEN_KEY: body["access_token"], STAFF_EXPIRES_KEY: str(expires)}, None


async def _measure_pages(city: City, base_url: str, runs: int, say: Clock) -> list[PageFigures]:
    number = await find_tracking_number(base_url, city.manager)
    sessions: dict[str, tuple[dict[str, str], str | None]] = {
        "manager": await _staff_storage(base_url, city.manager),
        "worker": await _staff_storage(base_url, city.worker),
    }
    found = []
    async with launched_chromium() as browser:
        for name, template, who in PAGES:
            figures = PageFigures(city.name, name)
            found.append(figures)
            if "{number}" in template and number is None:
                figures.problems.append("no report in the manager's area to open")
                continue
            figures.path = template.format(number=number)
            storage, refused = sessions[who] if who else ({}, None)
            if refused:
                figures.problems.append(refused)
                continue
            await _measure_page(browser, base_url, storage, runs, figures, say)
    return found


async def _measure_page(
    browser: Browser,
    base_url: str,
    storage: dict[str, str],
    runs: int,
    figures: PageFigures,
    say: Clock,
) -> None:
    """`runs` cold loads (a new browser context each: empty cache, the staff session
    already in localStorage) and `runs` warm reloads in the last one's tab (cached
    assets); sizes from the first cold load."""
    state = (
        {
            "origins": [
                {
                    "origin": base_url,
                    "localStorage": [{"name": k, "value": v} for k, v in storage.items()],
                }
            ]
        }
        if storage
        else None
    )
    for run in range(runs):
        context = await browser.new_context(
            base_url=base_url, viewport=VIEWPORT, locale="zh-CN", storage_state=state
        )
        try:
            page = await context.new_page()
            await watch_drawing(page)
            log = NetworkLog(page)
            load = await _load(page, log, figures.path, reload=False)
            if load is None:
                figures.skipped = f"{figures.path} answers 404 (not built yet?): skipped"
                say(f"  {figures.page}: {figures.skipped}")
                return
            _keep(figures, load, figures.cold_ms)
            if run == 0:
                await _record_sizes(load.requests, figures)
            if run == runs - 1:
                for _ in range(runs):
                    warm = await _load(page, log, figures.path, reload=True)
                    if warm is not None:
                        _keep(figures, warm, figures.warm_ms)
        finally:
            await context.close()
    say(
        f"  {figures.page}: scripts+styles {figures.asset_wire_bytes / 1000:.0f} kB on the "
        f"wire ({figures.asset_bytes / 1000:.0f} kB decoded), interactive p50 cold "
        f"{figures.cold_p50:.0f} ms, warm {figures.warm_p50:.0f} ms"
        + "".join(
            f"\n    {p}: {w / 1000:.1f} kB wire, {d / 1000:.1f} kB decoded"
            for p, w, d in figures.asset_files
        )
        + "".join(f"\n    problem: {p}" for p in figures.problems)
    )


def _keep(figures: PageFigures, load: Load, times: list[float]) -> None:
    times.append(load.tti_ms)
    figures.problems.extend(p for p in load.problems if p not in figures.problems)


async def _load(page: Page, log: NetworkLog, path: str, *, reload: bool) -> Load | None:
    """Open (or reload) the page and wait until it is interactive; None on a 404."""
    log.clear()
    if reload:
        response = await page.reload(wait_until="commit")
    else:
        response = await page.goto(path, wait_until="commit")
    if response is not None and response.status == 404:
        return None
    if response is None or response.status >= 400:
        status = response.status if response else "-"
        return Load(float("nan"), list(log.finished), [f"GET {path} answered {status}"])
    return await _until_interactive(page, log)


async def _until_interactive(page: Page, log: NetworkLog) -> Load:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    state: dict[str, Any] | None = None
    while True:
        try:
            state = await page.evaluate(_PROBE)
        except PlaywrightError:  # navigating: the page's context went away
            state = None
        if state is not None and log.quiet_for() >= QUIET_S:
            still = state["now"] - state["lastChange"] < QUIET_S * 1000
            if state["complete"] and not still and not _waiting_for(state):
                return Load(_tti(state, log.finished), list(log.finished), list(log.errors))
        if time.monotonic() > deadline:
            problems = list(log.errors)
            if state is None:
                problems.append(f"the page did not load within {LOAD_TIMEOUT_S:.0f} s")
            else:
                what = _waiting_for(state) or f"{len(log.in_flight)} request(s) in flight"
                problems.append(f"not interactive after {LOAD_TIMEOUT_S:.0f} s: {what}")
            return Load(float("nan"), list(log.finished), problems)
        await asyncio.sleep(POLL_S)


def _waiting_for(state: dict[str, Any]) -> str:
    """What main content is not shown yet ('' when all is)."""
    if state["blankMaps"]:
        return f"{state['blankMaps']} map(s) drew nothing"
    if state["signInShown"]:
        return "the sign-in form is still shown"
    if state["docsWaiting"]:
        return "the documentation viewer has not started"
    return ""


def _tti(state: dict[str, Any], requests: list[Request]) -> float:
    """The latest of: DOM content loaded, the last change, the last answer (page ms)."""
    last_answer = 0.0
    for request in requests:
        timing = request.timing
        if request.resource_type in LONG_LIVED or timing.get("responseEnd", -1) < 0:
            continue
        # Playwright's startTime is wall-clock ms; the page's clock starts at timeOrigin.
        last_answer = max(
            last_answer, timing["startTime"] + timing["responseEnd"] - state["timeOrigin"]
        )
    return max(state["contentLoaded"], state["lastChange"], last_answer)


async def _record_sizes(requests: list[Request], figures: PageFigures) -> None:
    """Scripts and stylesheets (what the page and its workers loaded) as received and
    decoded, the HTML as received, and the data answers its scripts fetched."""
    for request in requests:
        response = await request.response()
        if response is None or request.resource_type in LONG_LIVED:
            continue
        try:
            wire = (await request.sizes())["responseBodySize"]
            decoded = len(await response.body())
        except PlaywrightError:  # a redirect or a body already gone
            continue
        path = urlsplit(request.url).path
        if request.resource_type in ASSET_TYPES or path.endswith((".js", ".css")):
            if wire <= 0 < decoded:
                # Chromium reports no size for a worker's own script (MapLibre's): ask the
                # server again, as the browser asks, and count what it sends.
                wire = await _wire_size(request.url)
                path += " (size re-fetched)"
            figures.assets += 1
            figures.asset_files.append((path, wire, decoded))
            figures.asset_wire_bytes += wire
            figures.asset_bytes += decoded
            if wire > figures.largest_asset[1]:
                figures.largest_asset = (path.rsplit("/", 1)[-1].split(" ")[0], wire)
        elif request.resource_type == "document":
            figures.html_wire_bytes = wire
        elif request.resource_type in DATA_TYPES:
            figures.data_answers += 1
            figures.data_bytes += decoded


async def _wire_size(url: str) -> int:
    """The bytes of the body the server sends for `url` to a browser (gzip accepted)."""
    async with (
        httpx.AsyncClient(timeout=30, trust_env=False) as http,
        http.stream("GET", url, headers={"Accept-Encoding": "gzip, deflate, br"}) as answer,
    ):
        return sum([len(chunk) async for chunk in answer.aiter_raw()])


# --- output -------------------------------------------------------------------------


def _print_figures(
    figures: list[PageFigures], args: argparse.Namespace, machine: MachineLoad
) -> None:
    busy = not machine.quiet
    print(
        f"\nPage benchmark: {args.runs} cold loads and {args.runs} warm reloads per page, "
        f"chromium {VIEWPORT['width']}x{VIEWPORT['height']}, one uvicorn worker"
    )
    print(machine.line())
    header = (
        f"{'city':<9} {'page':<10} {'JS+CSS kB wire':>14} {'decoded':>8} {'files':>5} "
        f"{'largest (wire)':<30} {'HTML kB':>7} {'data kB':>7} {'TTI cold':>9} "
        f"{'TTI warm':>9}  verdict"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        if f.skipped:
            print(f"{f.city:<9} {f.page:<10} {f.skipped}")
            continue
        name, wire = f.largest_asset
        largest = f"{name[:22]} {wire / 1000:.0f} kB" if f.assets else "-"
        if busy:
            verdict = "none (machine busy)"
        elif all(f.targets().values()):
            verdict = "ok"
        else:
            verdict = "MISSED " + ",".join(k for k, ok in f.targets().items() if not ok)
        if f.problems:
            verdict += f" ({len(f.problems)} problem(s): {f.problems[0][:80]})"
        print(
            f"{f.city:<9} {f.page:<10} {f.asset_wire_bytes / 1000:>14.0f} "
            f"{f.asset_bytes / 1000:>8.0f} {f.assets:>5} {largest:<30} "
            f"{f.html_wire_bytes / 1000:>7.1f} {f.data_bytes / 1000:>7.0f} "
            f"{f.cold_p50:>7.0f}ms {f.warm_p50:>7.0f}ms  {verdict}"
        )
    print(
        f"targets: scripts + stylesheets <= {ASSETS_TARGET_BYTES // 1000} kB on the wire "
        f"(first visit); time to interactive (p50 of cold loads) <= {TTI_TARGET_MS / 1000:g} s. "
        "Cold = new browser context, empty cache (staff pages with the demo account's "
        "session already kept); warm = reload in the same tab. TTI: see the module docstring."
    )
    print(
        json.dumps(
            {"machine": machine.as_json(), "busy": busy, "pages": [_as_json(f) for f in figures]},
            ensure_ascii=False,
        )
    )


def _as_json(f: PageFigures) -> dict[str, Any]:
    return {
        "city": f.city,
        "page": f.page,
        "path": f.path,
        "skipped": f.skipped or None,
        "asset_wire_bytes": f.asset_wire_bytes,
        "asset_bytes": f.asset_bytes,
        "assets": f.assets,
        "largest_asset": list(f.largest_asset),
        "html_wire_bytes": f.html_wire_bytes,
        "data_answers": f.data_answers,
        "data_bytes": f.data_bytes,
        # A page that failed to load has NaN times: left out, not a crash.
        "cold_ms": [round(x) for x in f.cold_ms if x == x],
        "warm_ms": [round(x) for x in f.warm_ms if x == x],
        "cold_p50_ms": round(f.cold_p50) if f.cold_ms and f.cold_p50 == f.cold_p50 else None,
        "warm_p50_ms": round(f.warm_p50) if f.warm_ms and f.warm_p50 == f.warm_p50 else None,
        "targets": f.targets() if not f.skipped else None,
        "problems": f.problems,
    }


if __name__ == "__main__":
    sys.exit(main())
