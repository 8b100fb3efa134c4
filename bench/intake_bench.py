"""Intake benchmark: concurrent clients posting reports over HTTP to the real server with
the demo city, beside a same-run raw-SQL baseline.

    .venv/bin/python -m bench.intake_bench [--seconds 20] [--clients 32] [--workers 2]
        [--rounds 4] [--warm-up 3] [--preload 1000000] [--db-pool-size N]
        [--database-url URL] [--reload-demo]

Both runs meet a table that already holds --preload incidents (1,000,000 by default: two
years of history in the demo's cells, mostly closed; at 1M the database costs 40% more
per report than on empty tables, issue 19), loaded once and kept between runs; each slice
removes only what the slices added. Every report answered 201 is then checked by its
tracking number: stored once, in the cell that an independent ST_Covers on grid_cells
finds for the point the client meant (WGS-84, even when it was sent as GCJ-02).

Targets (issue "intake benchmark"): durable intake over HTTP of at least 1,000 reports/s
and at least 50% of the same-run raw-SQL baseline, p99 under 100 ms, at 32 concurrent
clients. The machine's load over the timed slices is printed, and no target is called
met or missed when other processes used more than a quarter of a core
(bench.common.MachineLoad). Progress goes to stderr; the figures table and one JSON line
go to stdout; the exit status is 1 when a correctness check fails (an error answer, a
lost, unrouted or misrouted report).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url

from bench.common import (
    ROOT,
    Clock,
    checkpoint,
    connections_per_worker,
    free_port,
    gridgov_command,
    percentile,
    refuse_shared_databases,
    run_gridgov,
    run_on_uvloop,
    start_server,
    stop_server,
)
from bench.machine import CpuMeter, MachineLoad
from gis.coords import wgs84_to_gcj02
from gis.database import create_bulk_engine, ensure_database

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_intake"
DEFAULT_SEED = 20261124
RATE_TARGET, RATIO_TARGET, P99_TARGET_MS = 1000.0, 0.5, 100.0
POINTS = 20_000  # sampled once, then cycled
GCJ02_SHARE = 0.2
TOLERANCE_M = 30.0  # GRIDGOV_ROUTING_TOLERANCE_M's default, as the server uses it
METRES_PER_DEGREE = 111_320.0
# Emptied before each timed slice; CASCADE takes events, photos, inbox items and the like.
INTAKE_TABLES = ("incidents", "outbox", "idempotency_records", "emergency_referrals")
# Tables a slice only adds to beside the incidents: emptied before each slice (the
# preloaded history has none of these rows).
SLICE_TABLES = ("idempotency_records", "emergency_referrals")
# Sampled points keep this far (degrees, about 2 m) inside their cell, so a GCJ-02
# round trip never carries one over an edge and the independent check is unambiguous.
INSIDE_DEG = 2e-5
PRELOAD_PREFIX = "P"  # preloaded tracking numbers: P + 9 digits, channel 'hotline'
PRELOAD_CHUNK = 100_000
PRELOAD_DAYS = 730
SECONDS_PER_DAY = 86_400

# The baseline's write: a frozen copy of the statement incidents/intake.py ran when this
# benchmark was written (incident, 'created' and 'assignment' events, outbox row in one
# round trip), so optimising the product never moves the reference. Its reports are filed
# through the 'terminal' channel, so they are never counted as the HTTP run's.
BASELINE_INSERT = """
WITH region AS (
    SELECT id FROM regions WHERE code = :region_code
), incident AS (
    INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
        input_lon, input_lat, input_system, address, building_id, cell_id, region_id,
        assignee_id, routing_rule, responsible_level, description, answers, channel,
        reporter_id, reporter_name, reporter_phone, accept_due_at, resolve_due_at,
        created_at, updated_at)
    VALUES (:tracking_number, :secret_hash, :category, :status,
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :input_lon, :input_lat, :input_system,
        NULL, NULL, :cell_id, (SELECT id FROM region), :assignee_id, :rule,
        :level, :description, CAST(:answers AS jsonb), 'terminal', NULL,
        NULL, NULL, :accept_due_at, :resolve_due_at, :now, :now)
    RETURNING id
), created AS (
    INSERT INTO incident_events (incident_id, kind, actor_id, actor_role, to_status, data, at)
    SELECT id, 'created', NULL, 'reporter', 'submitted',
           jsonb_build_object('channel', 'terminal'), :now FROM incident
    RETURNING id
), assigned AS (
    INSERT INTO incident_events (incident_id, kind, actor_role, from_status, to_status,
                                 data, at)
    SELECT incident.id, 'assignment', 'system', 'submitted', 'assigned',
           jsonb_build_object('rule', CAST(:rule AS text), 'level', CAST(:level AS text)), :now
    FROM incident, created WHERE CAST(:assignee_id AS integer) IS NOT NULL
), notified AS (
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    SELECT CASE WHEN CAST(:assignee_id AS integer) IS NULL THEN 'incident.queued'
                ELSE 'incident.assigned' END,
           incident.id,
           CASE WHEN CAST(:assignee_id AS integer) IS NOT NULL
                THEN ARRAY[CAST(:assignee_id AS integer)]
                ELSE ARRAY(SELECT u.id FROM users u JOIN region ON u.region_id = region.id
                           WHERE u.is_active AND u.role IN
                             ('community_manager', 'street_manager', 'district_manager'))
           END,
           jsonb_build_object('tracking_number', CAST(:tracking_number AS text),
                              'category', CAST(:category AS text),
                              'resolve_due_at', CAST(:resolve_due_at_text AS text)),
           :now
    FROM incident
)
SELECT id FROM incident
"""


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


@dataclass
class Figures:
    """Everything the run measured; printed as a table and as one JSON line."""

    http: Phase
    baseline: Phase
    stored: dict[str, Any]
    server: dict[str, Any]
    machine: MachineLoad
    preloaded: int = 0

    @property
    def ratio(self) -> float:
        return self.http.rate / self.baseline.rate if self.baseline.rate else float("nan")

    def errors(self) -> int:
        return sum(n for s, n in self.http.statuses.items() if s != 201) + sum(
            self.http.failures.values()
        )

    def targets(self) -> dict[str, bool]:
        return {
            "reports_per_s": self.http.rate >= RATE_TARGET,
            "ratio_to_baseline": self.ratio >= RATIO_TARGET,
            "p99_ms": self.http.percentile(99) < P99_TARGET_MS,
        }

    def correct(self) -> bool:
        s = self.stored
        n = self.http.answered_201
        return (
            self.errors() == 0
            and self.baseline.statuses.keys() <= {201}
            and not self.baseline.failures
            and s["incidents"] == n
            and s["outbox"] == n
            and s["idempotency_records"] == n
            and s["created_events"] == n
            and s["assignment_events"] == s["assigned"]
            and s["unrouted"] == 0
            and s["checked"] == n
            and s["missing"] == 0
            and s["wrong_cell"] == 0
        )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "empties its incident tables")
    prepare_database(args, say)
    engine = create_bulk_engine(args.database_url)
    try:
        categories, points, tiers = load_inputs(engine, args, say)
        marks = preload(engine, args, categories, say)
        port = free_port()
        server = start_intake_server(args, port, say)
        try:
            checkpoint(engine, say)
            load_start = os.getloadavg()
            http, baseline, stored = run_on_uvloop(
                _measure(args, engine, server, port, categories, points, tiers, marks, say)
            )
            machine = MachineLoad(
                http.seconds + baseline.seconds,
                load_start,
                os.getloadavg(),
                _summed(http.cpu_s, baseline.cpu_s),
            )
        finally:
            stop_intake_server(server, say)
    finally:
        engine.dispose()
    figures = Figures(http, baseline, stored, _server_description(args), machine, args.preload)
    _print_figures(figures, args)
    return 0 if figures.correct() else 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="timed seconds of each run (HTTP, baseline)"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="slices each run's seconds are taken in, in turn"
    )
    parser.add_argument("--warm-up", type=float, default=3.0, help="untimed seconds of each")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--db-pool-size",
        type=int,
        default=None,
        help="GRIDGOV_DB_POOL_SIZE for the server (default: each worker's share of the "
        "clients, at least 10, so no request waits for or churns an overflow connection)",
    )
    parser.add_argument(
        "--baseline-pool",
        type=int,
        default=None,
        help="asyncpg pool size of the baseline (default: --clients, one connection each)",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="the bench's own database, created, migrated and loaded on demand",
    )
    parser.add_argument(
        "--reload-demo", action="store_true", help="wipe and reload the demo city first"
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=1_000_000,
        help="incidents in the table before the runs (kept between runs; 0: none)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.db_pool_size is None:
        args.db_pool_size = max(10, math.ceil(args.clients / args.workers))
    args.baseline_pool = args.baseline_pool or args.clients
    return args


def gridgov_env(args: argparse.Namespace) -> dict[str, str]:
    """The server's environment: the bench database, its pool, limits out of the way."""
    return {
        **os.environ,
        "GRIDGOV_DATABASE_URL": args.database_url,
        "GRIDGOV_DB_POOL_SIZE": str(args.db_pool_size),
        # Every client posts from 127.0.0.1: limits stay on (their counting is part of
        # the cost measured) but far above what the bench sends.
        "GRIDGOV_RATE_LIMITS": '{"intake.ip": "100000000/60", "intake.account": "100000000/60"}',
    }


