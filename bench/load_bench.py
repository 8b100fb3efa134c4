"""Load benchmark: a paced intake rate held for a minute on the real server with the demo
city while other clients read the public map, then every answered report looked up.

    .venv/bin/python -m bench.load_bench [--seconds 60] [--rate 300] [--tile-rate 50]
        [--geojson-rate 10] [--page-rate 2] [--workers 2] [--database-url URL]

Issue "Hardening": hold the intake target while the tile and map endpoints are read, and
report errors and lost reports (expected: none). The 1,000 reports/s target is out of
reach of a 2-core machine (bench.intake_bench), so intake is paced at --rate. Progress
goes to stderr; the figures table and one JSON line go to stdout; the exit status is 1
when a report answered 201 is missing from the database (or lacks its events or outbox
row), or any request failed (an unexpected status, a 5xx, a transport error).

Database, demo city, server, points and report bodies are the intake bench's
(bench/intake_data.py, bench/intake_clients.py), so the two benches stay in step.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    checkpoint,
    connections_per_worker,
    free_port,
    percentile,
    refuse_shared_databases,
    run_on_uvloop,
)
from bench.intake_clients import report_body, start_intake_server, stop_intake_server
from bench.intake_data import load_inputs, prepare_database
from bench.machine import MachineWatch
from core.database import create_bulk_engine

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_load"
DEFAULT_SEED = 20261201
ZOOMS = range(12, 17)
VIEWPORT_PX = (1280, 800)  # the /map viewport a GeoJSON bbox stands for
MARKER = "load bench"  # every report's description starts with it (and the run id)
KEY_PREFIX = "load-"  # every report's Idempotency-Key starts with it (and the run id)
# The paced rate counts as held when the whole run reached this share of it and no
# 1-second window fell below the second share.
HELD_OVERALL, HELD_WORST_SECOND = 0.99, 0.90

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Kind:
    """One kind of request at its pace: what came back, and when."""

    name: str
    rate: float
    clients: int
    ok: frozenset[int]
    request: Request | None = None
    latencies_ms: list[float] = field(default_factory=list)  # timed window only
    statuses: Counter[int] = field(default_factory=Counter)  # timed window only
    failures: Counter[str] = field(default_factory=Counter)  # transport errors, whole run
    bad_statuses: Counter[int] = field(default_factory=Counter)  # whole run
    done_per_second: Counter[int] = field(default_factory=Counter)  # OK answers by second
    sent: int = 0
    unsent: int = 0  # slots of the timed window still waiting when it ended
    max_lag_s: float = 0.0  # worst delay of a request behind its slot in the schedule

    def errors(self) -> int:
        return sum(self.bad_statuses.values()) + sum(self.failures.values())

    def server_errors(self) -> int:
        return sum(n for s, n in self.bad_statuses.items() if s >= 500)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def achieved(self, seconds: float) -> float:
        """OK answers per second, counted by when they arrived in the timed window."""
        return sum(self.done_per_second.values()) / seconds

    def worst_second(self, seconds: float) -> tuple[int, int]:
        """(second, OK answers) of the timed window's slowest 1-second window."""
        counts = [(self.done_per_second.get(s, 0), s) for s in range(int(seconds))]
        n, s = min(counts, default=(0, 0))
        return s, n

    def summary(self, seconds: float) -> dict[str, Any]:
        worst_s, worst_n = self.worst_second(seconds)
        return {
            "target_per_s": self.rate,
            "clients": self.clients,
            "requests": len(self.latencies_ms),
            "achieved_per_s": round(self.achieved(seconds), 1),
            "worst_second": {"at_s": worst_s, "answers": worst_n},
            "max_lag_ms": round(self.max_lag_s * 1000, 1),
            "unsent": self.unsent,
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": {
                **{str(k): v for k, v in self.bad_statuses.items()},
                **dict(self.failures),
            },
        }


