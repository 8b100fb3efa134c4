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
other processes used more than a quarter of a core (bench.common.MachineWatch). Progress
goes to stderr; the figures table and one JSON line go to stdout; the exit status is 1
when a correctness check fails (a bin count that differs from a direct count, an error
answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    ROOT,
    Clock,
    free_port,
    gridgov_command,
    percentile,
    refuse_shared_databases,
    run_gridgov,
    start_server,
    stop_server,
    uvicorn_command,
)
from bench.district import BENCH_CRS, District, make_district
from bench.district_load import load_register, prepare_cells_file
from bench.machine import MachineWatch
from gis.crs import STORAGE_SRID, transformer
from gis.database import create_bulk_engine, ensure_database

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_tiles"
DEFAULT_WORK_DIR = Path("/tmp/gridgov-bench")
DEFAULT_SEED = 20261124
# Outside the repository: a virtualenv there would be swept into the checkout's tools
# (ruff, pytest collection, git status) and its pins clash with ours.
TIPG_VENV = Path(
    os.environ.get("GRIDGOV_TIPG_VENV") or Path.home() / ".cache" / "gridgov-bench" / "tipg-venv"
)
TIPG_REQUIREMENT = "tipg>=1.0,<2"
CACHES = ("off", "on")
ZOOMS = (12, 13, 14, 15, 16)
BASEMAP_ZOOMS = (10, 12, 14, 16)
BASEMAP_TARGET_MS = 10.0
LAYER_NAMES = ("incidents", "cells", "basemap")
P50_TARGET_MS, P99_TARGET_MS, TARGET_ZOOM = 8.0, 30.0, 14
HALF_WORLD = 20037508.342789244
LOAD_CHUNK = 100_000
STAGING = "bench_tiles_staging"
SECONDS_PER_DAY = 86_400
# Shown on the map: the rule of maps/tiles.py, as a CQL2 filter for tipg (its timestamp is
# the same cut-off: the China midnight RECENTLY_CLOSED_DAYS days before today).
TIPG_INCIDENT_FILTER = (
    "status NOT IN ('rejected','duplicate') AND "
    "(closed_at IS NULL OR closed_at >= TIMESTAMP('{since}'))"
)
TIPG_CELL_FILTER = "active_from IS NOT NULL AND active_to IS NULL"

# Status mix of the synthetic history (see _make_incidents): most old reports are closed.
OPEN_STATUSES = ("submitted", "assigned", "accepted", "in_progress")
OPEN_SHARES = (0.05, 0.45, 0.2, 0.3)


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


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "wipes its register and incidents")
    _prepare_database(args, say)
    engine = create_bulk_engine(args.database_url)
    try:
        district = make_district(args.cells, args.seed)
        if args.reload or not _loaded(engine, args):
            _load(engine, district, args, say)
        else:
            say(f"reusing the loaded district ({args.cells:,} cells, {args.incidents:,} incidents)")
        if args.reload or not _basemap_loaded(engine):
            _load_basemap(engine, district, say)
        mismatches = _check_bins(engine, say)
        shown = _count_shown(engine)
        tiles = _pick_tiles(engine, args, say)
        since = _shown_since(engine)
    finally:
        engine.dispose()
    tipg_python = _ensure_tipg(say)
    watch = MachineWatch(make_url(args.database_url).database or "")
    runs = asyncio.run(_measure_all(args, tiles, tipg_python, since, watch, say))
    _print_figures(args, runs, mismatches, shown, watch)
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


def _gridgov_env(args: argparse.Namespace) -> dict[str, str]:
    return {**os.environ, "GRIDGOV_DATABASE_URL": args.database_url}


def _prepare_database(args: argparse.Namespace, say: Clock) -> None:
    """Create and migrate the database, categories synced (`gridgov db upgrade`)."""
    ensure_database(args.database_url)
    say(f"migrating {make_url(args.database_url).database}")
    run_gridgov(_gridgov_env(args), "db", "upgrade")


