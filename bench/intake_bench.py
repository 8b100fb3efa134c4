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
(bench.machine.MachineLoad). Progress goes to stderr; the figures table and one JSON line
go to stdout; the exit status is 1 when a correctness check fails (an error answer, a
lost, unrouted or misrouted report).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from bench.common import (
    Clock,
    checkpoint,
    free_port,
    refuse_shared_databases,
    run_on_uvloop,
)
from bench.intake_clients import (
    run_slices,
    server_description,
    start_intake_server,
    stop_intake_server,
    summed,
)
from bench.intake_data import load_inputs, preload, prepare_database
from bench.intake_report import Figures, print_figures
from bench.machine import MachineLoad
from core.database import create_bulk_engine
from demo.seed import DEFAULT_SEED

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_intake"


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
                run_slices(args, engine, server, port, categories, points, tiers, marks, say)
            )
            machine = MachineLoad(
                http.seconds + baseline.seconds,
                load_start,
                os.getloadavg(),
                summed(http.cpu_s, baseline.cpu_s),
            )
        finally:
            stop_intake_server(server, say)
    finally:
        engine.dispose()
    figures = Figures(http, baseline, stored, server_description(args), machine, args.preload)
    print_figures(figures, args)
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


if __name__ == "__main__":
    sys.exit(main())