def prepare_database(args: argparse.Namespace, say: Clock) -> None:
    """Create and migrate the database (what `gridgov db upgrade` does, categories
    included), then load the demo city unless it is there already."""
    ensure_database(args.database_url)
    say(f"migrating {make_url(args.database_url).database}")
    env = gridgov_env(args)
    run_gridgov(env, "db", "upgrade")
    demo = "--replace" if args.reload_demo else "--skip-if-loaded"
    say(f"gridgov demo {demo}")
    run_gridgov(env, "demo", demo, quiet=True)


def load_inputs(
    engine: Engine, args: argparse.Namespace, say: Clock
) -> tuple[list[str], list[tuple[float, float, str, float, float]], dict[str, tuple]]:
    """The fire categories to report, POINTS random points inside the demo's cells in
    force (a share of them given as GCJ-02), and each category's tier deadlines."""
    from incidents.workdays import load_work_calendar, severity_tiers

    with engine.connect() as conn:
        categories = (
            conn.execute(
                text(
                    "SELECT code FROM incident_categories WHERE group_code = 'fire' "
                    "AND active AND NOT is_emergency ORDER BY sort_order"
                )
            )
            .scalars()
            .all()
        )
        tier_of = dict(conn.execute(text("SELECT code, tier FROM incident_categories")).all())
        cells = conn.execute(
            text(
                "SELECT ST_AsBinary(boundary) FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL"
            )
        ).scalars()
        boundaries = shapely.from_wkb([bytes(b) for b in cells])
    if len(boundaries) == 0 or not categories:
        raise SystemExit("no cells in force or no fire categories: is the demo city loaded?")
    say(f"sampling {POINTS:,} points in {len(boundaries)} cells, {GCJ02_SHARE:.0%} as GCJ-02")
    points = _sample_points(shapely.buffer(boundaries, -INSIDE_DEG), POINTS, args.seed)
    calendar, tiers = load_work_calendar(None), severity_tiers()
    deadlines = {c: (calendar, tiers[tier_of[c]]) for c in categories}
    return list(categories), points, deadlines