@dataclass
class Intake:
    """What intake answered: the tracking number of every 201, whole run."""

    run_id: str
    tracking_numbers: list[str] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "empties its incident tables")
    prepare_database(args, say)
    engine = create_bulk_engine(args.database_url)
    try:
        _remove_earlier_runs(engine, say)
        categories, points, _ = load_inputs(engine, args, say)
        extent = _city_extent(engine)
        port = free_port()
        server = start_intake_server(args, port, say)
        try:
            checkpoint(engine, say)
            intake = Intake(f"{os.getpid()}-{int(time.time())}")
            kinds = _kinds(args, categories, points, extent, intake)
            server_info = run_on_uvloop(_load(args, kinds, port, server.pid, say))
        finally:
            stop_intake_server(server, say)
        say(f"looking up the {len(intake.tracking_numbers):,} reports answered 201")
        stored = _count_stored(engine, intake)
    finally:
        engine.dispose()
    ok = _print_figures(args, kinds, intake, stored, server_info)
    return 0 if ok else 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="timed seconds of load")
    parser.add_argument(
        "--warm-up", type=float, default=3.0, help="untimed seconds of the same load first"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="reports/s POSTed to intake")
    parser.add_argument(
        "--tile-rate", type=float, default=50.0, help="tiles/s of each layer (incidents, cells)"
    )
    parser.add_argument(
        "--geojson-rate", type=float, default=10.0, help="/map/incidents.geojson requests/s"
    )
    parser.add_argument("--page-rate", type=float, default=2.0, help="/map page requests/s")
    parser.add_argument(
        "--intake-clients", type=int, default=32, help="concurrent intake clients (connections)"
    )
    parser.add_argument(
        "--read-clients", type=int, default=4, help="concurrent clients of each read kind"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--db-pool-size",
        type=int,
        default=None,
        help="GRIDGOV_DB_POOL_SIZE for the server (default: each worker's share of all the "
        "clients, at least 10, so no request waits for or churns an overflow connection)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout, seconds")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="the bench's own database, created, migrated and demo-loaded on demand",
    )
    parser.add_argument(
        "--reload-demo", action="store_true", help="wipe and reload the demo city first"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.db_pool_size is None:
        clients = args.intake_clients + 3 * args.read_clients + max(1, args.read_clients // 2)
        args.db_pool_size = max(10, math.ceil(clients / args.workers))
    rates = (args.rate, args.tile_rate, args.geojson_rate, args.page_rate)
    if args.seconds < 1 or args.warm_up < 0 or min(rates) < 0 or args.rate <= 0:
        parser.error("--seconds must be at least 1, --rate above 0, other rates 0 or more")
    return args


def _remove_earlier_runs(engine: Engine, say: Clock) -> None:
    """Delete earlier runs' reports (their events, outbox rows and tile bins go with
    them), so each run meets the demo city as loaded, not one grown by every run."""
    with engine.begin() as conn:
        gone = conn.execute(
            text("DELETE FROM incidents WHERE channel = 'web' AND description LIKE :marker"),
            {"marker": f"{MARKER} %"},
        ).rowcount
        conn.execute(
            text("DELETE FROM idempotency_records WHERE key LIKE :prefix"),
            {"prefix": f"{KEY_PREFIX}%"},
        )
    if gone:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE incidents, incident_events, outbox"))
        say(f"removed {gone:,} reports of earlier runs")


def _city_extent(engine: Engine) -> tuple[float, float, float, float]:
    """lon/lat bounds of the cells in force: where the readers look."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                "SELECT ST_Extent(ST_Transform(boundary, 4326)) AS e FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL) s"
            )
        ).one()
    if row[0] is None:
        raise SystemExit("no cells in force: is the demo city loaded?")
    return tuple(float(v) for v in row)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (web mercator, y from the top) tile holding a point."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _kinds(
    args: argparse.Namespace,
    categories: list[str],
    points: list,
    extent: tuple[float, float, float, float],
    intake: Intake,
) -> list[Kind]:
    """The request kinds, each with its pace and how one request is made."""
    rng = random.Random(args.seed)
    lon0, lat0, lon1, lat1 = extent
    tile_ranges = {z: (_tile_of(lon0, lat1, z), _tile_of(lon1, lat0, z)) for z in ZOOMS}

    async def report(http: httpx.AsyncClient, n: int) -> httpx.Response:
        body = {
            **report_body(categories, points[n % len(points)], n),
            "description": f"{MARKER} {intake.run_id} #{n}",
        }
        headers = {"Idempotency-Key": f"{KEY_PREFIX}{intake.run_id}-{n}"}
        response = await http.post("/reports", json=body, headers=headers)
        if response.status_code == 201:
            intake.tracking_numbers.append(response.json()["tracking_number"])
        return response

    def tile_reader(layer: str) -> Request:
        async def read(http: httpx.AsyncClient, n: int) -> httpx.Response:
            z = ZOOMS[n % len(ZOOMS)]
            (x0, y0), (x1, y1) = tile_ranges[z]
            x, y = rng.randint(x0, x1), rng.randint(y0, y1)
            return await http.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")

        return read

    async def geojson(http: httpx.AsyncClient, n: int) -> httpx.Response:
        # A /map viewport at z14-16 somewhere over the city.
        z = 14 + n % 3
        lon, lat = rng.uniform(lon0, lon1), rng.uniform(lat0, lat1)
        half_w = VIEWPORT_PX[0] / 2 * 360 / (256 * 2**z)
        half_h = half_w * VIEWPORT_PX[1] / VIEWPORT_PX[0] * math.cos(math.radians(lat))
        bbox = f"{lon - half_w:.6f},{lat - half_h:.6f},{lon + half_w:.6f},{lat + half_h:.6f}"
        return await http.get("/map/incidents.geojson", params={"bbox": bbox})

    async def page(http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.get("/map")

    read_ok = frozenset({200, 204})  # 204: a tile with nothing in it
    kinds = [
        Kind("POST /reports", args.rate, args.intake_clients, frozenset({201}), report),
        Kind(
            "tiles/incidents", args.tile_rate, args.read_clients, read_ok, tile_reader("incidents")
        ),
        Kind("tiles/cells", args.tile_rate, args.read_clients, read_ok, tile_reader("cells")),
        Kind(
            "map/incidents.geojson", args.geojson_rate, args.read_clients, frozenset({200}), geojson
        ),
        Kind("GET /map", args.page_rate, max(1, args.read_clients // 2), frozenset({200}), page),
    ]
    return [k for k in kinds if k.rate > 0]


async def _load(
    args: argparse.Namespace, kinds: list[Kind], port: int, server_pid: int, say: Clock
) -> dict[str, Any]:
    """Open every client's connection one by one (uvicorn's workers share one listening
    socket: connections opened in a burst all land on the first worker to wake), then run
    each kind at its pace for --warm-up + --seconds; requests due in the last --seconds
    are timed. Returns the connections per worker and the CPU used in the timed window."""
    base_url = f"http://127.0.0.1:{port}"
    clients = [(k, i) for k in kinds for i in range(k.clients)]
    clients.sort(key=lambda c: c[1] / c[0].clients)  # interleave the kinds' connections
    ramp_s = 2.0
    # perf_counter, not loop.time(): uvloop's clock has millisecond steps.
    clock = time.perf_counter
    load_start = clock() + ramp_s + 0.5
    timed_start = load_start + args.warm_up
    end = timed_start + args.seconds
    slots = {k.name: itertools.count() for k in kinds}
    say(
        f"{len(clients)} clients connecting over {ramp_s:g} s; then {args.warm_up:g} s "
        f"warm-up and {args.seconds:g} s timed: "
        + ", ".join(f"{k.name} {k.rate:g}/s" for k in kinds)
    )

    async def client(kind: Kind, position: int) -> None:
        await asyncio.sleep(position * ramp_s / len(clients))
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=args.timeout
        ) as http:
            await http.get("/health")  # opens this client's connection now
            while True:
                n = next(slots[kind.name])
                due = load_start + n / kind.rate
                if due >= end:
                    return
                await asyncio.sleep(max(due - clock(), 0.0))
                t0 = clock()
                if t0 >= end:  # behind schedule when the time is up: not sent at all
                    kind.unsent += 1
                    continue
                kind.max_lag_s = max(kind.max_lag_s, t0 - due)
                kind.sent += 1
                try:
                    response = await kind.request(http, n)
                except httpx.HTTPError as exc:  # counted, never fatal: the run goes on
                    kind.failures[type(exc).__name__] += 1
                    continue
                t1 = clock()
                status = response.status_code
                if status not in kind.ok:
                    if not kind.bad_statuses:
                        say(f"{kind.name}: {status} {response.text[:300]}")
                    kind.bad_statuses[status] += 1
                elif timed_start <= t1 < end:
                    kind.done_per_second[int(t1 - timed_start)] += 1
                if due >= timed_start:
                    kind.latencies_ms.append((t1 - t0) * 1000)
                    kind.statuses[status] += 1

    async def progress() -> None:
        last = {k.name: 0 for k in kinds}
        while clock() < end:
            await asyncio.sleep(5.0)
            now = clock()
            if now < load_start:
                continue
            parts = []
            for k in kinds:
                rate = (k.sent - last[k.name]) / 5.0
                last[k.name] = k.sent
                errors = f", {k.errors()} errors" if k.errors() else ""
                parts.append(f"{k.name} {rate:,.0f}/s{errors}")
            phase = (
                "warm-up" if now < timed_start else f"{now - timed_start:4.0f}/{args.seconds:g} s"
            )
            say(f"{phase}: sent " + "; ".join(parts))

    async def measure() -> dict[str, Any]:
        await asyncio.sleep(max(load_start - 0.4 - clock(), 0.0))
        connections = connections_per_worker(port)
        say(f"client connections per worker: {'/'.join(map(str, connections)) or 'unknown'}")
        watch = MachineWatch(make_url(args.database_url).database or "", server_pid)
        await asyncio.sleep(max(timed_start - clock(), 0.0))
        watch.start()
        await asyncio.sleep(max(end - clock(), 0.0))
        machine = watch.stop()
        return {"connections_per_worker": connections, "cpu_s": machine.cpu, "machine": machine}

    found = await asyncio.gather(
        measure(), progress(), *(client(k, i) for i, (k, _) in enumerate(clients))
    )
    say("load done")
    return found[0]


def _count_stored(engine: Engine, intake: Intake) -> dict[str, int]:
    """Every report answered 201, looked up by its tracking number with its 'created'
    event, its 'assignment' event when assigned and its outbox row; and what the run
    stored at all (by the marker in the description, answered or not)."""
    query = text("""
        SELECT count(*) AS found,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM incident_events e
                   WHERE e.incident_id = i.id AND e.kind = 'created')) AS created_event,
               count(*) FILTER (WHERE i.assignee_id IS NULL OR EXISTS (
                   SELECT 1 FROM incident_events e
                   WHERE e.incident_id = i.id AND e.kind = 'assignment')) AS assignment_ok,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM outbox o WHERE o.incident_id = i.id)) AS outbox_row,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM incident_events e
                   WHERE e.incident_id = i.id AND e.kind = 'created')
                 AND (i.assignee_id IS NULL OR EXISTS (
                   SELECT 1 FROM incident_events e
                   WHERE e.incident_id = i.id AND e.kind = 'assignment'))
                 AND EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.id)) AS complete,
               count(*) FILTER (WHERE i.routing_rule IS NULL
                                OR i.routing_rule = 'outside') AS unrouted
        FROM incidents i WHERE i.tracking_number IN :numbers
    """).bindparams(bindparam("numbers", expanding=True))
    with engine.connect() as conn:
        row = conn.execute(query, {"numbers": intake.tracking_numbers or [""]}).mappings().one()
        marked = conn.execute(
            text("SELECT count(*) FROM incidents WHERE description LIKE :marker"),
            {"marker": f"{MARKER} {intake.run_id} #%"},
        ).scalar_one()
        keys = conn.execute(
            text("SELECT count(*) FROM idempotency_records WHERE key LIKE :prefix"),
            {"prefix": f"{KEY_PREFIX}{intake.run_id}-%"},
        ).scalar_one()
    answered = len(intake.tracking_numbers)
    return {
        "answered_201": answered,
        "distinct_tracking_numbers": len(set(intake.tracking_numbers)),
        **{k: int(v) for k, v in row.items()},
        "lost": answered - int(row["complete"]),
        "stored_by_marker": int(marked),
        "idempotency_records": int(keys),
    }


def _cpu_line(cpu_s: dict[str, float], seconds: float) -> str:
    if not cpu_s:
        return "not measured (no /proc)"
    cores = ", ".join(
        f"{k} {cpu_s[k] / seconds:.2f}" for k in ("server", "postgres", "client", "other")
    )
    busy = cpu_s["machine"] / (seconds * (os.cpu_count() or 1))
    return f"{cores} cores; machine {busy:.0%} busy"


def _print_figures(
    args: argparse.Namespace,
    kinds: list[Kind],
    intake: Intake,
    stored: dict[str, int],
    server: dict[str, Any],
) -> bool:
    """The figures table and one JSON line on stdout; True when nothing was lost or
    failed."""
    seconds = args.seconds
    intake_kind = kinds[0]
    achieved = intake_kind.achieved(seconds)
    worst_at, worst_n = intake_kind.worst_second(seconds)
    held = achieved >= HELD_OVERALL * args.rate and worst_n >= HELD_WORST_SECOND * args.rate
    errors = sum(k.errors() for k in kinds)
    server_errors = sum(k.server_errors() for k in kinds)
    transport = sum(sum(k.failures.values()) for k in kinds)
    lost = stored["lost"]
    ok = lost == 0 and errors == 0 and stored["unrouted"] == 0
    lines = [
        f"gridgov load benchmark: {seconds:g} s timed after {args.warm_up:g} s warm-up; "
        f"{args.workers} uvicorn worker(s), db pool {args.db_pool_size} each; httpx clients; "
        f"client connections per worker "
        f"{'/'.join(map(str, server['connections_per_worker'])) or 'unknown'}",
        f"  {'endpoint':<22} {'target/s':>8} {'achieved':>9} {'requests':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  errors",
    ]
    for k in kinds:
        errs = ", ".join(
            [f"{s}: {n}" for s, n in sorted(k.bad_statuses.items())]
            + [f"{e}: {n}" for e, n in k.failures.items()]
        )
        lines.append(
            f"  {k.name:<22} {k.rate:>8,.0f} {k.achieved(seconds):>9,.1f} "
            f"{len(k.latencies_ms):>9,} {k.percentile(50):>8.2f} {k.percentile(99):>8.2f} "
            f"{max(k.latencies_ms, default=float('nan')):>8.1f}  {errs or 'none'}"
        )
    lines += [
        f"  intake pace: {achieved:,.1f} of {args.rate:g} reports/s; worst 1-s window "
        f"{worst_n} (at {worst_at} s); furthest behind schedule "
        f"{intake_kind.max_lag_s * 1000:,.0f} ms, {intake_kind.unsent:,} slots never sent "
        f"-> held: {server['machine'].verdict(held)} "
        f"(>= {HELD_OVERALL:.0%} overall and >= {HELD_WORST_SECOND:.0%} in every second)",
        f"  stored: {stored['answered_201']:,} answered 201 (whole run); found "
        f"{stored['found']:,}, with created event {stored['created_event']:,}, assignment "
        f"event when assigned {stored['assignment_ok']:,}, outbox row "
        f"{stored['outbox_row']:,}; lost {lost}; unrouted {stored['unrouted']}; "
        f"{stored['stored_by_marker']:,} stored by this run, "
        f"{stored['idempotency_records']:,} idempotency records",
        f"  errors (whole run): {errors} ({server_errors} 5xx, {transport} transport errors)",
        f"  CPU in the timed window: {_cpu_line(server['cpu_s'], seconds)}",
        f"  {server['machine'].line()}",
        f"  {'OK' if ok else 'FAILED'}: lost reports {lost}, errors {errors}",
    ]
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "bench": "load",
                "seconds": seconds,
                "warm_up_s": args.warm_up,
                "workers": args.workers,
                "db_pool_size": args.db_pool_size,
                "connections_per_worker": server["connections_per_worker"],
                "kinds": {k.name: k.summary(seconds) for k in kinds},
                "intake_held": server["machine"].verdict(held),
                "machine": server["machine"].as_json(),
                "stored": stored,
                "errors": errors,
                "server_errors": server_errors,
                "transport_errors": transport,
                "cpu_s": {k: round(v, 2) for k, v in server["cpu_s"].items()},
                "ok": ok,
            },
            ensure_ascii=False,
        )
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
