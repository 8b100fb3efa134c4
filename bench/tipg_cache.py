"""tipg with an in-process tile cache like gridgov's (maps/tile_cache.py), for the tiles
bench's cache-on rows; run by tipg's own interpreter (outside this repository's venv):

    <tipg venv>/bin/python -m uvicorn tipg_cache:app --app-dir bench

Whole responses to GET requests answered 200 or 204 are kept by URL for the seconds
TIPG_BENCH_CACHE_TTL (JSON: {"public.incidents": 5, "*": 60}) gives the collection, the
same as gridgov's CACHE_TTL for the same layer; requests for a tile being cut wait for
that cut, as gridgov's do. Standard library and tipg only: nothing of gridgov is imported.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from tipg.main import app as tipg_app

_TTL = json.loads(os.environ.get("TIPG_BENCH_CACHE_TTL", '{"*": 60}'))
_kept: dict[str, tuple[float, dict, list[bytes]]] = {}
_cutting: dict[str, asyncio.Future] = {}


def _ttl(path: str) -> float:
    for collection, seconds in _TTL.items():
        if collection != "*" and f"/collections/{collection}/" in path:
            return float(seconds)
    return float(_TTL.get("*", 60))


async def app(scope, receive, send):
    """tipg behind a per-URL cache of its tile answers."""
    if scope["type"] != "http" or scope["method"] != "GET" or "/tiles/" not in scope["path"]:
        await tipg_app(scope, receive, send)
        return
    key = scope["path"] + "?" + scope.get("query_string", b"").decode()
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is None or kept[0] <= now:
        pending = _cutting.get(key)
        if pending is not None:
            kept = await asyncio.shield(pending)
        else:
            future = asyncio.get_running_loop().create_future()
            _cutting[key] = future
            try:
                kept = await _cut(scope, receive, key, now)
                future.set_result(kept)
            except BaseException as exc:
                future.set_exception(exc)
                raise
            finally:
                _cutting.pop(key, None)
    _expires, start, body = kept
    await send(start)
    for i, chunk in enumerate(body):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < len(body) - 1})
    if not body:
        await send({"type": "http.response.body", "body": b""})


async def _cut(scope, receive, key: str, now: float):
    start: dict = {}
    body: list[bytes] = []

    async def keep(message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await tipg_app(scope, receive, keep)
    expires = now + _ttl(scope["path"]) if start.get("status") in (200, 204) else now
    entry = (expires, start, body)
    if expires > now:
        _kept[key] = entry
    return entry