def _sample_points(
    boundaries: np.ndarray, count: int, seed: int
) -> list[tuple[float, float, str, float, float]]:
    """(lon, lat, coord_system, wgs84 lon, wgs84 lat): a cell picked at random, then a
    uniform point inside it by rejection from its bounding box."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(boundaries), count)
    bounds = shapely.bounds(boundaries)
    out = []
    for cell in picks:
        x0, y0, x1, y1 = bounds[cell]
        while True:
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if shapely.contains_xy(boundaries[cell], x, y):
                break
        if rng.random() < GCJ02_SHARE:
            gx, gy = wgs84_to_gcj02(x, y)
            out.append((gx, gy, "gcj02", x, y))
        else:
            out.append((x, y, "wgs84", x, y))
    return out


def _empty_intake_tables(engine: Engine, marks: dict[str, int]) -> None:
    """Back to the preloaded history: what earlier slices added goes (their incidents
    with their events and outbox rows by cascade), the history stays."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents WHERE id > :m"), {"m": marks["incidents"]})
        conn.execute(text("DELETE FROM outbox WHERE id > :m"), {"m": marks["outbox"]})
        conn.execute(text(f"TRUNCATE {', '.join(SLICE_TABLES)} RESTART IDENTITY CASCADE"))


def _marks(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar()
            for table in ("incidents", "outbox")
        }


