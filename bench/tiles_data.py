"""The tiles bench's data: its database migrated, the district, incidents and base map
loaded through every trigger, and the checks of the trigger-kept tile bins."""

from __future__ import annotations

import argparse
import os

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    float8_column,
    insert_history,
    run_gridgov,
)
from bench.district import BENCH_CRS, District
from bench.district_load import load_register, prepare_cells_file
from core.database import ensure_database
from gis.crs import STORAGE_SRID, transformer

LOAD_CHUNK = 100_000
STAGING = "bench_tiles_staging"
SECONDS_PER_DAY = 86_400

# Status mix of the synthetic history (see make_incidents): most old reports are closed.
OPEN_STATUSES = ("submitted", "assigned", "accepted", "in_progress")
OPEN_SHARES = (0.05, 0.45, 0.2, 0.3)


def gridgov_env(args: argparse.Namespace) -> dict[str, str]:
    return {**os.environ, "GRIDGOV_DATABASE_URL": args.database_url}


def prepare_database(args: argparse.Namespace, say: Clock) -> None:
    """Create and migrate the database, categories synced (`gridgov db upgrade`)."""
    ensure_database(args.database_url)
    say(f"migrating {make_url(args.database_url).database}")
    run_gridgov(gridgov_env(args), "db", "upgrade")


# ---------------------------------------------------------------------------- loading


def district_loaded(engine: Engine, args: argparse.Namespace) -> bool:
    """Whether a previous run left this district and this many incidents."""
    with engine.connect() as conn:
        cells = conn.execute(
            text("SELECT count(*) FROM grid_cells WHERE active_to IS NULL")
        ).scalar_one()
        incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    return cells == args.cells and incidents == args.incidents


def load_district(engine: Engine, district: District, args: argparse.Namespace, say: Clock) -> None:
    """The register (regions, cells in force, a worker per cell) through the register
    bench's loader, then the incidents."""
    cells_path = prepare_cells_file(district, args.work_dir, args.cells, args.seed, say)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents, outbox RESTART IDENTITY CASCADE"))
    load_register(engine, district, cells_path, say)
    load_incidents(engine, district, args, say)


def make_incidents(district: District, args: argparse.Namespace, categories: list[str]):
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


def load_incidents(
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
    columns = make_incidents(district, args, list(categories))
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
                float8_column(columns["lon"]),
                float8_column(columns["lat"]),
                CopyField.text(pd.Series(columns["category"]), codec),
                CopyField.text(pd.Series(columns["status"]), codec),
                CopyField.integers(columns["age_s"], width=8),
                CopyField.integers(columns["closed_age_s"], columns["closed_age_s"] >= 0, width=8),
            ],
        )
    insert_history(
        engine,
        STAGING,
        "c.code = s.cell_code AND c.active_to IS NULL",
        prefix="B",
        channel="web",
        rows=n,
        chunk=LOAD_CHUNK,
        say=say,
    )
    say("VACUUM ANALYZE")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents, incident_tile_bins, grid_cells, regions"))


def basemap_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM basemap.roads")).scalar_one())


ROAD_SEGMENT_CELLS = 10  # a road is cut into 1 km pieces, as real road data is


def road_class(line: int) -> str:
    if line % 20 == 0:
        return "primary"
    if line % 10 == 0:
        return "secondary"
    if line % 5 == 0:
        return "tertiary"
    return "residential"


def load_basemap(engine: Engine, district: District, say: Clock) -> None:
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
                        "class": road_class(line),
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


def check_bins(engine: Engine, say: Clock) -> int:
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


def count_shown(engine: Engine) -> dict[str, int]:
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


def shown_since(engine: Engine) -> str:
    """The first closing time still shown, as an ISO timestamp in UTC (for tipg's CQL2)."""
    with engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT to_char(((date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                             - interval '30 days') AT TIME ZONE 'Asia/Shanghai')
                           AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        """)
        ).scalar_one()