# ---------------------------------------------------------------------------- loading


def _loaded(engine: Engine, args: argparse.Namespace) -> bool:
    """Whether a previous run left this district and this many incidents."""
    with engine.connect() as conn:
        cells = conn.execute(
            text("SELECT count(*) FROM grid_cells WHERE active_to IS NULL")
        ).scalar_one()
        incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    return cells == args.cells and incidents == args.incidents


def _load(engine: Engine, district: District, args: argparse.Namespace, say: Clock) -> None:
    """The register (regions, cells in force, a worker per cell) through the register
    bench's loader, then the incidents."""
    cells_path = prepare_cells_file(district, args.work_dir, args.cells, args.seed, say)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents, outbox RESTART IDENTITY CASCADE"))
    load_register(engine, district, cells_path, say)
    _load_incidents(engine, district, args, say)


def _make_incidents(district: District, args: argparse.Namespace, categories: list[str]):
    """Columns of the synthetic history, oldest first: a point well inside a random cell,
    a category, an age uniform over --days, and a status by age (fresh ones open; older ones mostly
    closed a few days after being made, some left open or resolved, some rejected or
    duplicate)."""
    rng = np.random.default_rng(args.seed + 3)
    n = args.incidents
    cells = district.cells()
    pick = rng.integers(0, len(cells), n)
    ix, iy = cells["ix"].to_numpy()[pick], cells["iy"].to_numpy()[pick]
    a, b, c, d = district.corners(ix, iy)
    u, v = rng.uniform(0.05, 0.95, (n, 1)), rng.uniform(0.05, 0.95, (n, 1))
    xy = (1 - u) * (1 - v) * a + u * (1 - v) * b + u * v * c + (1 - u) * v * d
    lon, lat = transformer(BENCH_CRS, STORAGE_SRID).transform(xy[:, 0], xy[:, 1])

    age_s = rng.uniform(0, args.days * SECONDS_PER_DAY, n)
    status = np.full(n, "closed", dtype=object)
    roll = rng.random(n)
    old = age_s >= 3 * SECONDS_PER_DAY
    status[~old] = rng.choice(OPEN_STATUSES, size=int((~old).sum()), p=OPEN_SHARES)
    status[old & (roll < 0.03)] = "in_progress"  # an overdue backlog
    status[old & (roll >= 0.03) & (roll < 0.05)] = "assigned"
    status[old & (roll >= 0.05) & (roll < 0.07)] = "resolved"
    status[(roll >= 0.95) & (roll < 0.98)] = "rejected"
    status[roll >= 0.98] = "duplicate"
    closed = status == "closed"
    # Closed 0.5 to 10 days after being made, never in the future.
    closed_age_s = age_s - rng.uniform(0.5, 10, n) * SECONDS_PER_DAY
    closed_age_s = np.where(closed, np.maximum(closed_age_s, 60.0), -1)
    columns = {
        "cell_code": cells["code"].to_numpy()[pick],
        "lon": np.asarray(lon),
        "lat": np.asarray(lat),
        "category": rng.choice(np.array(categories), size=n),
        "status": status,
        "age_s": age_s.astype(np.int64),
        "closed_age_s": closed_age_s.astype(np.int64),
    }
    # Oldest first, as reports arrive: the table's pages are in time order, as in life.
    order = np.argsort(-age_s, kind="stable")
    return {name: values[order] for name, values in columns.items()}


def _floats(values: np.ndarray):
    """A float8 column for gis.pgcopy's binary COPY."""
    from gis.pgcopy import CopyField

    n = len(values)
    payload = np.frombuffer(values.astype(">f8").tobytes(), np.uint8)
    return CopyField(np.full(n, 8, dtype=np.int64), payload, np.arange(n + 1) * 8)