def preload(
    engine: Engine, args: argparse.Namespace, categories: list[str], say: Clock
) -> dict[str, int]:
    """--preload incidents of history in the demo's cells, loaded unless a previous run
    left exactly them; everything else in the intake tables is emptied. Returns the
    highest preloaded ids (what each slice goes back to)."""
    with engine.connect() as conn:
        have = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE channel = 'hotline' AND tracking_number LIKE "
                f"'{PRELOAD_PREFIX}%'), count(*) FROM incidents"
            )
        ).one()
    if have[0] == args.preload:
        say(f"reusing {args.preload:,} preloaded incidents")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM incidents WHERE NOT (channel = 'hotline' AND "
                    f"tracking_number LIKE '{PRELOAD_PREFIX}%')"
                )
            )
            conn.execute(text("DELETE FROM outbox WHERE incident_id IS NULL"))
            conn.execute(text(f"TRUNCATE {', '.join(SLICE_TABLES)} RESTART IDENTITY CASCADE"))
        return _marks(engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(INTAKE_TABLES)} RESTART IDENTITY CASCADE"))
    if args.preload:
        _load_history(engine, args, categories, say)
    return _marks(engine)


def _floats(values: np.ndarray):
    """A float8 column for gis.pgcopy's binary COPY."""
    from gis.pgcopy import CopyField

    n = len(values)
    payload = np.frombuffer(values.astype(">f8").tobytes(), np.uint8)
    return CopyField(np.full(n, 8, dtype=np.int64), payload, np.arange(n + 1) * 8)


