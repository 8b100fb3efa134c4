"""Driving the pages in Debian's headless chromium (Playwright, nothing downloaded): sign
in through a page's own form, and wait until its maps have drawn — every request answered,
nothing changing on screen, each visible map showing shapes, markers or tiles. Used by
the screenshots (demo/screenshots.py) and the page benchmark (bench/pages_bench.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright
from playwright.async_api import Error as PlaywrightError

# Quiet this long (no request in flight, no change to the page) means drawn: a shorter
# window could catch a page between a transition's frames.
QUIET_S = 0.3
POLL_S = 0.05
# Requests that stay open by design (live inbox streams) never make a page busy.
LONG_LIVED = {"eventsource", "websocket"}

# Installed before any page script: the time of the last change to the page, so the
# moment of drawing is known exactly, not rounded up to the moment it was noticed.
_WATCH_CHANGES = """
(() => {
  const state = { lastChange: 0, changes: 0 };
  Object.defineProperty(window, "__ggDrawState", { value: state });
  new MutationObserver(() => { state.lastChange = performance.now(); state.changes++; })
    .observe(document, { subtree: true, childList: true, attributes: true,
                         characterData: true });
})();
"""

# What is on screen now: visible maps (MapLibre GL), how many drew nothing, what they
# show. A map is the page's `gg.currentMap` (a canvas has no DOM per feature): its drawn
# features are what it renders, its markers the features of layers named for incidents
# plus its HTML markers; it is still moving while not `loaded()`.
_PROBE = """
() => {
  const shown = (el) => el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== "hidden";
  let markers = document.querySelectorAll(".maplibregl-marker").length;
  let animating = false;
  const gl = Array.from(document.querySelectorAll(".maplibregl-map")).filter(shown);
  const current = window.gg && window.gg.currentMap;
  const counts = gl.map((el) => {
    if (!current || current.getContainer() !== el) { return 0; }
    const features = current.queryRenderedFeatures();
    markers += features.filter((f) => f.layer.id.indexOf("incident") === 0).length;
    animating = animating || !current.loaded() || current.isMoving();
    return features.length;
  });
  const state = window.__ggDrawState || { lastChange: 0, changes: 0 };
  return {
    complete: document.readyState === "complete",
    maps: gl.length,
    blankMaps: counts.filter((n) => n === 0).length,
    shapes: counts.reduce((a, b) => a + b, 0),
    markers: markers,
    animating: animating,
    sinceChangeMs: performance.now() - state.lastChange,
    lastChangeMs: state.lastChange,
  };
}
"""

# Signed in once the password field's form is gone; refused once it shows an alert.
_SIGN_IN_OUTCOME = """
() => {
  const field = document.querySelector("input[type=password]");
  const form = field && field.form;
  if (!form || form.getClientRects().length === 0) { return "ok"; }
  const alert = form.querySelector("[role=alert]");
  const text = alert ? alert.textContent.trim() : "";
  return text ? "refused: " + text : false;
}
"""

# Sets a tab's sessionStorage before its scripts run; STORAGE is replaced by a JSON object.
_CARRY_STORAGE = """
(() => {
  try {
    const saved = STORAGE;
    for (const key in saved) { sessionStorage.setItem(key, saved[key]); }
  } catch (e) { /* a page without storage (about:blank) */ }
})();
"""


def find_chromium() -> str | None:
    """Debian's chromium (scripts/setup installs it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@asynccontextmanager
async def launched_chromium(executable: str | None = None) -> AsyncIterator[Browser]:
    """Headless chromium from the system (no `playwright install`, so no download)."""
    path = executable or find_chromium()
    if path is None:
        raise RuntimeError(
            "chromium is not installed: apt-get install -y chromium (scripts/setup does this)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass(frozen=True)
class Answer:
    """One finished request: where to, what kind, its status, body size and how long it
    took from being sent to its last byte."""

    url: str
    resource_type: str
    status: int | None
    body_bytes: int
    duration_ms: float


class NetworkLog:
    """The requests a page has in flight, when the last one began or ended, the answers
    it received, and its script errors."""

    def __init__(self, page: Page) -> None:
        self.in_flight: set[Request] = set()
        self.finished: list[Request] = []
        self.errors: list[str] = []
        self.last_activity = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))
        page.on("console", self._console)

    def _started(self, request: Request) -> None:
        if request.resource_type not in LONG_LIVED:
            self.in_flight.add(request)
            self.last_activity = time.monotonic()

    def _finished(self, request: Request) -> None:
        self.in_flight.discard(request)
        self.finished.append(request)
        self.last_activity = time.monotonic()

    def _failed(self, request: Request) -> None:
        self.in_flight.discard(request)
        self.last_activity = time.monotonic()
        # A request cut short by leaving the page is not the page's fault.
        if request.failure and "ERR_ABORTED" not in request.failure:
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def clear(self) -> None:
        """Forget what was answered so far (before a reload that is measured alone)."""
        self.finished.clear()
        self.errors.clear()

    def quiet_for(self) -> float:
        """Seconds since the last request began or ended; 0 while any is in flight."""
        return 0.0 if self.in_flight else time.monotonic() - self.last_activity

    async def answers(self) -> list[Answer]:
        """Every finished request with its decoded body size (read before leaving the page)."""
        found = []
        for request in self.finished:
            response = await request.response()
            size = 0
            if response is not None:
                try:
                    size = len(await response.body())
                except PlaywrightError:  # a redirect or a body already gone
                    size = 0
            status = response.status if response else None
            duration = max(0.0, float(request.timing.get("responseEnd", 0.0)))
            found.append(Answer(request.url, request.resource_type, status, size, duration))
        return found


