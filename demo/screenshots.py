"""Screenshots of every page for the README (`gridgov screenshots`): each page opened in
headless chromium — signed in through its own form where it needs an account — and
photographed once its maps have drawn, then written as a small palette PNG.

Talks to a running gridgov over HTTP only, so it works against any server; `serving()`
runs an app on a free port of 127.0.0.1 for the command when no server is given."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.async_api import Browser, Page

from demo.browser import (
    NetworkLog,
    carry_session_storage,
    launched_chromium,
    session_storage,
    sign_in,
    sign_in_form_shown,
    wait_until_drawn,
    watch_drawing,
)
from incidents.status import Status
from maps.pages import LANGUAGES, Language

PAGES = ("map", "report", "track", "dashboard", "worker")
# The report form is a resident's page: it is also shown at a phone's size.
MOBILE_PAGES = ("report",)
BROWSER_LOCALES = {"zh-Hans": "zh-CN", "en": "en-GB"}
# Reports worth tracking, the one with the longest public timeline first.
TRACKABLE_STATUSES = (
    Status.RESOLVED,
    Status.IN_PROGRESS,
    Status.ACCEPTED,
    Status.ASSIGNED,
    Status.SUBMITTED,
)
PALETTE_COLOURS = 256

Say = Callable[[str], None]


@dataclass(frozen=True)
class Account:
    """A username and password to sign in with."""

    username: str
    password: str


@dataclass(frozen=True)
class ShotPlan:
    """What to photograph, where from and where to."""

    base_url: str
    out_dir: Path
    manager: Account
    worker: Account
    languages: tuple[Language, ...] = LANGUAGES
    pages: tuple[str, ...] = PAGES
    size: tuple[int, int] = (1280, 800)
    mobile_size: tuple[int, int] | None = (390, 844)
    tracking_number: str | None = None
    lossless: bool = False
    timeout_s: float = 20.0


@dataclass(frozen=True)
class Visit:
    """One page to open: its name in file names, path, account and viewport."""

    name: str
    path: str
    account: Account | None
    size: tuple[int, int]
    mobile: bool = False


@dataclass
class Shot:
    """One screenshot taken (or attempted), and what went wrong with it."""

    name: str
    lang: Language
    path: Path | None
    size: tuple[int, int]
    png_bytes: int = 0
    seconds: float = 0.0
    shapes: int = 0
    markers: int = 0
    signed_in_as: str | None = None
    problems: list[str] = field(default_factory=list)


def plan_visits(plan: ShotPlan, tracking_number: str | None) -> list[Visit]:
    """The pages of the plan in order, the phone-sized ones after their desktop shot."""
    paths = {
        "map": ("/map", None),
        "report": ("/report", None),
        "track": (f"/track/{tracking_number}", None),
        "dashboard": ("/dashboard", plan.manager),
        "worker": ("/worker", plan.worker),
    }
    visits = []
    for name in plan.pages:
        path, account = paths[name]
        visits.append(Visit(name, path, account, plan.size))
        if name in MOBILE_PAGES and plan.mobile_size:
            visits.append(Visit(f"{name}-mobile", path, account, plan.mobile_size, mobile=True))
    return visits


async def find_tracking_number(base_url: str, manager: Account) -> str | None:
    """A report in the manager's area to show on /track (the furthest along first)."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            token = await client.post(
                "/auth/token", data={"username": manager.username, "password": manager.password}
            )
            if token.status_code != 200:
                return None
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            for status in TRACKABLE_STATUSES:
                found = await client.get(
                    "/incidents",
                    params={"view": "area", "status": status, "limit": 1},
                    headers=headers,
                )
                items = found.json().get("items", []) if found.status_code == 200 else []
                if items:
                    return items[0]["tracking_number"]
    except (httpx.HTTPError, ValueError, KeyError):
        # No server, or answers of another shape: the track page says it has no report.
        return None
    return None


