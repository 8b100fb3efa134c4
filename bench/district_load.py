"""Loading the synthetic district's register (bench/district.py) through the product's
own path: its GeoPackages, regions, cells imported and put in force, a grid worker per
cell."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Connection, Engine, text

from bench.common import Clock
from bench.district import BENCH_CRS, District, make_buildings, write_geopackage
from gis.crs import STORAGE_SRID

BASELINE_TABLE = "bench_baseline_buildings"  # the register bench's plain-GeoPandas copy
WORKER_PASSWORD = "gridgov-bench"  # every bench district worker signs in with it
ASSIGNED_FROM = date(2020, 1, 1)  # when the bench district's primary assignments start


def prepare_cells_file(
    district: District, work_dir: Path, cells: int, seed: int, say: Clock
) -> Path:
    """The cells GeoPackage in work_dir, written unless a kept run left it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    cells_path = work_dir / f"cells-c{cells}-s{seed}.gpkg"
    if not cells_path.exists():
        write_geopackage(district.cells()[["code", "name", "geometry"]], cells_path, "cells", say)
    return cells_path


def prepare_files(
    district: District, work_dir: Path, cells: int, buildings: int, seed: int, say: Clock
) -> tuple[Path, Path]:
    """The cells and buildings GeoPackages in work_dir, generated unless a kept run left them."""
    cells_path = prepare_cells_file(district, work_dir, cells, seed, say)
    buildings_path = work_dir / f"buildings-{buildings}-c{cells}-s{seed}.gpkg"
    if buildings_path.exists():
        say(f"reusing {buildings_path}")
    else:
        frame = district.cells()
        say(f"generating {buildings:,} buildings in {len(frame):,} cells")
        footprints = make_buildings(district, frame, buildings, seed)
        say(f"writing {buildings_path} (EPSG:{BENCH_CRS})")
        write_geopackage(footprints, buildings_path, "buildings", say)
    return cells_path, buildings_path


def reset_register(conn: Connection) -> None:
    """Empty the register (demo.load.clear_register) and drop the baseline table."""
    from demo.load import clear_register

    clear_register(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))


def load_register(engine: Engine, district: District, cells_path: Path, say: Clock) -> None:
    """Reset, then load regions, activated cells and a primary grid worker per cell."""
    from grid.accounts import hash_password
    from grid.importing.cells import import_cells
    from grid.versions import activate_version

    say("resetting the register and loading regions")
    with engine.begin() as conn:
        reset_register(conn)
        insert_regions(conn, district)
    with engine.begin() as conn:
        report, version_id = import_cells(conn, cells_path, label="bench cells", progress=say)
        if report.rejected or version_id is None:
            raise SystemExit(f"cell import rejected rows: {report.rejected[:3]}")
        activation = activate_version(conn, version_id)
        say(f"version {version_id} active: {activation.cells_activated:,} cells")
    with engine.begin() as conn:
        insert_workers(conn, hash_password(WORKER_PASSWORD))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE regions, grid_cells, grid_cell_parts, users, cell_assignments"))


def insert_regions(conn: Connection, district: District) -> None:
    """Regions top-down with their materialised paths ('/1/2/3/')."""
    regions = district.regions()
    ids = (
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('regions', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(regions)},
        )
        .scalars()
        .all()
    )
    outlines = gpd.GeoSeries([r.outline for r in regions], crs=BENCH_CRS).to_crs(STORAGE_SRID)
    by_code: dict[str, tuple[int, str]] = {}
    rows = []
    for region, region_id, outline in zip(regions, ids, outlines, strict=True):
        parent_id, parent_path = by_code[region.parent] if region.parent else (None, "/")
        path = f"{parent_path}{region_id}/"
        by_code[region.code] = (region_id, path)
        rows.append(
            {
                "id": region_id,
                "code": region.code,
                "name": region.name,
                "level": region.level,
                "parent": parent_id,
                "path": path,
                "wkb": shapely.to_wkb(outline, hex=True),
            }
        )
    conn.execute(
        text("""
        INSERT INTO regions (id, code, name, level, parent_id, path, boundary)
        VALUES (:id, :code, :name, :level, :parent, :path,
                ST_Multi(ST_SetSRID(ST_GeomFromWKB(decode(:wkb, 'hex')), 4326)))
    """),
        rows,
    )


def insert_workers(conn: Connection, password_hash: str) -> None:
    """A grid worker per cell in force (COPY), each its cell's primary worker."""
    codes = (
        conn.execute(
            text(
                "SELECT code FROM grid_cells WHERE active_from IS NOT NULL AND active_to IS NULL "
                "ORDER BY code"
            )
        )
        .scalars()
        .all()
    )
    buffer = io.StringIO()
    for code in codes:
        buffer.write(
            f"w{code}\t网格员{code[-6:]}\t139{code[-8:]}\tgrid_worker\t"
            f"{code[:12]}\t{password_hash}\n"
        )
    buffer.seek(0)
    conn.execute(
        text(
            "CREATE TEMP TABLE bench_workers (username text, display_name text, "
            "phone text, role text, community text, password_hash text) "
            "ON COMMIT DROP"
        )
    )
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert("COPY bench_workers FROM STDIN", buffer)
    conn.execute(
        text("""
        INSERT INTO users (username, display_name, phone, role, region_id, password_hash)
        SELECT w.username, w.display_name, w.phone, w.role, r.id, w.password_hash
        FROM bench_workers w JOIN regions r ON r.code = w.community
    """)
    )
    conn.execute(
        text("""
        INSERT INTO cell_assignments (cell_id, user_id, kind, valid_from)
        SELECT c.id, u.id, 'primary', :since
        FROM grid_cells c JOIN users u ON u.username = 'w' || c.code
        WHERE c.active_from IS NOT NULL AND c.active_to IS NULL
    """),
        {"since": ASSIGNED_FROM},
    )
