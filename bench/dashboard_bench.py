"""Coverage map benchmark: the dashboard's endpoints on a 10,000-cell district with a
year of reports, ratings and patrol visits, beside same-run baselines.

    .venv/bin/python -m bench.dashboard_bench [--cells 10000] [--buildings 200000]
        [--reports 1000000] [--repeat 20] [--database-url URL] [--keep] [--reuse]
        [--suggested-index]

It loads its own database (gridgov_bench_dashboard; a name without "bench" is refused,
because it empties the register): 10 streets of 10 communities over bench.district's
cells, a primary worker for 95% of the cells, buildings, reports over 400 days (a share
still open, most accepted within a day, a third or so fire hazards), ratings for 60% of
the closed ones and patrol visits to half the buildings in the last 60 days; then
VACUUM ANALYZE, as autovacuum would leave it. --keep leaves it loaded and --reuse times
it again without loading; --suggested-index times with an index the migrations lack.

Each endpoint is asked `--repeat` times over HTTP as a district manager, from this
process, of the server running in its own process (uvicorn on 127.0.0.1, one worker,
the product's app factory: client and server never share an interpreter or its GIL), in
alternating order with the baselines: the public /cells page of the same viewport (plain
cells, no figures) and /statistics/staff per street over a year (the other aggregate
over the whole area). Target (issue 19): the district level at 10,000 cells and
1,000,000 reports p50 <= 200 ms. The machine's load while timing is printed, and no
verdict is given when other processes used more than a quarter of a core
(bench.machine.MachineWatch). Progress goes to stderr; the figures table and one JSON
line go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import sys
import time
from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import httpx
import numpy as np
import shapely
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    free_port,
    gridgov_command,
    migrate,
    percentile,
    refuse_shared_databases,
    start_server,
    stop_server,
)
from bench.district import (
    BENCH_CRS,
    CITY_CODE,
    COMMUNITIES_PER_SIDE,
    DISTRICT_CODE,
    District,
    community_code,
    make_buildings,
    make_district,
)
from bench.district_load import WORKER_PASSWORD, insert_workers, reset_register
from bench.machine import MachineLoad, MachineWatch
from core.database import create_bulk_engine
from gis.crs import STORAGE_SRID

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_dashboard"
DEFAULT_SEED = 20261125
UNSTAFFED_SHARE = 0.05  # cells whose primary worker is taken away
# An index the coverage map would use (not in the migrations): counting a district's
# buildings and their visits from the index alone, without reading the buildings.
SUGGESTED_INDEX = "buildings (cell_id) INCLUDE (id)"
DISTRICT_TARGET_MS = 200.0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    from incidents.categories import sync_categories

    refuse_shared_databases(args.database_url, "wipes its register")
    migrate(args.database_url, say)
    district = make_district(args.cells, args.seed)
    engine = create_bulk_engine(args.database_url)
    try:
        with engine.begin() as conn:
            sync_categories(conn)
        ids = _existing(engine) if args.reuse else _load(engine, district, args, say)
        if args.suggested_index:
            _create_suggested_index(engine, say)
        try:
            figures, machine = asyncio.run(_time_endpoints(args, district, ids, say))
        finally:
            if args.suggested_index:
                with engine.begin() as conn:
                    conn.execute(text("DROP INDEX IF EXISTS bench_suggested_index"))
        if not args.keep:
            say("emptying the bench database (--keep leaves it in place)")
            with engine.begin() as conn:
                reset_register(conn)
    finally:
        engine.dispose()
    _print(figures, machine, args)
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cells", type=int, default=10_000, help="a square of a multiple of 10")
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--reports", type=int, default=1_000_000, help="over the last 400 days")
    parser.add_argument("--repeat", type=int, default=20, help="requests per endpoint")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--keep", action="store_true", help="leave the loaded database")
    parser.add_argument(
        "--reuse", action="store_true", help="time a database a --keep run left, without loading"
    )
    parser.add_argument(
        "--suggested-index",
        action="store_true",
        help=f"time with {SUGGESTED_INDEX} (then drop it)",
    )
    return parser.parse_args(argv)


# ---- the world: 10 streets of 10 communities, cells, buildings, a year of work ----


def _street_code(row: int) -> str:
    return f"{DISTRICT_CODE}{row + 1:03d}"


def _regions(district: District) -> list[tuple[str, str, str, str | None, object]]:
    """City, district, one street per row of communities, the communities (codes from
    bench.district, re-parented to their row's street); outlines in BENCH_CRS."""
    k = district.cells_per_community_side
    whole = district._block_outline(0, 0, district.side)
    rows: list[tuple[str, str, str, str | None, object]] = [
        (CITY_CODE, "基准市", "city", None, whole),
        (DISTRICT_CODE, "基准区", "district", CITY_CODE, whole),
    ]
    communities = []
    for cy in range(COMMUNITIES_PER_SIDE):
        outlines = []
        for cx in range(COMMUNITIES_PER_SIDE):
            number = cy * COMMUNITIES_PER_SIDE + cx + 1
            outline = district._block_outline(cx * k, cy * k, k)
            outlines.append(outline)
            communities.append(
                (
                    community_code(number),
                    f"基准{number}社区",
                    "community",
                    _street_code(cy),
                    outline,
                )
            )
        street = shapely.union_all(outlines)
        rows.append((_street_code(cy), f"基准{cy + 1}街道", "street", DISTRICT_CODE, street))
    return rows + communities


def _load(engine: Engine, district: District, args: argparse.Namespace, say: Clock) -> dict:
    """Reset the register, then load regions, cells, workers, buildings, reports,
    ratings and visits. Not timed."""
    from grid.accounts import hash_password

    with engine.begin() as conn:
        say("resetting the register")
        reset_register(conn)
        say("regions (10 streets x 10 communities)")
        _insert_regions(conn, district)
        cells = district.cells()
        say(f"{len(cells):,} cells")
        _insert_cells(conn, cells)
        say("a primary worker per cell")
        insert_workers(conn, hash_password(WORKER_PASSWORD))
        conn.execute(
            text("""DELETE FROM cell_assignments WHERE cell_id IN (
                    SELECT id FROM grid_cells ORDER BY md5(code) LIMIT :n)"""),
            {"n": int(len(cells) * UNSTAFFED_SHARE)},
        )
        say(f"{args.buildings:,} buildings")
        _insert_buildings(conn, district, cells, args)
        say(f"{args.reports:,} reports, their ratings, patrol visits")
        _insert_work(conn, args)
        manager = conn.execute(
            text("""INSERT INTO users (username, display_name, role, region_id, password_hash)
                    SELECT 'bench-district', '区管理员', 'district_manager', id, 'x'
                    FROM regions WHERE code = :code RETURNING id"""),
            {"code": DISTRICT_CODE},
        ).scalar_one()
    # As autovacuum would leave a settled database: statistics and the visibility map.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return {"manager": manager}


def _existing(engine: Engine) -> dict:
    with engine.connect() as conn:
        manager = conn.execute(
            text("SELECT id FROM users WHERE username = 'bench-district'")
        ).scalar_one_or_none()
    if manager is None:
        raise SystemExit("--reuse: no loaded bench district here; run once with --keep")
    return {"manager": manager}


def _create_suggested_index(engine: Engine, say: Clock) -> None:
    say(f"creating {SUGGESTED_INDEX}")
    with engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS bench_suggested_index ON {SUGGESTED_INDEX}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE buildings"))


def _insert_regions(conn: Connection, district: District) -> None:
    regions = _regions(district)
    outlines = gpd.GeoSeries([r[4] for r in regions], crs=BENCH_CRS).to_crs(STORAGE_SRID)
    paths: dict[str, tuple[int, str]] = {}
    for (code, name, level, parent, _), outline in zip(regions, outlines, strict=True):
        parent_id, parent_path = paths[parent] if parent else (None, "/")
        region_id = conn.execute(
            text("""INSERT INTO regions (code, name, level, parent_id, path, boundary)
                    VALUES (:code, :name, :level, :parent, '',
                            ST_Multi(ST_SetSRID(ST_GeomFromWKB(decode(:wkb, 'hex')), 4326)))
                    RETURNING id"""),
            {
                "code": code,
                "name": name,
                "level": level,
                "parent": parent_id,
                "wkb": shapely.to_wkb(outline, hex=True),
            },
        ).scalar_one()
        path = f"{parent_path}{region_id}/"
        conn.execute(
            text("UPDATE regions SET path = :p WHERE id = :i"), {"p": path, "i": region_id}
        )
        paths[code] = (region_id, path)


def _copy(conn: Connection, table: str, columns: str, rows: io.StringIO) -> None:
    conn.execute(text(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP"))
    rows.seek(0)
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} FROM STDIN", rows)


def _insert_cells(conn: Connection, cells: gpd.GeoDataFrame) -> None:
    wgs84 = cells.geometry.to_crs(STORAGE_SRID)
    buffer = io.StringIO()
    for code, name, geom in zip(cells["code"], cells["name"], wgs84, strict=True):
        buffer.write(f"{code}\t{name}\t{shapely.to_wkb(geom, hex=True)}\n")
    _copy(conn, "bench_cells", "code text, name text, wkb text", buffer)
    conn.execute(
        text("""
        WITH v AS (INSERT INTO boundary_versions (label, source, status, activated_at)
                   VALUES ('bench cells', 'bench', 'active', now()) RETURNING id)
        INSERT INTO grid_cells (version_id, code, name, community_id, boundary, active_from)
        SELECT v.id, b.code, b.name, r.id,
               ST_Multi(ST_SetSRID(ST_GeomFromWKB(decode(b.wkb, 'hex')), 4326)), now()
        FROM bench_cells b CROSS JOIN v JOIN regions r ON r.code = left(b.code, 12)
    """)
    )


def _insert_buildings(
    conn: Connection, district: District, cells: gpd.GeoDataFrame, args: argparse.Namespace
) -> None:
    frame = make_buildings(district, cells, args.buildings, args.seed)
    # make_buildings spreads them evenly, cell by cell in the frame's order.
    per_cell = np.full(len(cells), args.buildings // len(cells))
    per_cell[: args.buildings % len(cells)] += 1
    cell_codes = np.repeat(cells["code"].to_numpy(), per_cell)
    wgs84 = frame.geometry.to_crs(STORAGE_SRID)
    buffer = io.StringIO()
    for row, code, geom in zip(frame.itertuples(), cell_codes, wgs84, strict=True):
        buffer.write(
            f"{row.external_id}\t{row.address}\t{row.use}\t{row.floors}\t{code}\t"
            f"{shapely.to_wkb(geom, hex=True)}\n"
        )
    _copy(
        conn,
        "bench_buildings",
        "external_id text, address text, use text, floors int, cell text, wkb text",
        buffer,
    )
    conn.execute(
        text("""
        INSERT INTO buildings (external_id, address, use, floors, footprint, cell_id)
        SELECT b.external_id, b.address, b.use, b.floors,
               ST_Multi(ST_SetSRID(ST_GeomFromWKB(decode(b.wkb, 'hex')), 4326)), c.id
        FROM bench_buildings b JOIN grid_cells c ON c.code = b.cell
    """)
    )


def _insert_work(conn: Connection, args: argparse.Namespace) -> None:
    """Reports spread over 400 days in random cells (a third fire hazards, 4% still open,
    most accepted within a day), a rating for 60% of the closed ones, and patrol visits
    to half the buildings over the last 60 days."""
    conn.execute(text("SELECT setseed(0.42)"))
    conn.execute(
        text("""
        WITH cell AS (SELECT row_number() OVER (ORDER BY id) AS n, id, community_id,
                             ST_PointOnSurface(boundary) AS point FROM grid_cells),
        cats AS (SELECT array_agg(code ORDER BY code) AS codes FROM incident_categories
                 WHERE NOT is_emergency AND group_code IN ('fire', 'community')),
        r AS (SELECT g, 1 + floor(random() * (SELECT count(*) FROM cell)) AS n,
                     :now - random() * interval '400 days' AS created,
                     random() AS fate, random() * 30 AS accept_hours
              FROM generate_series(1, :reports) g)
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, cell_id, region_id, routing_rule,
            responsible_level, channel, accept_due_at, resolve_due_at, accepted_at,
            resolved_at, created_at, updated_at)
        SELECT 'B' || lpad(r.g::text, 11, '0'), 'x',
               cats.codes[1 + (r.g % array_length(cats.codes, 1))],
               CASE WHEN r.fate < 0.04 THEN 'in_progress' WHEN r.fate < 0.06 THEN 'rejected'
                    ELSE 'closed' END,
               c.point, ST_X(c.point), ST_Y(c.point), 'wgs84', c.id, c.community_id,
               'inside', 'primary', 'web', r.created + interval '2 hours',
               r.created + interval '3 days',
               r.created + r.accept_hours * interval '1 hour',
               CASE WHEN r.fate >= 0.06 THEN r.created + interval '2 days' END,
               r.created, r.created
        FROM r JOIN cell c ON c.n = r.n CROSS JOIN cats
    """),
        {"reports": args.reports, "now": datetime.now(UTC)},
    )
    conn.execute(
        text("""
        INSERT INTO ratings (incident_id, kind, overall, channel)
        SELECT id, 'handling', 1 + floor(random() * 5), 'secret'
        FROM incidents WHERE status = 'closed' AND random() < 0.6
    """)
    )
    conn.execute(
        text("""
        INSERT INTO patrol_visits (building_id, user_id, visited_at)
        SELECT b.id, a.user_id, now() - random() * interval '60 days'
        FROM buildings b JOIN cell_assignments a ON a.cell_id = b.cell_id
        WHERE random() < 0.5
    """)
    )


# ---- timing ----


def _serve(database_url: str, secret: str, say: Clock):
    """The product's server in a process of its own (what `gridgov serve` runs)."""
    port = free_port()
    env = {
        **os.environ,
        "GRIDGOV_DATABASE_URL": database_url,
        "GRIDGOV_ENVIRONMENT": "development",
        "GRIDGOV_SECRET_KEY": secret,
    }
    say(f"starting the server on port {port}")
    server = start_server(gridgov_command(port), env, f"http://127.0.0.1:{port}/health")
    return f"http://127.0.0.1:{port}", server


async def _time_endpoints(
    args: argparse.Namespace, district: District, ids: dict, say: Clock
) -> tuple[dict, MachineLoad]:
    from api.tokens import create_access_token
    from core.settings import Settings

    secret = secrets.token_urlsafe(32)  # this run's: the token is signed as the server checks
    base, server = _serve(args.database_url, secret, say)
    try:
        return await _timed(
            args,
            base,
            server.pid,
            create_access_token(
                ids["manager"], Settings(environment="development", secret_key=secret)
            ),
            say,
        )
    finally:
        stop_server(server)


async def _timed(
    args: argparse.Namespace, base: str, server_pid: int, token: str, say: Clock
) -> tuple[dict, MachineLoad]:
    watch = MachineWatch(make_url(args.database_url).database or "", server_pid)
    # One community's worth of viewport, in the middle of the district.
    middle = community_code(COMMUNITIES_PER_SIDE * (COMMUNITIES_PER_SIDE // 2) + 5)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        view = await client.get(f"/regions/{middle}")
        lons, lats = zip(*_ring(view.json()["geometry"]), strict=False)
        bbox = f"{min(lons):.6f},{min(lats):.6f},{max(lons):.6f},{max(lats):.6f}"
        year = (date.today() - timedelta(days=365), date.today())
        per_community = args.cells // COMMUNITIES_PER_SIDE**2
        asks = {
            f"district: 10 streets over {args.cells:,} cells": "/dashboard/regions.geojson",
            "street: its 10 communities": f"/dashboard/regions.geojson?region={_street_code(5)}",
            f"community: its {per_community} cells": f"/dashboard/regions.geojson?region={middle}",
            "cells in a viewport (bbox)": f"/dashboard/cells.geojson?bbox={bbox}",
            "baseline: public /cells, same viewport": f"/cells?limit=1000&bbox={bbox}",
            "baseline: /statistics/staff per street, a year": (
                f"/statistics/staff?level=street&from={year[0]}&to={year[1]}"
            ),
        }
        timings: dict[str, list[float]] = {name: [] for name in asks}
        sizes: dict[str, int] = {}
        for name, url in asks.items():  # warm-up, and a check that each answers
            answer = await client.get(url)
            if answer.status_code != 200:
                raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
            sizes[name] = len(answer.content)
        say(f"timing {len(asks)} requests x {args.repeat}")
        with watch:
            for round_ in range(args.repeat):
                order = list(asks.items())
                if round_ % 2:
                    order.reverse()
                for name, url in order:
                    started = time.perf_counter()
                    (await client.get(url)).raise_for_status()
                    timings[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "max_ms": round(max(values), 1),
            "kb": round(sizes[name] / 1024, 1),
        }
        for name, values in timings.items()
    }, watch.load


def _ring(geometry: dict) -> list[list[float]]:
    coordinates = geometry["coordinates"]
    return coordinates[0][0] if geometry["type"] == "MultiPolygon" else coordinates[0]


def _print(figures: dict, machine: MachineLoad, args: argparse.Namespace) -> None:
    print(
        f"\ncoverage map endpoints: {args.cells:,} cells, {args.buildings:,} buildings, "
        f"{args.reports:,} reports; {args.repeat} requests each\n"
    )
    print(f"{'request':<48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>8}")
    for name, f in figures.items():
        print(f"{name:<48} {f['p50_ms']:>8} {f['p95_ms']:>8} {f['max_ms']:>8} {f['kb']:>8}")
    district = next(f for name, f in figures.items() if name.startswith("district"))
    target = f"district level p50 <= {DISTRICT_TARGET_MS:g} ms"
    verdict = machine.verdict(district["p50_ms"] <= DISTRICT_TARGET_MS)
    if args.cells < 10_000 or args.reports < 1_000_000:
        verdict = "no verdict (smaller than 10,000 cells x 1,000,000 reports)"
    print(f"\n{machine.line()}\n  {verdict:<17}  {target}")
    print(
        json.dumps(
            {
                "cells": args.cells,
                "buildings": args.buildings,
                "reports": args.reports,
                "figures": figures,
                "machine": machine.as_json(),
                "targets": {target: verdict},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
