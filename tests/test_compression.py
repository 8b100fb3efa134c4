"""gzip on the wire for pages, their scripts and styles and the API documentation, and
nowhere else: API answers and the inbox's Server-Sent Events go out as they are, the
event stream unbuffered (tests/test_tiles.py keeps the tiles' ETag and 304 answers)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from api.compression import MINIMUM_SIZE
from api.tokens import create_access_token
from maps.page_assets import VENDOR_DIR

pytestmark = pytest.mark.asyncio(loop_scope="session")

MAPLIBRE = "maplibre-gl/dist/maplibre-gl-csp.js"
GZIP = {"Accept-Encoding": "gzip"}
HTML = {**GZIP, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def _raw(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    """The answer with its body as sent (httpx would otherwise decode the gzip)."""
    async with http.stream("GET", url, headers=headers) as response:
        response.raw_body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


@pytest.fixture(scope="module")
def staff_id(sync_engine) -> Iterator[int]:
    """A committed account to open the inbox stream with; removed afterwards."""
    with sync_engine.begin() as conn:
        user_id = conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash) "
                "VALUES ('gzip-staff', 'gzip test', 'admin', 'x') RETURNING id"
            )
        ).scalar_one()
    yield user_id
    with sync_engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})


async def test_maplibre_goes_out_gzipped_and_unzips_to_the_installed_file(server):
    installed = (VENDOR_DIR / MAPLIBRE).read_bytes()
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        sent = await _raw(http, f"/static/vendor/{MAPLIBRE}", GZIP)
        plain = await _raw(http, f"/static/vendor/{MAPLIBRE}", {"Accept-Encoding": "identity"})
        # Revalidating the cached copy still gets 304 with no body.
        again = await _raw(
            http, f"/static/vendor/{MAPLIBRE}", {**GZIP, "If-None-Match": sent.headers["etag"]}
        )
    assert sent.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in sent.headers["vary"]
    assert gzip.decompress(sent.raw_body) == installed
    assert len(sent.raw_body) < len(installed) / 3
    assert sent.headers["x-content-type-options"] == "nosniff"  # the headers still apply
    assert "content-encoding" not in plain.headers and plain.raw_body == installed
    assert again.status_code == 304 and again.raw_body == b""


async def test_pages_and_the_documentation_go_out_gzipped(server):
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        for url, headers in (
            ("/map", HTML),
            ("/docs", HTML),
            ("/redoc", HTML),
            ("/openapi.json", GZIP),
            ("/static/css/pages.css", GZIP),
        ):
            sent = await _raw(http, url, headers)
            assert sent.status_code == 200, url
            assert sent.headers.get("content-encoding") == "gzip", url
            assert gzip.decompress(sent.raw_body), url


async def test_api_answers_and_small_files_go_out_as_they_are(server):
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        categories = await _raw(http, "/categories", {**GZIP, "Accept": "application/json"})
        health = await _raw(http, "/health", HTML)
        report = await http.post("/reports", json={}, headers=GZIP)
    assert categories.status_code == 200 and len(categories.raw_body) > MINIMUM_SIZE
    assert "content-encoding" not in categories.headers
    assert "Accept-Encoding" not in categories.headers.get("vary", "")  # not even wrapped
    assert len(health.raw_body) < MINIMUM_SIZE and "content-encoding" not in health.headers
    assert report.status_code == 422 and "content-encoding" not in report.headers


async def test_this_starlette_never_gzips_an_event_stream():
    assert "text/event-stream" in DEFAULT_EXCLUDED_CONTENT_TYPES


@pytest.mark.parametrize("accept", ["text/event-stream", "text/html, text/event-stream"])
async def test_the_inbox_stream_is_neither_compressed_nor_buffered(
    server, staff_id, settings, accept
):
    token = create_access_token(staff_id, settings)
    async with (
        httpx.AsyncClient(base_url=server, timeout=10, trust_env=False) as http,
        http.stream(
            "GET",
            "/inbox/stream",
            params={"access_token": token},
            headers={**GZIP, "Accept": accept},
        ) as r,
    ):
        assert r.status_code == 200
        assert "content-encoding" not in r.headers
        # The first event (the unread count) arrives on its own, while the stream stays
        # open: nothing waits for more to compress.
        first_data = await asyncio.wait_for(_first_data(r.aiter_lines()), 5)
    assert json.loads(first_data) == {"unread": 0, "items": []}


async def _first_data(lines) -> str:
    async for line in lines:
        if line.startswith("data:"):
            return line.removeprefix("data:").strip()
    raise AssertionError("the stream ended without an event")