def _load_history(
    engine: Engine, args: argparse.Namespace, categories: list[str], say: Clock
) -> None:
    """Binary COPY of generated history into an unlogged staging table, then INSERT ...
    SELECT into incidents a chunk at a time, every trigger and index working as for
    intake: points inside the cells in force, ages uniform over two years, old ones
    mostly closed, recent ones open."""
    import pandas as pd

    from gis.pgcopy import CopyField, copy_binary, text_codec

    n = args.preload
    rng = np.random.default_rng(args.seed + 7)
    with engine.connect() as conn:
        cells = conn.execute(
            text(
                "SELECT id, ST_AsBinary(boundary) FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL ORDER BY id"
            )
        ).all()
    ids = np.array([c[0] for c in cells])
    shapes = shapely.buffer(shapely.from_wkb([bytes(c[1]) for c in cells]), -INSIDE_DEG)
    say(f"generating {n:,} incidents of history in {len(ids)} cells")
    pick = rng.integers(0, len(ids), n)
    bounds = shapely.bounds(shapes)[pick]
    lon, lat = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while len(todo):  # rejection sampling, vectorised: redraw only the misses
        x = rng.uniform(bounds[todo, 0], bounds[todo, 2])
        y = rng.uniform(bounds[todo, 1], bounds[todo, 3])
        inside = shapely.contains_xy(shapes[pick[todo]], x, y)
        lon[todo[inside]], lat[todo[inside]] = x[inside], y[inside]
        todo = todo[~inside]
    age_s = rng.uniform(0, PRELOAD_DAYS * SECONDS_PER_DAY, n)
    roll = rng.random(n)
    status = np.where(age_s < 3 * SECONDS_PER_DAY, "assigned", "closed").astype(object)
    status[(age_s >= 3 * SECONDS_PER_DAY) & (roll < 0.03)] = "in_progress"
    closed_age_s = np.where(
        status == "closed", np.maximum(age_s - rng.uniform(0.5, 10, n) * SECONDS_PER_DAY, 60), -1
    ).astype(np.int64)
    order = np.argsort(-age_s, kind="stable")  # oldest first, as reports arrive
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_intake_history"))
        conn.execute(
            text("""
            CREATE UNLOGGED TABLE bench_intake_history (n integer, cell_id integer,
                lon float8, lat float8, category text, status text, age_s bigint,
                closed_age_s bigint)""")
        )
        raw = conn.connection.dbapi_connection
        say(f"binary COPY of {n:,} rows of history")
        copy_binary(
            raw,
            "COPY bench_intake_history FROM STDIN WITH (FORMAT binary)",
            [
                CopyField.integers(np.arange(n)),
                CopyField.integers(ids[pick][order]),
                _floats(lon[order]),
                _floats(lat[order]),
                CopyField.text(
                    pd.Series(
                        np.array(categories, dtype=object)[rng.integers(0, len(categories), n)]
                    ),
                    text_codec(raw),
                ),
                CopyField.text(pd.Series(status[order]), text_codec(raw)),
                CopyField.integers(age_s[order].astype(np.int64), width=8),
                CopyField.integers(closed_age_s[order], closed_age_s[order] >= 0, width=8),
            ],
        )
    started = time.perf_counter()
    for first in range(0, n, PRELOAD_CHUNK):
        with engine.begin() as conn:
            conn.execute(
                text(f"""
                INSERT INTO incidents (tracking_number, secret_hash, category_code, status,
                    location, input_lon, input_lat, input_system, cell_id, region_id,
                    routing_rule, responsible_level, channel, created_at, updated_at,
                    closed_at)
                SELECT '{PRELOAD_PREFIX}' || lpad(h.n::text, 9, '0'), 'bench', h.category,
                    h.status, ST_SetSRID(ST_MakePoint(h.lon, h.lat), 4326), h.lon, h.lat,
                    'wgs84', c.id, c.community_id, 'inside', 'primary', 'hotline',
                    now() - make_interval(secs => h.age_s),
                    now() - make_interval(secs => coalesce(h.closed_age_s, h.age_s)),
                    now() - make_interval(secs => h.closed_age_s)
                FROM bench_intake_history h JOIN grid_cells c ON c.id = h.cell_id
                WHERE h.n >= :first AND h.n < :last
                ORDER BY h.n"""),
                {"first": first, "last": first + PRELOAD_CHUNK},
            )
        done = min(first + PRELOAD_CHUNK, n)
        say(f"  history: {done:,} / {n:,} ({done / (time.perf_counter() - started):,.0f}/s)")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_intake_history"))
    say("VACUUM ANALYZE")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {', '.join(INTAKE_TABLES)}"))


def _summed(*usages: dict[str, float]) -> dict[str, float]:
    if any(not u for u in usages):
        return {}
    return {k: sum(u.get(k, 0.0) for u in usages) for k in usages[0]}