def _load_incidents(
    engine: Engine, district: District, args: argparse.Namespace, say: Clock
) -> None:
    """Binary COPY of the generated columns into an unlogged staging table, then INSERT …
    SELECT into incidents a chunk at a time: every trigger (public point, count bins)
    and index works as it does for intake."""
    import pandas as pd

    from gis.pgcopy import CopyField, copy_binary, text_codec

    with engine.connect() as conn:
        categories = (
            conn.execute(
                text(
                    "SELECT code FROM incident_categories WHERE active AND NOT is_emergency "
                    "ORDER BY sort_order"
                )
            )
            .scalars()
            .all()
        )
    say(f"generating {args.incidents:,} incidents over {args.days} days")
    columns = _make_incidents(district, args, list(categories))
    n = args.incidents
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        conn.execute(
            text(f"""
            CREATE UNLOGGED TABLE {STAGING} (n integer, cell_code text, lon float8,
                lat float8, category text, status text, age_s bigint, closed_age_s bigint)
        """)
        )
        raw = conn.connection.dbapi_connection
        codec = text_codec(raw)
        say(f"binary COPY of {n:,} rows into {STAGING}")
        copy_binary(
            raw,
            f"COPY {STAGING} FROM STDIN WITH (FORMAT binary)",
            [
                CopyField.integers(np.arange(n)),
                CopyField.text(pd.Series(columns["cell_code"]), codec),
                _floats(columns["lon"]),
                _floats(columns["lat"]),
                CopyField.text(pd.Series(columns["category"]), codec),
                CopyField.text(pd.Series(columns["status"]), codec),
                CopyField.integers(columns["age_s"], width=8),
                CopyField.integers(columns["closed_age_s"], columns["closed_age_s"] >= 0, width=8),
            ],
        )
    started = time.perf_counter()
    for first in range(0, n, LOAD_CHUNK):
        with engine.begin() as conn:
            conn.execute(
                text(f"""
                INSERT INTO incidents (tracking_number, secret_hash, category_code, status,
                    location, input_lon, input_lat, input_system, cell_id, region_id,
                    routing_rule, responsible_level, channel, created_at, updated_at,
                    closed_at)
                SELECT 'B' || lpad(s.n::text, 9, '0'), 'bench', s.category, s.status,
                    ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.lon, s.lat, 'wgs84',
                    c.id, c.community_id, 'inside', 'primary', 'web',
                    now() - make_interval(secs => s.age_s),
                    now() - make_interval(secs => coalesce(s.closed_age_s, s.age_s)),
                    now() - make_interval(secs => s.closed_age_s)
                FROM {STAGING} s
                JOIN grid_cells c ON c.code = s.cell_code AND c.active_to IS NULL
                WHERE s.n >= :first AND s.n < :last
                ORDER BY s.n
            """),
                {"first": first, "last": first + LOAD_CHUNK},
            )
        done = min(first + LOAD_CHUNK, n)
        rate = done / (time.perf_counter() - started)
        say(f"  incidents: {done:,} / {n:,} inserted ({rate:,.0f}/s, triggers and indexes)")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {STAGING}"))
    say("VACUUM ANALYZE")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents, incident_tile_bins, grid_cells, regions"))


def _layers(args: argparse.Namespace) -> list[str]:
    """The layers to time, in the table's order."""
    wanted = {name.strip() for name in args.layers.split(",")}
    return [name for name in LAYER_NAMES if name in wanted]


def _zooms(layer: str) -> tuple[int, ...]:
    return BASEMAP_ZOOMS if layer == "basemap" else ZOOMS


def _basemap_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM basemap.roads")).scalar_one())


ROAD_SEGMENT_CELLS = 10  # a road is cut into 1 km pieces, as real road data is


def _road_class(line: int) -> str:
    if line % 20 == 0:
        return "primary"
    if line % 10 == 0:
        return "secondary"
    if line % 5 == 0:
        return "tertiary"
    return "residential"


