"""The intake bench's load: the server started for it, the HTTP clients posting reports
and the loop that times them beside the baseline, slice by slice."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    connections_per_worker,
    gridgov_command,
    percentile,
    start_server,
    stop_server,
)
from bench.intake_baseline import baseline_pool, raw_reporter
from bench.intake_checks import check_reports, count_stored
from bench.intake_data import empty_intake_tables, gridgov_env
from bench.machine import CpuMeter


@dataclass
class Phase:
    """One timed run: latencies (ms) and statuses of the requests started in the window,
    and the CPU seconds each party used in it."""

    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    answered_201: int = 0  # every 201, timed or not: what must be in the database
    failures: Counter[str] = field(default_factory=Counter)
    cpu_s: dict[str, float] = field(default_factory=dict)
    connections_per_worker: list[int] = field(default_factory=list)

    def cpu_ms_per_report(self) -> dict[str, float]:
        n = len(self.latencies_ms) or 1
        return {k: round(1000 * v / n, 3) for k, v in self.cpu_s.items() if k != "machine"}

    def machine_busy(self) -> float:
        """Share of the machine's cores busy during the window (all processes)."""
        return self.cpu_s.get("machine", 0.0) / (self.seconds * (os.cpu_count() or 1))

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies_ms),
            "reports_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "cpu_ms_per_report": self.cpu_ms_per_report(),
            "machine_busy": round(self.machine_busy(), 3),
        }


def summed(*usages: dict[str, float]) -> dict[str, float]:
    if any(not u for u in usages):
        return {}
    return {k: sum(u.get(k, 0.0) for u in usages) for k in usages[0]}


def server_description(args: argparse.Namespace) -> dict[str, Any]:
    def available(module: str) -> bool:
        try:
            __import__(module)
        except ImportError:
            return False
        return True

    return {
        "workers": args.workers,
        "db_pool_size": args.db_pool_size,
        "loop": "uvloop" if available("uvloop") else "asyncio",
        "http": "httptools" if available("httptools") else "h11",
        "client": "aiohttp",
    }


def start_intake_server(args: argparse.Namespace, port: int, say: Clock) -> subprocess.Popen:
    """gridgov on --workers uvicorn workers, access log off; waits for /health."""
    say(f"starting {args.workers} uvicorn worker(s) on port {port}")
    command = gridgov_command(
        port,
        "--workers",
        str(args.workers),
        # Idle keep-alive connections must outlive a baseline slice: reconnecting would
        # spread the clients over the workers anew.
        "--timeout-keep-alive",
        "120",
    )
    server = start_server(command, gridgov_env(args), f"http://127.0.0.1:{port}/health")
    say("server healthy")
    return server


def stop_intake_server(server: subprocess.Popen, say: Clock) -> None:
    """Stop the server started by start_intake_server."""
    stop_server(server)
    say("server stopped")


def report_body(categories: list[str], point: tuple, n: int) -> dict[str, Any]:
    lon, lat, system, _, _ = point
    return {
        "category": categories[n % len(categories)],
        "lon": lon,
        "lat": lat,
        "coord_system": system,
        "description": f"bench report {n}",
    }


async def timed_loop(
    phase: Phase,
    clients: int,
    warm_up: float,
    seconds: float,
    one_request,
    meter: CpuMeter,
    ramp: bool = False,
) -> None:
    """`clients` tasks calling one_request() back to back for warm_up + seconds; requests
    started after the warm-up are timed, and the CPU used then is added to the phase.

    With `ramp` the clients join one by one over the first half of the warm-up: uvicorn's
    workers share one listening socket, and 32 connections opened in one burst all land
    on whichever worker wakes first, while a client arriving later is taken by a worker
    that is free at that moment."""
    started = time.perf_counter()
    window_start, window_end = started + warm_up, started + warm_up + seconds

    async def client(i: int) -> None:
        if ramp:
            await asyncio.sleep(i * warm_up / 2 / clients)
        while (t0 := time.perf_counter()) < window_end:
            try:
                status = await one_request()
            except Exception as exc:  # counted, never fatal: the run goes on
                phase.failures[type(exc).__name__] += 1
                continue
            elapsed_ms = (time.perf_counter() - t0) * 1000
            if status == 201:
                phase.answered_201 += 1
            if t0 >= window_start:
                phase.latencies_ms.append(elapsed_ms)
                phase.statuses[status] += 1

    async def measure() -> None:
        await asyncio.sleep(max(window_start - time.perf_counter(), 0))
        start = meter.snapshot()
        await asyncio.sleep(max(window_end - time.perf_counter(), 0))
        for k, v in CpuMeter.usage(start, meter.snapshot()).items():
            phase.cpu_s[k] = phase.cpu_s.get(k, 0.0) + v

    await asyncio.gather(measure(), *(client(i) for i in range(clients)))


