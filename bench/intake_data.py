"""The intake bench's data: its database made ready (migrated, the demo city loaded),
the points and categories its clients report, and the preloaded history of incidents
each slice starts from."""

from __future__ import annotations

import argparse
import os

import numpy as np
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.common import Clock, float8_column, insert_history, run_gridgov
from core.database import ensure_database
from gis.coords import wgs84_to_gcj02

POINTS = 20_000  # sampled once, then cycled
GCJ02_SHARE = 0.2
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
    from incidents.handling.workdays import load_work_calendar, severity_tiers

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
    points = sample_points(shapely.buffer(boundaries, -INSIDE_DEG), POINTS, args.seed)
    calendar, tiers = load_work_calendar(None), severity_tiers()
    deadlines = {c: (calendar, tiers[tier_of[c]]) for c in categories}
    return list(categories), points, deadlines


def sample_points(
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


def empty_intake_tables(engine: Engine, marks: dict[str, int]) -> None:
    """Back to the preloaded history: what earlier slices added goes (their incidents
    with their events and outbox rows by cascade), the history stays."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents WHERE id > :m"), {"m": marks["incidents"]})
        conn.execute(text("DELETE FROM outbox WHERE id > :m"), {"m": marks["outbox"]})
        conn.execute(text(f"TRUNCATE {', '.join(SLICE_TABLES)} RESTART IDENTITY CASCADE"))


def marks_of(engine: Engine) -> dict[str, int]:
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
        return marks_of(engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(INTAKE_TABLES)} RESTART IDENTITY CASCADE"))
    if args.preload:
        load_history(engine, args, categories, say)
    return marks_of(engine)


def load_history(
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
                float8_column(lon[order]),
                float8_column(lat[order]),
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
    insert_history(
        engine,
        "bench_intake_history",
        "c.id = s.cell_id",
        prefix=PRELOAD_PREFIX,
        channel="hotline",
        rows=n,
        chunk=PRELOAD_CHUNK,
        say=say,
    )
    say("VACUUM ANALYZE")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {', '.join(INTAKE_TABLES)}"))
