"""The tiles bench's timing: the tiles picked per layer and zoom, and each server asked
for them, first one at a time, then --concurrency at once."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from bench.common import (
    Clock,
    percentile,
)
from bench.machine import MachineWatch
from bench.tiles_servers import CACHES, start_servers, stop_named, tile_urls

ZOOMS = (12, 13, 14, 15, 16)
BASEMAP_ZOOMS = (10, 12, 14, 16)
LAYER_NAMES = ("incidents", "cells", "basemap")
HALF_WORLD = 20037508.342789244


@dataclass
class Run:
    """One server, layer and zoom: latencies (ms), statuses and bytes of the timed requests."""

    server: str
    layer: str
    zoom: int
    tiles: int
    cache: str = "off"
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)  # the first request of each tile
    statuses: Counter[int] = field(default_factory=Counter)
    bytes_total: int = 0

    def percentile(self, q: float, first: bool = False) -> float:
        values = self.first_ms if first else self.latencies_ms
        return percentile(values, q)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (200, 204))

    def summary(self) -> dict[str, Any]:
        n = len(self.latencies_ms) or 1
        return {
            "server": self.server,
            "cache": self.cache,
            "layer": self.layer,
            "zoom": self.zoom,
            "tiles": self.tiles,
            "requests": len(self.latencies_ms),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "first_p50_ms": round(self.percentile(50, first=True), 2),
            "first_p99_ms": round(self.percentile(99, first=True), 2),
            "tiles_per_s": round(self.rate, 1),
            "mean_kb": round(self.bytes_total / n / 1024, 1),
            "statuses": dict(self.statuses),
        }


def layers(args: argparse.Namespace) -> list[str]:
    """The layers to time, in the table's order."""
    wanted = {name.strip() for name in args.layers.split(",")}
    return [name for name in LAYER_NAMES if name in wanted]


def zooms(layer: str) -> tuple[int, ...]:
    return BASEMAP_ZOOMS if layer == "basemap" else ZOOMS


def pick_tiles(
    engine: Engine, args: argparse.Namespace, say: Clock
) -> dict[str, dict[int, list[tuple[int, int]]]]:
    """Per layer and zoom, up to --tiles tiles over the district that hold data (shown
    incidents; cells in force), drawn with the seed: the same set for both servers."""
    rng = np.random.default_rng(args.seed + 4)
    picked: dict[str, dict[int, list[tuple[int, int]]]] = {
        "incidents": {},
        "cells": {},
        "basemap": {},
    }
    queries = {
        "incidents": """
            SELECT DISTINCT floor((ST_X(public_point_3857) + :half) / :size)::int,
                            floor((:half - ST_Y(public_point_3857)) / :size)::int
            FROM incidents
            WHERE status NOT IN ('rejected', 'duplicate')
              AND (closed_at IS NULL OR closed_at > now() - interval '29 days')
        """,
        "cells": """
            SELECT DISTINCT floor((ST_X(p) + :half) / :size)::int,
                            floor((:half - ST_Y(p)) / :size)::int
            FROM (SELECT ST_PointOnSurface(boundary_3857) AS p FROM grid_cells
                  WHERE active_from IS NOT NULL AND active_to IS NULL) c
        """,
    }
    queries["basemap"] = queries["cells"]
    with engine.connect() as conn:
        for layer, sql in queries.items():
            for z in zooms(layer):
                size = 2 * HALF_WORLD / 2**z
                found = sorted(
                    tuple(r) for r in conn.execute(text(sql), {"half": HALF_WORLD, "size": size})
                )
                if len(found) > args.tiles:
                    found = [found[i] for i in sorted(rng.choice(len(found), args.tiles, False))]
                picked[layer][z] = found
            say(
                f"{layer}: tiles with data per zoom "
                + ", ".join(f"z{z} {len(t)}" for z, t in picked[layer].items())
            )
    return picked


async def time_row(
    session,
    urls: list[str | tuple[str, ...]],
    run: Run,
    requests: int,
    concurrency: int,
    max_seconds: float,
) -> None:
    """A first pass asking for each tile once, one at a time (with the caches on, they
    are empty then), then `requests` requests cycling through the tiles, `concurrency` at
    a time (with the caches on, repeats within the TTL come from memory on both sides)."""

    async def fetch(url: str | tuple[str, ...]) -> tuple[int, int]:
        if isinstance(url, tuple):  # one tile's tables, one after the other
            status, size = 200, 0
            for part in url:
                part_status, part_size = await fetch(part)
                size += part_size
                if part_status not in (200, 204):
                    status = part_status
            return status, size
        async with session.get(url) as response:
            body = await response.read()
            return response.status, len(body)

    for url in urls:
        t0 = time.perf_counter()
        status, _size = await fetch(url)
        run.first_ms.append((time.perf_counter() - t0) * 1000)
        if status not in (200, 204):  # an error of the first pass counts as an error too
            run.statuses[status] += 1
    queue = iter([urls[i % len(urls)] for i in range(requests)])

    async def client() -> None:
        for url in queue:
            if time.perf_counter() - started > max_seconds:
                return
            t0 = time.perf_counter()
            status, size = await fetch(url)
            run.latencies_ms.append((time.perf_counter() - t0) * 1000)
            run.statuses[status] += 1
            run.bytes_total += size

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started


async def measure_all(
    args, tiles, tipg_python: Path, since: str, watch: MachineWatch, say: Clock
) -> list[Run]:
    """Every layer and zoom on both servers, caches off then on; the server going first
    alternates from one row to the next. The timed part is watched (machine load)."""
    import aiohttp

    servers = start_servers(args, tipg_python, say)
    for server, _port in servers.values():
        watch.add(server.pid)
    runs: list[Run] = []
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            order = ["gridgov", "tipg"]
            with watch:
                for layer in layers(args):
                    for z in zooms(layer):
                        for cache in CACHES:
                            for server in order:
                                port = servers[(server, cache)][1]
                                run = Run(server, layer, z, len(tiles[layer][z]), cache)
                                urls = tile_urls(server, port, layer, z, tiles[layer][z], since)
                                await time_row(
                                    session,
                                    urls,
                                    run,
                                    args.requests,
                                    args.concurrency,
                                    args.max_seconds,
                                )
                                say(
                                    f"{layer} z{z} {server} cache {cache}: p50 "
                                    f"{run.percentile(50):.1f} ms, p99 "
                                    f"{run.percentile(99):.1f} ms, {run.rate:.0f} tiles/s, "
                                    f"{run.bytes_total / max(len(run.latencies_ms), 1) / 1024:.1f}"
                                    f" KB/tile {dict(run.statuses)}"
                                )
                                runs.append(run)
                            order.reverse()
    finally:
        for (name, cache), (server, _port) in servers.items():
            stop_named(f"{name} (cache {cache})", server, say)
    return runs


def same_features(layer: str, z: int) -> bool:
    """Whether gridgov and tipg serve the same features in this row (see the module's
    docstring): cells always, incidents from the detail zoom, the base map never."""
    from maps.tiles import INCIDENT_DETAIL_ZOOM

    return layer == "cells" or (layer == "incidents" and z >= INCIDENT_DETAIL_ZOOM)