def _load_basemap(engine: Engine, district: District, say: Clock) -> None:
    """A synthetic base map over the district, in BENCH_CRS moved to 4326 by PostGIS: a
    named road along every grid line (major ones every 5, 10 and 20 lines), a compound
    in every other cell, a park in every seventh, a river across, a place per cell."""
    from shapely import LineString, Polygon

    nodes, side = district.nodes, district.side
    roads, areas, places = [], [], []
    for line in range(side + 1):
        for first in range(0, side, ROAD_SEGMENT_CELLS):
            span = slice(first, first + ROAD_SEGMENT_CELLS + 1)
            for axis, points in (("东西", nodes[span, line]), ("南北", nodes[line, span])):
                roads.append(
                    {
                        "id": f"{axis}{line}-{first}",
                        "class": _road_class(line),
                        "name": f"{axis}{line}路",
                        "wkt": LineString(points).wkt,
                    }
                )
    cells = district.cells()
    kinds = (
        "school",
        "market",
        "hospital",
        "clinic",
        "fire_station",
        "police",
        "government",
        "transit",
        "community_centre",
        "other",
    )
    for n, (code, cell) in enumerate(zip(cells["code"], cells.geometry, strict=True)):
        if n % 2 == 0:
            areas.append(
                (
                    "compounds",
                    {
                        "id": code,
                        "kind": None,
                        "name": f"小区{code[-6:]}",
                        "wkt": cell.buffer(-15).wkt,
                    },
                )
            )
        if n % 7 == 0:
            areas.append(
                (
                    "green",
                    {
                        "id": code,
                        "kind": "park",
                        "name": f"公园{code[-6:]}",
                        "wkt": cell.buffer(-30).wkt,
                    },
                )
            )
        spot = cell.centroid
        places.append(
            {"id": code, "kind": kinds[n % len(kinds)], "name": f"地点{code[-6:]}", "wkt": spot.wkt}
        )
    row = side // 3
    river = Polygon([*nodes[:, row], *(nodes[::-1, row] + (0.0, 40.0))])
    areas.append(("water", {"id": "river", "kind": "river", "name": "基准河", "wkt": river.wkt}))
    geom = f"ST_Transform(ST_GeomFromText(:wkt, {BENCH_CRS}), 4326)"
    say(f"loading the base map: {len(roads):,} roads, {len(areas):,} areas, {len(places):,} places")
    with engine.begin() as conn:
        for table in ("roads", "water", "green", "compounds", "places"):
            conn.execute(text(f"DELETE FROM basemap.{table} WHERE source = 'file'"))
        conn.execute(
            text(
                "INSERT INTO basemap.roads (source, external_id, class, name, geom) "
                f"VALUES ('file', :id, :class, :name, ST_Multi({geom}))"
            ),
            roads,
        )
        for table in ("compounds", "green", "water"):
            rows = [r for t, r in areas if t == table]
            kind = "" if table == "compounds" else "kind, "
            conn.execute(
                text(
                    f"INSERT INTO basemap.{table} (source, external_id, {kind}name, geom) "
                    f"VALUES ('file', :id, {':kind, ' if kind else ''}:name, ST_Multi({geom}))"
                ),
                rows,
            )
        conn.execute(
            text(
                "INSERT INTO basemap.places (source, external_id, kind, name, geom) "
                f"VALUES ('file', :id, :kind, :name, {geom})"
            ),
            places,
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text(
                "VACUUM ANALYZE basemap.roads, basemap.water, basemap.green, "
                "basemap.compounds, basemap.places"
            )
        )