def optimise_png(raw: bytes, lossless: bool = False) -> bytes:
    """A smaller PNG: 256 colours without dithering (flat map colours and text stay
    crisp), or the same pixels recompressed when `lossless`."""
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    if not lossless:
        image = image.quantize(
            PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Never leave a half-written PNG under the final name."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


async def take_screenshots(
    plan: ShotPlan, say: Say = print, browser: Browser | None = None
) -> list[Shot]:
    """Photograph every page of the plan in every language; a page that fails is
    reported in its Shot's problems and the others are still taken."""
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    number = plan.tracking_number
    if "track" in plan.pages and number is None:
        number = await find_tracking_number(plan.base_url, plan.manager)
    visits = plan_visits(plan, number)
    if browser is None:
        async with launched_chromium() as launched:
            return await _take_all(launched, plan, visits, number, say)
    return await _take_all(browser, plan, visits, number, say)


async def _take_all(
    browser: Browser, plan: ShotPlan, visits: list[Visit], number: str | None, say: Say
) -> list[Shot]:
    shots = []
    total = len(visits) * len(plan.languages)
    # Each account signs in once; its other pages get the tab's session (the login
    # route is rate-limited, and a run should not use up an account's attempts).
    sessions: dict[str, dict[str, str]] = {}
    for lang in plan.languages:
        for visit in visits:
            if visit.name.startswith("track") and number is None:
                shot = Shot(
                    visit.name,
                    lang,
                    None,
                    visit.size,
                    problems=[
                        f"no report to track: none found in {plan.manager.username}'s area "
                        "(give a tracking number)"
                    ],
                )
            else:
                shot = await _take_one(browser, plan, visit, lang, sessions)
            shots.append(shot)
            say(_progress_line(len(shots), total, shot))
    return shots


def _progress_line(done: int, total: int, shot: Shot) -> str:
    where = f"{shot.path} ({shot.png_bytes / 1024:.0f} KiB)" if shot.path else "no file"
    what = f"{shot.shapes} shapes, {shot.markers} markers"
    line = f"[{done}/{total}] {shot.name} {shot.lang}: {where}, {what}, {shot.seconds:.1f} s"
    if shot.signed_in_as:
        line += f", signed in as {shot.signed_in_as}"
    return line + "".join(f"\n    problem: {p}" for p in shot.problems)


async def _take_one(
    browser: Browser,
    plan: ShotPlan,
    visit: Visit,
    lang: Language,
    sessions: dict[str, dict[str, str]],
) -> Shot:
    """Open one page (signed in if it needs an account: with the account's earlier
    session, else through the page's form), wait until drawn, photograph."""
    started = time.monotonic()
    width, height = visit.size
    shot = Shot(visit.name, lang, None, visit.size)
    context = await browser.new_context(
        base_url=plan.base_url,
        viewport={"width": width, "height": height},
        locale=BROWSER_LOCALES[lang],
        is_mobile=visit.mobile,
        has_touch=visit.mobile,
        device_scale_factor=1,
    )
    try:
        if visit.account is not None:
            await carry_session_storage(context, sessions.get(visit.account.username, {}))
        page = await context.new_page()
        await watch_drawing(page)
        log = NetworkLog(page)
        response = await page.goto(
            _with_lang(visit.path, lang), wait_until="load", timeout=plan.timeout_s * 1000
        )
        if response is None or response.status >= 400:
            # An error page has no map to wait for: photograph it as it is.
            status = response.status if response else "no answer"
            shot.problems.append(f"GET {visit.path} answered {status}")
            await _photograph(page, plan, visit, lang, shot)
            return shot
        if visit.account is not None:
            refused = None
            if await sign_in_form_shown(page):
                refused = await sign_in(
                    page, visit.account.username, visit.account.password, plan.timeout_s
                )
            if refused:
                shot.problems.append(refused)
            else:
                shot.signed_in_as = visit.account.username
                sessions[visit.account.username] = await session_storage(page)
        drawn = await wait_until_drawn(page, log, plan.timeout_s)
        shot.problems.extend(drawn.problems)
        shot.shapes, shot.markers = drawn.shapes, drawn.markers
        if visit.account is not None and await sign_in_form_shown(page):
            shot.signed_in_as = None
            shot.problems.append("the sign-in form is still shown")
        await _photograph(page, plan, visit, lang, shot)
    except Exception as exc:  # one broken page must not cost the other screenshots
        shot.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        await context.close()
        shot.seconds = time.monotonic() - started
    return shot


async def _photograph(page: Page, plan: ShotPlan, visit: Visit, lang: Language, shot: Shot) -> None:
    """The viewport as an optimised PNG named after the page and language."""
    png = optimise_png(await page.screenshot(type="png", animations="disabled"), plan.lossless)
    path = plan.out_dir / f"{visit.name}-{lang}.png"
    _write_atomically(path, png)
    shot.path, shot.png_bytes = path, len(png)


def _with_lang(path: str, lang: Language) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app: Any, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free port of 127.0.0.1; yields
    its base URL and stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="gridgov-screenshots", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