async def run_slices(
    args: argparse.Namespace,
    engine: Engine,
    server: subprocess.Popen,
    port: int,
    categories: list[str],
    points: list,
    deadlines: dict,
    marks: dict[str, int],
    say: Clock,
) -> tuple[Phase, Phase, dict[str, Any]]:
    """Both runs over the same stretch of time: a warm-up of each, then --rounds slices of
    each in turn (the baseline first in even rounds, HTTP first in odd ones), so a
    neighbour busy for a few seconds weighs on both alike. Every slice starts from the
    preloaded history alone (the duplicate check costs more as open reports pile up, and
    the two runs should meet the same tables); what each HTTP slice stored is counted,
    and each answered report checked, before the next one removes them. Returns the two
    phases and what the HTTP slices stored."""
    import aiohttp

    http, baseline = Phase("http", args.seconds), Phase("baseline", args.seconds)
    database = make_url(args.database_url).database or ""
    slice_s = args.seconds / args.rounds
    connector = aiohttp.TCPConnector(limit=args.clients, force_close=False)
    answered: list[tuple[str, float, float]] = []
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        baseline_pool(args) as pool,
    ):
        runs = {
            "http": (
                http,
                poster(session, port, categories, points, http, answered, say),
                CpuMeter(database, server.pid),
            ),
            "baseline": (
                baseline,
                raw_reporter(pool, categories, points, deadlines),
                # The server idles meanwhile, but it is the bench's, not another's.
                CpuMeter(database, server.pid),
            ),
        }
        say(
            f"warm-up, {args.warm_up:g} s each: {args.clients} HTTP clients against "
            f"{args.workers} worker(s), {args.clients} raw-SQL tasks on an asyncpg pool of "
            f"{args.baseline_pool}"
        )
        await timed_loop(
            http, args.clients, args.warm_up, 0, runs["http"][1], runs["http"][2], ramp=True
        )
        http.connections_per_worker = connections_per_worker(port)
        await timed_loop(
            baseline, args.clients, args.warm_up, 0, runs["baseline"][1], runs["baseline"][2]
        )
        stored: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        http.answered_201 = 0  # the warm-up's reports are emptied away below
        answered.clear()
        for r in range(args.rounds):
            for name in ("baseline", "http") if r % 2 == 0 else ("http", "baseline"):
                phase, one_request, meter = runs[name]
                empty_intake_tables(engine, marks)
                await timed_loop(phase, args.clients, 0, slice_s, one_request, meter)
                if phase is http:
                    found = count_stored(engine)
                    rules.update(found.pop("by_rule"))
                    stored.update(found)
                    stored.update(check_reports(engine, answered))
            say(
                f"round {r + 1}/{args.rounds}: HTTP {len(http.latencies_ms):,}, baseline "
                f"{len(baseline.latencies_ms):,} reports so far"
            )
    for phase in (http, baseline):
        s = phase.summary()
        say(
            f"{phase.name}: {s['reports_per_s']:,} reports/s, p50 {s['p50_ms']} ms, "
            f"p99 {s['p99_ms']} ms"
        )
    return http, baseline, {**stored, "by_rule": dict(rules.most_common())}


def poster(
    session,
    port: int,
    categories: list[str],
    points: list,
    phase: Phase,
    answered: list[tuple[str, float, float]],
    say: Clock,
):
    """POST /reports as JSON with an Idempotency-Key, over the session's keep-alive
    connections; returns the status. Each 201's tracking number goes into `answered`
    with the WGS-84 point the client meant, for the check."""
    url = f"http://127.0.0.1:{port}/reports"
    run_id = f"{os.getpid()}-{int(time.time())}"
    counter = itertools.count()

    async def post() -> int:
        n = next(counter)
        body = json.dumps(report_body(categories, points[n % len(points)], n))
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"{run_id}-{n}"}
        async with session.post(url, data=body, headers=headers) as response:
            raw = await response.read()
            if response.status == 201:
                _, _, _, lon, lat = points[n % len(points)]
                answered.append((json.loads(raw)["tracking_number"], lon, lat))
            elif not phase.statuses.get(response.status):
                say(f"http: {response.status} {(await response.text())[:300]}")
            return response.status

    return post