def _check_bins(engine: Engine, say: Clock) -> int:
    """Rows where the trigger-kept bins differ from a direct count of the incidents."""
    say("checking the count bins against a direct count")
    with engine.connect() as conn:
        return conn.execute(
            text("""
            WITH direct AS (
                SELECT k.zoom, k.closed_on, k.quadkey, i.status::text AS status,
                       count(*)::integer AS incidents
                FROM incidents i CROSS JOIN LATERAL
                     incident_tile_bin_keys(i.public_point_3857, i.status, i.closed_at) k
                GROUP BY 1, 2, 3, 4
            ), kept AS (
                SELECT zoom, closed_on, quadkey, status::text, incidents
                FROM incident_tile_bins
            )
            SELECT count(*) FROM ((TABLE direct EXCEPT TABLE kept)
                                  UNION ALL (TABLE kept EXCEPT TABLE direct)) d
        """)
        ).scalar_one()


def _count_shown(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text("""
            SELECT count(*),
                   count(*) FILTER (WHERE closed_at IS NULL),
                   (SELECT sum(incidents) FROM incident_tile_bins b
                    WHERE b.zoom = 16 AND (b.closed_on = 'infinity'
                       OR b.closed_on >= (now() AT TIME ZONE 'Asia/Shanghai')::date - 30))
            FROM incidents
            WHERE status NOT IN ('rejected', 'duplicate')
              AND (closed_at IS NULL OR closed_at >= (date_trunc('day', now() AT TIME ZONE
                   'Asia/Shanghai') - interval '30 days') AT TIME ZONE 'Asia/Shanghai')
        """)
        ).one()
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    return {"incidents": total, "shown": row[0], "shown_open": row[1], "bins_sum": int(row[2])}


