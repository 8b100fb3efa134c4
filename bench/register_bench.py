"""Register benchmark: import + link a large district's buildings, and point lookups,
each beside a same-run baseline.

    .venv/bin/python -m bench.register_bench [--buildings 1000000] [--cells 10000]
        [--points 10000] [--database-url URL] [--keep]

Targets (issue 19): 1,000,000 buildings imported and linked to 10,000 cells in at most
30 s and at most 2x the binary-COPY baseline (the way the product itself writes, so the
ratio counts only what the product adds; the text-COPY baseline is shown for reference);
lookup p50 at most 2x the raw GiST lookup. The machine's load over the timed parts is
printed, and no target is called met or missed when other processes used more than a
quarter of a core (bench.machine.MachineWatch). Progress goes to stderr; the figures table
and one JSON line go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from sqlalchemy import Engine, text

from bench.common import Clock, checkpoint, migrate, percentile, refuse_shared_databases
from bench.district import BENCH_CRS, make_district, random_points
from bench.district_load import BASELINE_TABLE, load_register, prepare_files, reset_register
from bench.machine import MachineLoad, MachineWatch, combine
from core.database import (
    create_bulk_engine,
    create_request_engine,
    session_factory,
)
from demo.seed import DEFAULT_SEED
from gis.crs import STORAGE_SRID

DEFAULT_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench"
DEFAULT_WORK_DIR = Path("/tmp/gridgov-bench")
IMPORT_TARGET_RATIO, IMPORT_TARGET_SECONDS, LOOKUP_TARGET_RATIO = 2.0, 30.0, 2.0
WARM_UP = 200

# The raw single-query lookup the product is compared with: the GiST index on the cells'
# boundaries, nothing else (no subdivided parts, no regions, no people).
RAW_LOOKUP = text("""
    SELECT id FROM grid_cells
    WHERE ST_Covers(boundary, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
      AND active_from IS NOT NULL AND active_to IS NULL
    LIMIT 1
""")


@dataclass
class Figures:
    """Everything the run measured; printed as a table and as one JSON line."""

    buildings: int
    cells: int
    points: int
    file_mb: float = 0.0
    import_s: float = 0.0
    import_phases: dict[str, float] = field(default_factory=dict)
    baseline_s: float = 0.0
    binary_baseline_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    lookup_ms: dict[str, float] = field(default_factory=dict)
    lookup_mismatches: int = 0
    machine: MachineLoad | None = None

    @property
    def text_import_ratio(self) -> float:
        return self.import_s / self.baseline_s

    @property
    def import_ratio(self) -> float:
        """Against the binary-COPY baseline: the product writes binary COPY too."""
        return self.import_s / self.binary_baseline_s

    @property
    def lookup_ratio(self) -> float:
        return self.lookup_ms["product_p50"] / self.lookup_ms["raw_p50"]

    def targets(self) -> dict[str, bool]:
        return {
            "import_ratio": self.import_ratio <= IMPORT_TARGET_RATIO,
            "import_seconds": self.import_s < IMPORT_TARGET_SECONDS,
            "lookup_p50_ratio": self.lookup_ratio <= LOOKUP_TARGET_RATIO,
        }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "wipes its register")
    migrate(args.database_url, say)

    figures = Figures(args.buildings, args.cells, args.points)
    district = make_district(args.cells, args.seed)
    cells_path, buildings_path = prepare_files(
        district, args.work_dir, args.cells, args.buildings, args.seed, say
    )
    figures.file_mb = buildings_path.stat().st_size / 1e6

    engine = create_bulk_engine(args.database_url)
    database = engine.url.database or ""
    watched: list[MachineLoad] = []
    try:
        load_register(engine, district, cells_path, say)
        with MachineWatch(database) as watch:
            figures.baseline_s = _time_baseline(engine, buildings_path, say, binary=False)
            figures.binary_baseline_s = _time_baseline(engine, buildings_path, say, binary=True)
            figures.import_s, figures.import_phases = _time_import(engine, buildings_path, say)
        watched.append(watch.load)
        figures.rows = _count_rows(engine)
        say("timing point lookups")
        points = random_points(district, args.points, args.seed)
        with MachineWatch(database) as watch:
            figures.lookup_ms, figures.lookup_mismatches = asyncio.run(
                _time_lookups(args.database_url, points, say)
            )
        watched.append(watch.load)
        figures.machine = combine(watched)
        if not args.keep:
            say("emptying the bench database (--keep leaves it, and the files, in place)")
            with engine.begin() as conn:
                reset_register(conn)
            for path in (cells_path, buildings_path):
                path.unlink(missing_ok=True)
    finally:
        engine.dispose()
    _print_figures(figures, args)
    return 0 if _correct(figures) else 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.register_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--buildings", type=int, default=1_000_000)
    parser.add_argument(
        "--cells", type=int, default=10_000, help="a square of a multiple of 10 (100 communities)"
    )
    parser.add_argument("--points", type=int, default=10_000, help="lookups to time")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="the bench's own database, created and migrated on demand",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where the GeoPackages are written"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the loaded database and the files (a later run reuses them)",
    )
    return parser.parse_args(argv)


def _time_baseline(engine: Engine, path: Path, say: Clock, binary: bool) -> float:
    """The same job done plainly: pyogrio read, to_crs, sjoin of each footprint's
    point-on-surface with the cells in force, COPY into a plain table (normal, logged,
    no index, no constraint). Timed from the read to the commit.

    The text baseline COPYs hex EWKB in CSV, the usual way; the binary one uses the
    product's own binary COPY writer, so the ratio to it counts only the product's
    checks, upsert and index and foreign-key upkeep."""
    from gis.pgcopy import CopyField, copy_binary, text_codec

    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))
        conn.execute(
            text(f"""
            CREATE TABLE {BASELINE_TABLE} (external_id varchar(64), address text,
                use varchar(16), floors smallint, footprint geometry(MultiPolygon, 4326),
                cell_id integer)
        """)
        )
    checkpoint(engine, say)
    kind = "binary" if binary else "text (CSV, hex EWKB)"
    say(f"baseline, {kind} COPY: read + to_crs + sjoin + COPY into a plain table")
    started = time.perf_counter()
    frame = pyogrio.read_dataframe(path).to_crs(STORAGE_SRID)
    with engine.connect() as conn, conn.begin():
        cells = gpd.read_postgis(
            text(
                "SELECT id AS cell_id, boundary FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL"
            ),
            conn,
            geom_col="boundary",
            crs=STORAGE_SRID,
        )
        anchors = gpd.GeoDataFrame(geometry=frame.geometry.representative_point(), crs=STORAGE_SRID)
        joined = gpd.sjoin(anchors, cells, how="left", predicate="intersects")
        cell_ids = joined[~joined.index.duplicated(keep="first")]["cell_id"]
        footprints = shapely.multipolygons(frame.geometry.to_numpy()[:, None])
        raw = conn.connection.dbapi_connection
        if binary:
            codec = text_codec(raw)
            copy_binary(
                raw,
                f"COPY {BASELINE_TABLE} FROM STDIN WITH (FORMAT binary)",
                [
                    *(CopyField.text(frame[c], codec) for c in ("external_id", "address", "use")),
                    CopyField.integers(frame["floors"].to_numpy(), width=2),
                    CopyField.blobs(shapely.to_wkb(footprints)),
                    CopyField.integers(
                        cell_ids.fillna(0).to_numpy(dtype="int64"), cell_ids.notna().to_numpy()
                    ),
                ],
            )
        else:
            out = frame[["external_id", "address", "use", "floors"]].copy()
            out["footprint"] = shapely.to_wkb(
                shapely.set_srid(footprints, STORAGE_SRID), hex=True, include_srid=True
            )
            out["cell_id"] = cell_ids.astype("Int64")
            buffer = io.StringIO()
            out.to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            with raw.cursor() as cursor:
                cursor.copy_expert(f"COPY {BASELINE_TABLE} FROM STDIN WITH (FORMAT csv)", buffer)
    seconds = time.perf_counter() - started
    say(f"baseline, {kind} COPY: {seconds:.1f}s")
    return seconds


# import_buildings' progress messages each start a phase; named by their first word.
IMPORT_PHASES = {
    "reading": "read+reproject",
    "read": "check",
    "linking": "link",
    "writing": "write",
    "indexes": "write",  # a large load: indexes set aside, rows written, indexes built
}


class ImportPhases:
    """Progress callback for import_buildings that keeps the seconds of each phase."""

    def __init__(self, say: Clock) -> None:
        self.say = say
        self.seconds: dict[str, float] = {}
        self._current: str | None = None
        self._since = time.perf_counter()

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        if self._current is not None:
            spent = self.seconds.get(self._current, 0.0) + now - self._since
            self.seconds[self._current] = round(spent, 2)
        self._current, self._since = IMPORT_PHASES.get(message.split()[0]), now
        self.say(f"import: {message}")


def _time_import(engine: Engine, path: Path, say: Clock) -> tuple[float, dict[str, float]]:
    """grid.importing.buildings.import_buildings in one transaction, commit included."""
    from grid.importing.buildings import import_buildings

    checkpoint(engine, say)
    phases = ImportPhases(say)
    say("import: grid.importing.buildings.import_buildings, one transaction")
    with engine.connect() as conn:
        started = time.perf_counter()
        with conn.begin():
            report = import_buildings(conn, path, progress=phases)
            committing = time.perf_counter()
        finished = time.perf_counter()
    phases.seconds["commit"] = round(finished - committing, 2)
    seconds = finished - started
    if report.rejected or report.outside_cells:
        say(f"import: {len(report.rejected)} rejected, {len(report.outside_cells)} outside")
    say(f"import: {seconds:.1f}s ({report.inserted:,} inserted, {report.updated:,} updated)")
    return seconds, phases.seconds


def _count_rows(engine: Engine) -> dict[str, int]:
    """Row counts, unlinked buildings, and buildings whose cell differs from the
    baseline's (both should be 0)."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                text(f"""
            SELECT (SELECT count(*) FROM buildings) AS buildings,
                   (SELECT count(*) FROM buildings WHERE cell_id IS NULL) AS buildings_unlinked,
                   (SELECT count(*) FROM {BASELINE_TABLE}) AS baseline_rows,
                   (SELECT count(*) FROM buildings b JOIN {BASELINE_TABLE} x
                      USING (external_id) WHERE x.cell_id IS DISTINCT FROM b.cell_id)
                       AS cell_differs_from_baseline,
                   (SELECT count(*) FROM grid_cells
                    WHERE active_from IS NOT NULL AND active_to IS NULL) AS cells_in_force,
                   (SELECT count(*) FROM grid_cell_parts) AS cell_parts,
                   (SELECT count(*) FROM regions) AS regions,
                   (SELECT count(*) FROM users) AS users,
                   (SELECT count(*) FROM cell_assignments) AS assignments
        """)
            )
            .mappings()
            .one()
        )
    return {k: int(v) for k, v in row.items()}


async def _time_lookups(url: str, points: np.ndarray, say: Clock) -> tuple[dict[str, float], int]:
    """Each point through grid.lookup.lookup_point (the /lookup route's query) and through
    RAW_LOOKUP, one query per point, sequentially, on one AsyncSession over asyncpg. The
    order alternates per point so neither query always finds the other's pages warm."""
    from grid.lookup import lookup_point

    engine = create_request_engine(url, pool_size=1)
    today = date.today()
    product_ns, raw_ns, mismatches = [], [], 0
    try:
        async with session_factory(engine)() as session:

            async def product(lon: float, lat: float):
                return await lookup_point(session, lon, lat, today)

            async def raw(lon: float, lat: float):
                return (await session.execute(RAW_LOOKUP, {"lon": lon, "lat": lat})).scalar()

            for lon, lat in points[:WARM_UP].tolist():
                await product(lon, lat)
                await raw(lon, lat)
            for i, (lon, lat) in enumerate(points.tolist()):
                pair = [(product, product_ns), (raw, raw_ns)]
                answers = {}
                for query, timings in pair if i % 2 == 0 else pair[::-1]:
                    t0 = time.perf_counter_ns()
                    answers[query] = await query(lon, lat)
                    timings.append(time.perf_counter_ns() - t0)
                if not _same_answer(answers[product], answers[raw]):
                    mismatches += 1
                if (i + 1) % 2000 == 0:
                    say(f"  {i + 1:,} / {len(points):,} points")
    finally:
        await engine.dispose()
    product_ms, raw_ms = np.asarray(product_ns) / 1e6, np.asarray(raw_ns) / 1e6
    return {
        "product_p50": percentile(product_ms, 50),
        "product_p99": percentile(product_ms, 99),
        "raw_p50": percentile(raw_ms, 50),
        "raw_p99": percentile(raw_ms, 99),
    }, mismatches


def _same_answer(found, raw_cell_id: int | None) -> bool:
    """The product found the raw query's cell, and that cell's own primary worker."""
    return (
        found.cell is not None
        and found.cell["id"] == raw_cell_id
        and found.responsible is not None
        and found.responsible["username"] == f"w{found.cell['code']}"
    )


def _correct(f: Figures) -> bool:
    r = f.rows
    return (
        r["buildings"] == f.buildings
        and r["buildings_unlinked"] == 0
        and r["baseline_rows"] == f.buildings
        and r["cell_differs_from_baseline"] == 0
        and f.lookup_mismatches == 0
    )


def _print_figures(f: Figures, args: argparse.Namespace) -> None:
    machine = f.machine
    ok = {k: machine.verdict(v) for k, v in f.targets().items()}
    lk = f.lookup_ms
    r = f.rows
    lines = [
        f"gridgov register benchmark: {f.buildings:,} buildings, {f.cells:,} cells, "
        f"{f.points:,} lookups (GeoPackage in EPSG:{BENCH_CRS}, {f.file_mb:.0f} MB)",
        f"  import + link (product)  {f.import_s:7.1f} s  {f.buildings / f.import_s:>9,.0f} "
        f"buildings/s   target < {IMPORT_TARGET_SECONDS:.0f} s: {ok['import_seconds']}",
        f"  binary-COPY baseline     {f.binary_baseline_s:7.1f} s  "
        f"{f.buildings / f.binary_baseline_s:>9,.0f} buildings/s   pyogrio read + to_crs + "
        "sjoin + the product's binary COPY writer into a plain logged table, no indexes",
        f"  import / binary baseline {f.import_ratio:7.2f} x"
        f"{'':27}target <= {IMPORT_TARGET_RATIO:.0f}x: {ok['import_ratio']}",
        f"  text-COPY baseline       {f.baseline_s:7.1f} s  {f.buildings / f.baseline_s:>9,.0f} "
        "buildings/s   the same with text COPY (CSV, hex EWKB), for reference",
        f"  import / text baseline   {f.text_import_ratio:7.2f} x   (reference only)",
        "  import phases (s)        " + ", ".join(f"{k} {v}" for k, v in f.import_phases.items()),
        f"  lookup (product)         p50 {lk['product_p50']:6.2f} ms  p99 "
        f"{lk['product_p99']:6.2f} ms   point -> cell -> regions -> worker (grid.lookup)",
        f"  lookup (raw GiST)        p50 {lk['raw_p50']:6.2f} ms  p99 {lk['raw_p99']:6.2f} ms"
        "   one ST_Covers query on grid_cells",
        f"  lookup p50 ratio         {f.lookup_ratio:7.2f} x"
        f"{'':27}target <= {LOOKUP_TARGET_RATIO:.0f}x: {ok['lookup_p50_ratio']}",
        f"  rows: buildings {r['buildings']:,} (unlinked {r['buildings_unlinked']}, cell "
        f"differs from baseline {r['cell_differs_from_baseline']}), baseline "
        f"{r['baseline_rows']:,}, cells in force {r['cells_in_force']:,} "
        f"({r['cell_parts']:,} parts), regions {r['regions']}, users {r['users']:,}, "
        f"assignments {r['assignments']:,}; lookup mismatches {f.lookup_mismatches}",
    ]
    lines.append(machine.line())
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "bench": "register",
                "buildings": f.buildings,
                "cells": f.cells,
                "points": f.points,
                "seed": args.seed,
                "import_s": round(f.import_s, 2),
                "text_baseline_s": round(f.baseline_s, 2),
                "text_import_ratio": round(f.text_import_ratio, 3),
                "binary_baseline_s": round(f.binary_baseline_s, 2),
                "import_ratio": round(f.import_ratio, 3),
                "buildings_per_s": round(f.buildings / f.import_s),
                "import_phases_s": f.import_phases,
                "lookup_ms": {k: round(v, 3) for k, v in lk.items()},
                "lookup_p50_ratio": round(f.lookup_ratio, 3),
                "targets": ok,
                "machine": machine.as_json(),
                "rows": r,
                "lookup_mismatches": f.lookup_mismatches,
                "correct": _correct(f),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