# Every report answered 201, by its tracking number: stored exactly once, in the cell an
# independent ST_Covers on grid_cells finds for the WGS-84 point the client meant (not
# grid/sql/point_lookup.sql, which the product uses).
_CHECK_REPORTS = text("""
    WITH sent AS (
        SELECT * FROM unnest(CAST(:numbers AS text[]), CAST(:lons AS float8[]),
                             CAST(:lats AS float8[])) AS t(tracking_number, lon, lat)
    ), found AS (
        SELECT s.tracking_number,
               (SELECT count(*) FROM incidents i
                WHERE i.tracking_number = s.tracking_number) AS stored,
               (SELECT i.cell_id FROM incidents i
                WHERE i.tracking_number = s.tracking_number LIMIT 1) AS cell_id,
               (SELECT c.id FROM grid_cells c
                WHERE c.active_from IS NOT NULL AND c.active_to IS NULL
                  AND ST_Covers(c.boundary, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                LIMIT 1) AS covering
        FROM sent s
    )
    SELECT count(*) AS checked,
           count(*) FILTER (WHERE stored <> 1) AS missing,
           count(*) FILTER (WHERE stored = 1 AND cell_id IS DISTINCT FROM covering)
               AS wrong_cell
    FROM found
""")


def _check_reports(engine: Engine, answered: list[tuple[str, float, float]]) -> dict[str, int]:
    """Check the answered reports (see _CHECK_REPORTS), then forget them."""
    if not answered:
        return {"checked": 0, "missing": 0, "wrong_cell": 0}
    numbers, lons, lats = (list(column) for column in zip(*answered, strict=True))
    with engine.connect() as conn:
        row = (
            conn.execute(_CHECK_REPORTS, {"numbers": numbers, "lons": lons, "lats": lats})
            .mappings()
            .one()
        )
    answered.clear()
    return {k: int(v) for k, v in row.items()}


def _server_description(args: argparse.Namespace) -> dict[str, Any]:
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