def _shown_since(engine: Engine) -> str:
    """The first closing time still shown, as an ISO timestamp in UTC (for tipg's CQL2)."""
    with engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT to_char(((date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                             - interval '30 days') AT TIME ZONE 'Asia/Shanghai')
                           AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        """)
        ).scalar_one()


def _pick_tiles(
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
            for z in _zooms(layer):
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


# ---------------------------------------------------------------------------- servers


def _ensure_tipg(say: Clock) -> Path:
    """tipg in its own virtualenv outside the repository (its pins may clash with ours),
    made on first use."""
    if TIPG_VENV.resolve().is_relative_to(ROOT):
        raise SystemExit(
            f"GRIDGOV_TIPG_VENV {TIPG_VENV} is inside the repository: "
            "put tipg's virtualenv outside it (the default is under ~/.cache)"
        )
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        say(f"creating {TIPG_VENV} and installing {TIPG_REQUIREMENT} from PyPI")
        TIPG_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import tipg, uvicorn"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", TIPG_REQUIREMENT, "uvicorn"],
            check=True,
            stdout=sys.stderr,
        )
    version = subprocess.run(
        [str(python), "-c", "import tipg; print(tipg.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    say(f"tipg {version} in {TIPG_VENV}")
    return python


def _tipg_env(args: argparse.Namespace) -> dict[str, str]:
    """tipg sees only the bench tables, with our tile buffer and no feature cap below
    what a tile holds (its default cap of 10,000 would cut dense tiles short); with its
    cache on, the same TTLs as gridgov's tile cache for the same layers."""
    from api.routes.tiles import CACHE_TTL

    url = make_url(args.database_url)
    return {
        "TIPG_BENCH_CACHE_TTL": json.dumps(
            {"public.incidents": CACHE_TTL["incidents"], "*": CACHE_TTL["cells"]}
        ),
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["public", "basemap"]',
        "TIPG_DB_TABLES": '["public.incidents", "public.grid_cells", "public.buildings", '
        '"basemap.roads", "basemap.water", "basemap.green", "basemap.compounds", '
        '"basemap.places"]',
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
        "TIPG_TILE_BUFFER": "64",
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
        "TIPG_DB_MAX_CONN_SIZE": "10",
    }


def _start(name: str, command: list[str], env: dict[str, str], health: str, say: Clock):
    """Start one server and wait (up to 90 s) until `health` answers."""
    say(f"starting {name}")
    server = start_server(
        command, env, health, name=name, within_s=90, poll_s=0.3, request_timeout_s=2
    )
    say(f"{name} is up")
    return server


def _stop(name: str, server: subprocess.Popen, say: Clock) -> None:
    """Stop one server started by _start."""
    stop_server(server)
    say(f"{name} stopped")


def _servers(
    args: argparse.Namespace, tipg_python: Path, say: Clock
) -> dict[tuple[str, str], tuple[subprocess.Popen, int]]:
    """Four servers, (name, cache) -> (process, port): gridgov and tipg each with the
    cache off and on; uvicorn with --workers each, access log off, on 127.0.0.1."""
    workers = ("--workers", str(args.workers))
    port = {(name, cache): free_port() for name in ("gridgov", "tipg") for cache in CACHES}
    specs = {
        ("gridgov", "off"): (
            uvicorn_command(
                port[("gridgov", "off")], "bench.gridgov_uncached:create_app", "--factory", *workers
            ),
            _gridgov_env(args),
            "/health",
        ),
        ("gridgov", "on"): (
            gridgov_command(port[("gridgov", "on")], *workers),
            _gridgov_env(args),
            "/health",
        ),
        ("tipg", "off"): (
            uvicorn_command(port[("tipg", "off")], "tipg.main:app", *workers, python=tipg_python),
            _tipg_env(args),
            "/collections",
        ),
        ("tipg", "on"): (
            uvicorn_command(
                port[("tipg", "on")],
                "tipg_cache:app",
                "--app-dir",
                str(ROOT / "bench"),
                *workers,
                python=tipg_python,
            ),
            _tipg_env(args),
            "/collections",
        ),
    }
    started: dict[tuple[str, str], tuple[subprocess.Popen, int]] = {}
    try:
        for (name, cache), (command, env, health) in specs.items():
            server = _start(
                f"{name} (cache {cache})",
                command,
                env,
                f"http://127.0.0.1:{port[(name, cache)]}{health}",
                say,
            )
            started[(name, cache)] = (server, port[(name, cache)])
    except BaseException:
        for (name, cache), (server, _port) in started.items():
            _stop(f"{name} (cache {cache})", server, say)
        raise
    return started


def _basemap_tipg_queries(z: int) -> list[tuple[str, dict[str, str]]]:
    """tipg's requests for what one base-map tile holds at zoom z: a table each, the same
    fields, the same road classes and place kinds (maps/basemap_tiles.py)."""
    from maps import basemap_tiles as bt

    def quoted(values: list[str]) -> str:
        return ", ".join(f"'{v}'" for v in values)

    queries = [
        ("basemap.water", {"properties": "kind,name"}),
        ("basemap.green", {"properties": "kind,name"}),
        (
            "basemap.roads",
            {"properties": "class,name", "filter": f"class IN ({quoted(bt.road_classes(z))})"},
        ),
    ]
    if z >= bt.COMPOUND_ZOOM:
        queries.append(("basemap.compounds", {"properties": "name"}))
    if z >= bt.CELL_ZOOM:
        queries.append(
            ("public.grid_cells", {"properties": "code,name", "filter": TIPG_CELL_FILTER})
        )
    if z >= bt.PLACE_ZOOM:
        queries.append(("basemap.places", {"properties": "kind,name"}))
    elif z >= bt.MAJOR_PLACE_ZOOM:
        queries.append(
            (
                "basemap.places",
                {"properties": "kind,name", "filter": f"kind IN ({quoted(bt.MAJOR_PLACE_KINDS)})"},
            )
        )
    if z >= bt.BUILDING_ZOOM:
        queries.append(("public.buildings", {"properties": "address"}))
    column = {"public.grid_cells": "boundary_3857", "public.buildings": "footprint_3857"}
    for collection, query in queries:
        query["geom-column"] = column.get(collection, "geom_3857")
        if "filter" in query:
            query["filter-lang"] = "cql2-text"
    return queries


def _urls(
    server: str, port: int, layer: str, z: int, tiles, since: str
) -> list[str | tuple[str, ...]]:
    """The tile URLs of one server: gridgov's public route; tipg's OGC Tiles route on the
    same table and 3857 column, the same fields and the same rows (CQL2 filter). A base-map
    tile from tipg is a group of requests, one per table, timed together."""
    from urllib.parse import urlencode

    if server == "gridgov":
        return [f"http://127.0.0.1:{port}/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in tiles]
    base = f"http://127.0.0.1:{port}/collections"
    if layer == "basemap":
        return [
            tuple(
                f"{base}/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?{urlencode(query)}"
                for collection, query in _basemap_tipg_queries(z)
            )
            for x, y in tiles
        ]

    if layer == "incidents":
        query = {
            "geom-column": "public_point_3857",
            "properties": "tracking_number,category_code,status,created_at",
            "filter": TIPG_INCIDENT_FILTER.format(since=since),
            "filter-lang": "cql2-text",
        }
        collection = "public.incidents"
    else:
        query = {
            "geom-column": "boundary_3857",
            "properties": "code,name",
            "filter": TIPG_CELL_FILTER,
            "filter-lang": "cql2-text",
        }
        collection = "public.grid_cells"
    qs = urlencode(query)
    return [
        f"http://127.0.0.1:{port}/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?{qs}"
        for x, y in tiles
    ]


async def _time(
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


async def _measure_all(
    args, tiles, tipg_python: Path, since: str, watch: MachineWatch, say: Clock
) -> list[Run]:
    """Every layer and zoom on both servers, caches off then on; the server going first
    alternates from one row to the next. The timed part is watched (machine load)."""
    import aiohttp

    servers = _servers(args, tipg_python, say)
    for server, _port in servers.values():
        watch.add(server.pid)
    runs: list[Run] = []
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            order = ["gridgov", "tipg"]
            with watch:
                for layer in _layers(args):
                    for z in _zooms(layer):
                        for cache in CACHES:
                            for server in order:
                                port = servers[(server, cache)][1]
                                run = Run(server, layer, z, len(tiles[layer][z]), cache)
                                urls = _urls(server, port, layer, z, tiles[layer][z], since)
                                await _time(
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
            _stop(f"{name} (cache {cache})", server, say)
    return runs


def _same_features(layer: str, z: int) -> bool:
    """Whether gridgov and tipg serve the same features in this row (see the module's
    docstring): cells always, incidents from the detail zoom, the base map never."""
    from maps.tiles import INCIDENT_DETAIL_ZOOM

    return layer == "cells" or (layer == "incidents" and z >= INCIDENT_DETAIL_ZOOM)


# ---------------------------------------------------------------------------- report


def _print_figures(
    args: argparse.Namespace,
    runs: list[Run],
    mismatches: int,
    shown: dict[str, int],
    watch: MachineWatch,
) -> None:
    by_key = {(r.server, r.cache, r.layer, r.zoom): r for r in runs}
    load = watch.load
    print(
        f"\nVector tiles: {shown['incidents']:,} incidents ({shown['shown']:,} shown on the "
        f"map, {shown['shown_open']:,} of them open), {args.cells:,} cells; "
        f"{args.workers} uvicorn worker(s) per server; bins vs direct count: "
        f"{mismatches} differing rows, zoom-16 bins sum to {shown['bins_sum']:,}.\n"
        f"first: each tile once, one request at a time; then {args.requests} requests per "
        f"row (or {args.max_seconds:g} s) cycling through the tiles, {args.concurrency} at "
        f"a time (p50, p99, tiles/s); KB: mean tile size. 'same': both serve the same "
        f"features (only those rows are compared)."
    )
    header = (
        f"{'cache':<6}{'layer':<10}{'z':>3}{'tiles':>6} {'same':>5} | {'gridgov first':>13}"
        f"{'p50':>7}{'p99':>7}{'tiles/s':>8}{'KB':>8} | {'tipg first':>10}{'p50':>8}"
        f"{'p99':>8}{'tiles/s':>8}{'KB':>8} | {'p50 tipg/gridgov':>16}"
    )
    print(header)
    print("-" * len(header))
    for cache in CACHES:
        for layer in _layers(args):
            for z in _zooms(layer):
                g, t = by_key[("gridgov", cache, layer, z)], by_key[("tipg", cache, layer, z)]
                gs, ts = g.summary(), t.summary()
                ratio = ts["p50_ms"] / gs["p50_ms"] if gs["p50_ms"] else math.nan
                same = (
                    "yes"
                    if _same_features(layer, z)
                    else ("counts" if layer == "incidents" else "no")
                )
                print(
                    f"{cache:<6}{layer:<10}{z:>3}{g.tiles:>6} {same:>5} | "
                    f"{gs['first_p50_ms']:>13.1f}{gs['p50_ms']:>7.1f}{gs['p99_ms']:>7.1f}"
                    f"{gs['tiles_per_s']:>8.0f}{gs['mean_kb']:>8.1f} | "
                    f"{ts['first_p50_ms']:>10.1f}{ts['p50_ms']:>8.1f}{ts['p99_ms']:>8.1f}"
                    f"{ts['tiles_per_s']:>8.0f}{ts['mean_kb']:>8.1f} | "
                    + (f"{ratio:>15.1f}x" if same == "yes" else f"{'(not compared)':>16}")
                )
    checks: dict[str, bool] = {}
    for layer in ("incidents", "cells"):
        if ("gridgov", "off", layer, TARGET_ZOOM) in by_key:
            uncached = by_key[("gridgov", "off", layer, TARGET_ZOOM)]
            checks[f"uncached {layer} z{TARGET_ZOOM} p50 <= {P50_TARGET_MS:g} ms"] = (
                uncached.percentile(50) <= P50_TARGET_MS
            )
            checks[f"uncached {layer} z{TARGET_ZOOM} p99 <= {P99_TARGET_MS:g} ms"] = (
                uncached.percentile(99) <= P99_TARGET_MS
            )
    if ("gridgov", "off", "basemap", TARGET_ZOOM) in by_key:
        cut = by_key[("gridgov", "off", "basemap", TARGET_ZOOM)].percentile(50)
        checks[f"uncached basemap z{TARGET_ZOOM} p50 <= {BASEMAP_TARGET_MS:g} ms"] = (
            cut <= BASEMAP_TARGET_MS
        )
        print(
            "\nbase-map bytes per tile by zoom (gridgov one tile; tipg its tables' tiles): "
            + ", ".join(
                f"z{z} {by_key[('gridgov', 'off', 'basemap', z)].summary()['mean_kb']:.1f} "
                f"KB / {by_key[('tipg', 'off', 'basemap', z)].summary()['mean_kb']:.1f} KB"
                for z in BASEMAP_ZOOMS
            )
        )
    for cache in CACHES:
        compared = [
            (layer, z) for layer in _layers(args) for z in _zooms(layer) if _same_features(layer, z)
        ]
        if compared:
            checks[
                f"cache {cache} vs {cache}: p50 below tipg's on every row with the same features"
            ] = all(
                by_key[("gridgov", cache, layer, z)].percentile(50)
                < by_key[("tipg", cache, layer, z)].percentile(50)
                for layer, z in compared
            )
    print()
    print(load.line())
    for name, ok in checks.items():
        print(f"  {load.verdict(ok):<17}  {name}")
    print(
        json.dumps(
            {
                "incidents": shown,
                "cells": args.cells,
                "concurrency": args.concurrency,
                "workers": args.workers,
                "bin_mismatches": mismatches,
                "machine": load.as_json(),
                "runs": [
                    r.summary() | {"same_features": _same_features(r.layer, r.zoom)} for r in runs
                ],
                "targets": {name: load.verdict(ok) for name, ok in checks.items()},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