@dataclass
class Drawn:
    """How a page ended up: when it last changed (ms from the navigation start), its
    visible maps and what they show, and anything that went wrong."""

    last_change_ms: float
    maps: int
    shapes: int
    markers: int
    problems: list[str] = field(default_factory=list)


async def watch_drawing(page: Page) -> None:
    """Record the page's changes from its first script on; call before navigating."""
    await page.add_init_script(_WATCH_CHANGES)


async def _probe(page: Page) -> dict[str, Any] | None:
    try:
        return await page.evaluate(_PROBE)
    except PlaywrightError:  # the page is navigating: its context went away
        return None


async def wait_until_drawn(page: Page, log: NetworkLog, timeout_s: float = 20.0) -> Drawn:
    """Wait until the page has settled with every visible map drawn; on timeout, say
    what was still missing instead of raising (the page is then shown as it is)."""
    deadline = time.monotonic() + timeout_s
    state: dict[str, Any] | None = None
    while True:
        state = await _probe(page) or state
        settled = (
            state is not None
            and state["complete"]
            and not state["animating"]
            and state["sinceChangeMs"] >= QUIET_S * 1000
            and log.quiet_for() >= QUIET_S
        )
        if settled and state is not None and state["blankMaps"] == 0:
            return _drawn(state, list(log.errors))
        if time.monotonic() > deadline:
            problems = list(log.errors)
            if state is None:
                problems.append(f"the page did not load within {timeout_s:.0f} s")
            elif state["blankMaps"]:
                problems.append(
                    f"{state['blankMaps']} map(s) drew nothing within {timeout_s:.0f} s"
                )
            else:
                problems.append(
                    f"still busy after {timeout_s:.0f} s "
                    f"({len(log.in_flight)} request(s) in flight)"
                )
            return _drawn(state or {}, problems)
        await asyncio.sleep(POLL_S)


def _drawn(state: dict[str, Any], problems: list[str]) -> Drawn:
    return Drawn(
        last_change_ms=float(state.get("lastChangeMs", 0.0)),
        maps=int(state.get("maps", 0)),
        shapes=int(state.get("shapes", 0)),
        markers=int(state.get("markers", 0)),
        problems=problems,
    )


async def sign_in_form_shown(page: Page) -> bool:
    """Whether the page is showing a password field (its sign-in form)."""
    return await page.locator("input[type=password]").first.is_visible()


async def sign_in(page: Page, username: str, password: str, timeout_s: float = 15.0) -> str | None:
    """Sign in through the page's own form; None when signed in, else why not."""
    form = page.locator("form:has(input[type=password])").first
    try:
        await form.wait_for(state="visible", timeout=timeout_s * 1000)
    except PlaywrightError:
        return "the page shows no sign-in form"
    await form.locator("input[autocomplete=username], input[name=username]").first.fill(username)
    await form.locator("input[type=password]").fill(password)
    await form.locator("[type=submit]").first.click()
    try:
        outcome = await page.wait_for_function(_SIGN_IN_OUTCOME, timeout=timeout_s * 1000)
    except PlaywrightError:
        return f"signing in as {username} got no answer within {timeout_s:.0f} s"
    result = await outcome.json_value()
    return None if result == "ok" else f"signing in as {username} was {result}"


async def session_storage(page: Page) -> dict[str, str]:
    """The tab's sessionStorage (where a signed-in page keeps its token)."""
    return await page.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))")


async def carry_session_storage(context: BrowserContext, storage: dict[str, str]) -> None:
    """Give every tab of a new context the same sessionStorage before its scripts run, so
    a page signed in once shows signed in again without another sign-in (the login
    route is rate-limited)."""
    if not storage:
        return
    await context.add_init_script(_CARRY_STORAGE.replace("STORAGE", json.dumps(storage)))
