"""Vector-tile benchmark: the public incident and cell layers and the base map of gridgov
beside tipg, on the same tables in the same run, over a district of 10,000 cells and
1,000,000 incidents (and a synthetic base map over it: a road on every grid line, a
compound in every other cell, parks, a river, a place per cell).

    .venv/bin/python -m bench.tiles_bench [--incidents 1000000] [--cells 10000]
        [--tiles 48] [--requests 400] [--concurrency 4] [--workers 1] [--reload]
        [--layers incidents,cells,basemap]

Like is compared with like (issue 19): each row is timed with the caches OFF on both
sides (gridgov's tile cache replaced by one that keeps nothing, bench/gridgov_uncached.py;
tipg as it comes) and with the caches ON on both sides (gridgov's own; tipg behind the
same kind of per-URL cache with the same TTLs, bench/tipg_cache.py). gridgov is called
faster than tipg only on rows where both serve the same features: cells at every zoom,
incidents from z15 (below it gridgov serves counts per 1/16 tile, tipg every point: those
rows are shown, marked "counts", never compared), and not the base map (tipg cannot
simplify nor drop small areas; its figure is one request per table the tile holds).

Targets (issue 19): uncached z14 incident and cell tiles p50 <= 8 ms and p99 <= 30 ms
under the bench's concurrency, and faster than tipg on the same features, caches off and
on; (issue 14) an uncached base-map z14 tile p50 <= 10 ms. tipg is installed outside the
repository, in GRIDGOV_TIPG_VENV (default ~/.cache/gridgov-bench/tipg-venv). The
machine's load during the run is printed, and no target is called met or missed when
other processes used more than a quarter of a core (bench.machine.MachineWatch). Progress
goes to stderr; the figures table and one JSON line go to stdout; the exit status is 1
when a correctness check fails (a bin count that differs from a direct count, an error
answer).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.common import Clock, refuse_shared_databases
from bench.district import make_district
from bench.machine import MachineWatch
from bench.tiles_data import (
    basemap_loaded,
    check_bins,
    count_shown,
    district_loaded,
    load_basemap,
    load_district,
    prepare_database,
    shown_since,
)
from bench.tiles_report import print_figures
from bench.tiles_servers import ensure_tipg
from bench.tiles_timing import LAYER_NAMES, measure_all, pick_tiles
from core.database import create_bulk_engine
from demo.seed import DEFAULT_SEED

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_tiles"
DEFAULT_WORK_DIR = Path("/tmp/gridgov-bench")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "wipes its register and incidents")
    prepare_database(args, say)
    engine = create_bulk_engine(args.database_url)
    try:
        district = make_district(args.cells, args.seed)
        if args.reload or not district_loaded(engine, args):
            load_district(engine, district, args, say)
        else:
            say(f"reusing the loaded district ({args.cells:,} cells, {args.incidents:,} incidents)")
        if args.reload or not basemap_loaded(engine):
            load_basemap(engine, district, say)
        mismatches = check_bins(engine, say)
        shown = count_shown(engine)
        tiles = pick_tiles(engine, args, say)
        since = shown_since(engine)
    finally:
        engine.dispose()
    tipg_python = ensure_tipg(say)
    watch = MachineWatch(make_url(args.database_url).database or "")
    runs = asyncio.run(measure_all(args, tiles, tipg_python, since, watch, say))
    print_figures(args, runs, mismatches, shown, watch)
    correct = mismatches == 0 and shown["bins_sum"] == shown["shown"]
    return 0 if correct and not any(r.errors for r in runs) else 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tiles_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument(
        "--cells", type=int, default=10_000, help="a square of a multiple of 10 (100 communities)"
    )
    parser.add_argument(
        "--days", type=int, default=730, help="the incidents are made over this many days"
    )
    parser.add_argument("--tiles", type=int, default=48, help="tiles with data per zoom")
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per server, layer and zoom"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="clients at once")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=45.0,
        help="a row stops sending after this long, even short of --requests",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes of each server"
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="the bench's own database, created and migrated on demand",
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--reload", action="store_true", help="load the district again even if it is there"
    )
    parser.add_argument(
        "--layers", default=",".join(LAYER_NAMES), help="which rows to time, comma-separated"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