async def _timed_loop(
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


async def _measure(
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
        _baseline_pool(args) as pool,
    ):
        runs = {
            "http": (
                http,
                _poster(session, port, categories, points, http, answered, say),
                CpuMeter(database, server.pid),
            ),
            "baseline": (
                baseline,
                _raw_reporter(pool, categories, points, deadlines),
                # The server idles meanwhile, but it is the bench's, not another's.
                CpuMeter(database, server.pid),
            ),
        }
        say(
            f"warm-up, {args.warm_up:g} s each: {args.clients} HTTP clients against "
            f"{args.workers} worker(s), {args.clients} raw-SQL tasks on an asyncpg pool of "
            f"{args.baseline_pool}"
        )
        await _timed_loop(
            http, args.clients, args.warm_up, 0, runs["http"][1], runs["http"][2], ramp=True
        )
        http.connections_per_worker = connections_per_worker(port)
        await _timed_loop(
            baseline, args.clients, args.warm_up, 0, runs["baseline"][1], runs["baseline"][2]
        )
        stored: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        http.answered_201 = 0  # the warm-up's reports are emptied away below
        answered.clear()
        for r in range(args.rounds):
            for name in ("baseline", "http") if r % 2 == 0 else ("http", "baseline"):
                phase, one_request, meter = runs[name]
                _empty_intake_tables(engine, marks)
                await _timed_loop(phase, args.clients, 0, slice_s, one_request, meter)
                if phase is http:
                    found = _count_stored(engine)
                    rules.update(found.pop("by_rule"))
                    stored.update(found)
                    stored.update(_check_reports(engine, answered))
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


def _poster(
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


def _positional(sql: str) -> tuple[str, list[str]]:
    """A :name statement as asyncpg's $n form, with the parameter names in order."""
    compiled = text(sql).compile(dialect=asyncpg_dialect())
    return compiled.string, list(compiled.positiontup or [])


@asynccontextmanager
async def _baseline_pool(args: argparse.Namespace):
    url = make_url(args.database_url)
    pool = await asyncpg.create_pool(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
        min_size=args.baseline_pool,
        max_size=args.baseline_pool,
    )
    try:
        yield pool
    finally:
        await pool.close()


def _raw_reporter(pool: asyncpg.Pool, categories: list[str], points: list, deadlines: dict):
    """The same database work as raw SQL over asyncpg, no HTTP, no ORM: per report one
    transaction with the point lookup (grid/sql/point_lookup.sql) and the insert of the
    incident, its events and its outbox row (BASELINE_INSERT)."""
    from incidents.tracking import new_secret, new_tracking_number, secret_hash
    from incidents.workdays import deadline

    lookup_sql, lookup_names = _positional((ROOT / "grid" / "sql" / "point_lookup.sql").read_text())
    insert_sql, insert_names = _positional(BASELINE_INSERT)
    tolerance_deg = TOLERANCE_M / METRES_PER_DEGREE
    counter = itertools.count()

    async def report() -> int:
        n = next(counter)
        _, _, system, lon, lat = points[n % len(points)]
        category = categories[n % len(categories)]
        now = datetime.now(UTC)
        calendar, tier = deadlines[category]
        accept_due = deadline(now, tier.accept, calendar)
        resolve_due = deadline(now, tier.resolve, calendar)
        lookup = {
            "lon": lon,
            "lat": lat,
            "on": now.date(),
            "tolerance_m": TOLERANCE_M,
            "tolerance_deg": tolerance_deg / max(math.cos(math.radians(lat)), 0.01),
        }
        async with pool.acquire() as conn, conn.transaction():
            cell, regions, responsible = await conn.fetchrow(
                lookup_sql, *(lookup[k] for k in lookup_names)
            )
            values = {
                **_route(cell, regions, responsible),
                "tracking_number": new_tracking_number(now),
                "secret_hash": secret_hash(new_secret(), "bench"),
                "category": category,
                "lon": lon,
                "lat": lat,
                "input_lon": lon,
                "input_lat": lat,
                "input_system": system,
                "description": f"bench report {n}",
                "answers": "{}",
                "accept_due_at": accept_due,
                "resolve_due_at": resolve_due,
                "resolve_due_at_text": resolve_due.isoformat(),
                "now": now,
            }
            await conn.fetchval(insert_sql, *(values[k] for k in insert_names))
        return 201

    return report


def _route(cell: str | None, regions: str | None, responsible: str | None) -> dict[str, Any]:
    """The routing decision (incidents/routing.py) taken in Python from the point lookup's
    row (JSON text), as intake took it when this benchmark was written."""
    cell_d = json.loads(cell) if cell else None
    chain = json.loads(regions) if regions else []
    person = json.loads(responsible) if responsible else None
    deepest = chain[-1] if chain else None
    if cell_d is None:
        rule = f"{deepest['level']}_queue" if deepest else "outside"
        level, assignee = "queue", None
    else:
        rule = cell_d["match"]
        level, assignee = (person["level"], person["id"]) if person else ("queue", None)
    return {
        "rule": rule,
        "level": level,
        "cell_id": cell_d and cell_d["id"],
        "region_code": deepest and deepest["code"],
        "assignee_id": assignee,
        "status": "assigned" if assignee is not None else "submitted",
    }


def _count_stored(engine: Engine) -> dict[str, Any]:
    """What an HTTP slice left in the database (its reports come through the 'web'
    channel; the baseline files its own as 'terminal')."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("""
            WITH web AS (SELECT * FROM incidents WHERE channel = 'web')
            SELECT (SELECT count(*) FROM web) AS incidents,
                   (SELECT count(*) FROM web WHERE assignee_id IS NOT NULL) AS assigned,
                   (SELECT count(*) FROM web
                    WHERE routing_rule IS NULL OR routing_rule = 'outside') AS unrouted,
                   (SELECT count(*) FROM incident_events e JOIN web ON web.id = e.incident_id
                    WHERE e.kind = 'created') AS created_events,
                   (SELECT count(*) FROM incident_events e JOIN web ON web.id = e.incident_id
                    WHERE e.kind = 'assignment') AS assignment_events,
                   (SELECT count(*) FROM outbox o JOIN web ON web.id = o.incident_id) AS outbox,
                   (SELECT count(*) FROM idempotency_records) AS idempotency_records,
                   (SELECT count(*) FROM web WHERE input_system = 'gcj02') AS gcj02
        """)
            )
            .mappings()
            .one()
        )
        rules = dict(
            conn.execute(
                text(
                    "SELECT routing_rule, count(*) FROM incidents WHERE channel = 'web' "
                    "GROUP BY 1 ORDER BY 2 DESC"
                )
            ).all()
        )
    return {**{k: int(v) for k, v in row.items()}, "by_rule": rules}


def _cpu_line(phase: Phase) -> str:
    per = phase.cpu_ms_per_report()
    if not per:
        return "not measured (no /proc)"
    parts = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
    return f"{parts}; machine {phase.machine_busy():.0%} busy"


def _print_figures(f: Figures, args: argparse.Namespace) -> None:
    ok = {k: f.machine.verdict(v) for k, v in f.targets().items()}
    h, b, s, srv = f.http, f.baseline, f.stored, f.server
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(h.statuses.items()))
    failures = ", ".join(f"{k}: {v}" for k, v in h.failures.items()) or "none"
    lines = [
        f"gridgov intake benchmark: {f.preloaded:,} incidents preloaded; "
        f"{args.clients} clients, {args.seconds:g} s timed each in "
        f"{args.rounds} alternating slices after {args.warm_up:g} s warm-up; "
        f"{srv['workers']} uvicorn worker(s) ({srv['loop']}, "
        f"{srv['http']}), db pool {srv['db_pool_size']} each; {srv['client']} client",
        f"  HTTP POST /reports   {h.rate:>8,.0f} reports/s  p50 {h.percentile(50):6.2f} ms  "
        f"p99 {h.percentile(99):6.2f} ms   target >= {RATE_TARGET:,.0f}/s: "
        f"{ok['reports_per_s']}, p99 < {P99_TARGET_MS:.0f} ms: {ok['p99_ms']}",
        f"  raw SQL baseline     {b.rate:>8,.0f} reports/s  p50 {b.percentile(50):6.2f} ms  "
        f"p99 {b.percentile(99):6.2f} ms   asyncpg pool of {args.baseline_pool}: "
        "point lookup + incident/events/outbox insert, one transaction each",
        f"  HTTP / baseline      {f.ratio:8.2f} x{'':39}target >= {RATIO_TARGET:.2f}: "
        f"{ok['ratio_to_baseline']}",
        f"  CPU ms per report    HTTP: {_cpu_line(h)}",
        f"                       baseline: {_cpu_line(b)}",
        f"  answers: {statuses}; client failures: {failures}; client connections per "
        f"worker: {'/'.join(map(str, h.connections_per_worker)) or 'unknown'}",
        f"  stored: {s['incidents']:,} incidents for {h.answered_201:,} answers 201 "
        f"(timed slices), {s['created_events']:,} created + {s['assignment_events']:,} "
        f"assignment events, {s['outbox']:,} outbox rows, {s['idempotency_records']:,} "
        f"idempotency records, {s['gcj02']:,} sent as GCJ-02",
        "  routed by rule: "
        + ", ".join(f"{k} {v:,}" for k, v in s["by_rule"].items())
        + f"; unrouted {s['unrouted']}",
        f"  checked by tracking number against ST_Covers: {s['checked']:,} of "
        f"{h.answered_201:,} answered; missing or doubled {s['missing']}, in another cell "
        f"{s['wrong_cell']}",
        "  " + f.machine.line(),
    ]
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "bench": "intake",
                "clients": args.clients,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "warm_up_s": args.warm_up,
                "server": srv,
                "http": h.summary(),
                "baseline": b.summary(),
                "ratio": round(f.ratio, 3),
                "statuses": {str(k): v for k, v in h.statuses.items()},
                "connections_per_worker": h.connections_per_worker,
                "client_failures": dict(h.failures),
                "answered_201": h.answered_201,
                "stored": s,
                "preloaded": f.preloaded,
                "targets": ok,
                "machine": f.machine.as_json(),
                "correct": f.correct(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
