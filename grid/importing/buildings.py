"""Import building footprints: read, check, repair, link to cells, upsert by external id."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.pgcopy import CopyField, copy_binary, indexes_built_after, text_codec
from grid.importing.geometry_checks import OUTSIDE_CITY, check_polygons, outside_city
from grid.importing.reading import FieldMapping, read_geodata
from grid.importing.report import ImportReport, RowIssue, text_or_none
from grid.linking import CellIndex, footprint_anchor_points
from grid.models import BUILDING_USES

FIELDS = ["external_id", "address", "use", "floors"]
MAX_EXTERNAL_ID = 64  # buildings.external_id is varchar(64)
Progress = Callable[[str], None]
# A load at least this large, and at least a quarter of the rows already there, is written
# with the secondary indexes (the two GiST, the trigram and the cell index) dropped and
# built again afterwards, in the same transaction: index upkeep was 31 of the 34.5 s of
# writing 1M footprints, a build after the load 5.8 s (issue 19).
BULK_INDEX_ROWS = 100_000


def import_buildings(
    conn: Connection,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    csv_crs: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import footprints into `buildings` inside the caller's transaction.

    Rows are upserted by external id, linked to the cell covering their point-on-surface,
    and every unusable row is reported, never silently dropped. On a dry run the work is
    done inside a savepoint that is rolled back, so the report is exact. A large load
    (BULK_INDEX_ROWS) is written with the secondary indexes dropped and built again after
    it, in the same transaction (gis.pgcopy.indexes_built_after)."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = ImportReport(kind="buildings", source=str(path), dry_run=dry_run)

    say(f"reading {Path(path).name}")
    frame = read_geodata(path, layer=layer, encoding=encoding, csv_crs=csv_crs)
    report.read = len(frame)
    say(f"read {report.read} rows; checking")
    attrs = (mapping or FieldMapping()).apply(frame, FIELDS)
    geoms, geometry_rejects, repairs = check_polygons(frame.geometry.to_numpy())
    keep, rejects = _check_attributes(attrs, geoms, geometry_rejects)
    external_ids = attrs["external_id"].to_numpy(dtype=object)  # one array, not a lookup a row
    report.repaired = [_issue(i, external_ids, "geometry", r) for i, r in sorted(repairs.items())]
    keep &= _reject_out_of_area(conn, geoms, keep, rejects)
    report.rejected = [_issue(i, external_ids, f, r) for i, (f, r) in sorted(rejects.items())]

    say(f"linking {int(keep.sum())} footprints to cells")
    rows = attrs[keep].copy()
    rows["row_no"] = np.flatnonzero(keep) + 1
    footprints = geoms[keep]
    cell_ids = CellIndex.load(conn).cell_ids_for_points(footprint_anchor_points(footprints))
    rows["cell_id"] = pd.array(np.where(cell_ids >= 0, cell_ids, 0), dtype="Int64")
    rows.loc[cell_ids < 0, "cell_id"] = pd.NA
    report.outside_cells = [
        RowIssue(int(r), text_or_none(e), "geometry", "outside every grid cell")
        for r, e in zip(
            rows["row_no"][cell_ids < 0], rows["external_id"][cell_ids < 0], strict=True
        )
    ]
    say(f"writing {len(rows)} buildings")
    savepoint = conn.begin_nested() if dry_run else None
    later = not dry_run and _large_load(conn, len(rows))
    with indexes_built_after(conn, "buildings", when=later) as dropped:
        if dropped:
            say(f"indexes {', '.join(dropped)} set aside; they are built after the load")
        report.inserted, report.updated = _upsert(conn, rows, footprints)
    if savepoint is not None:
        savepoint.rollback()
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


def _large_load(conn: Connection, rows: int) -> bool:
    """Whether building the indexes after the load beats keeping them up: many rows, and
    many next to what the table holds (the planner's estimate; -1 before any ANALYZE)."""
    if rows < BULK_INDEX_ROWS:
        return False
    held = conn.execute(
        text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'buildings'::regclass")
    ).scalar()
    return rows * 4 >= (held or 0)


def _issue(i: int, external_ids: np.ndarray, field: str, reason: str) -> RowIssue:
    return RowIssue(i + 1, text_or_none(external_ids[i]), field, reason)


def _check_attributes(
    attrs: pd.DataFrame, geoms: np.ndarray, geometry_rejects: dict[int, str]
) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """Vectorised attribute checks; returns the keep mask and {index: (field, reason)}."""
    rejects: dict[int, tuple[str, str]] = {i: ("geometry", r) for i, r in geometry_rejects.items()}
    address = attrs["address"].astype("string").str.strip()
    for i in np.flatnonzero((address.isna() | (address == "")).to_numpy()):
        rejects.setdefault(int(i), ("address", "address is required"))
    attrs["address"] = address

    # A handful of distinct uses among many rows: clean each distinct value once.
    codes, distinct = pd.factorize(attrs["use"].astype("string"))
    cleaned = pd.Series(distinct, dtype="string").str.strip().str.lower().array
    use = pd.Series(cleaned.take(codes, allow_fill=True), index=attrs.index).fillna("other")
    for i in np.flatnonzero(~use.isin(BUILDING_USES).to_numpy()):
        rejects.setdefault(
            int(i),
            ("use", f"unknown use {use.iat[i]!r}; map it to one of " + ", ".join(BUILDING_USES)),
        )
    attrs["use"] = use

    raw_floors = attrs["floors"]
    floors = pd.to_numeric(raw_floors, errors="coerce")
    bad = raw_floors.notna() & (floors.isna() | (floors % 1 != 0) | (floors < 1) | (floors > 200))
    for i in np.flatnonzero(bad.to_numpy()):
        rejects.setdefault(
            int(i), ("floors", f"floors must be a whole number 1-200, got {raw_floors.iat[i]!r}")
        )
    attrs["floors"] = floors.fillna(1).clip(1, 200).astype("int64")

    external = attrs["external_id"].astype("string").str.strip()
    attrs["external_id"] = external.where(external != "", None)
    duplicated = external.notna() & external.duplicated(keep="first")
    for i in np.flatnonzero(duplicated.to_numpy()):
        rejects.setdefault(int(i), ("external_id", "external id repeats an earlier row"))
    too_long = external.str.len() > MAX_EXTERNAL_ID
    for i in np.flatnonzero(too_long.fillna(False).to_numpy()):
        rejects.setdefault(
            int(i), ("external_id", f"external id is longer than {MAX_EXTERNAL_ID} characters")
        )

    keep = np.ones(len(attrs), dtype=bool)
    keep[list(rejects)] = False
    return keep, rejects


def _reject_out_of_area(
    conn: Connection, geoms: np.ndarray, keep: np.ndarray, rejects: dict
) -> np.ndarray:
    """Reject footprints outside every top-level region (or outside lon/lat range)."""
    ok = np.ones(len(geoms), dtype=bool)
    candidates = np.flatnonzero(keep)
    if len(candidates) == 0:
        return ok
    for i in candidates[outside_city(conn, geoms[candidates])]:
        rejects[int(i)] = ("geometry", OUTSIDE_CITY)
        ok[i] = False
    return ok


def _upsert(conn: Connection, rows: pd.DataFrame, footprints: np.ndarray) -> tuple[int, int]:
    """COPY rows into a temporary table, then one INSERT ... ON CONFLICT into buildings."""
    # The column's SRID stamps the plain WKB as it arrives (PostGIS takes SRID 0 into a
    # typed column), so the footprints need no set_srid/EWKB pass on this side.
    conn.execute(
        text(
            "CREATE TEMP TABLE import_buildings (row_no int, external_id text, address text, "
            "use text, floors int, cell_id int, footprint geometry(Geometry, 4326)) ON COMMIT DROP"
        )
    )
    raw = conn.connection.dbapi_connection
    codec = text_codec(raw)
    cell_ids = rows["cell_id"]
    copy_binary(
        raw,
        "COPY import_buildings FROM STDIN WITH (FORMAT binary)",
        [
            CopyField.integers(rows["row_no"].to_numpy()),
            CopyField.text(rows["external_id"], codec),
            CopyField.text(rows["address"], codec),
            CopyField.text(rows["use"], codec),
            CopyField.integers(rows["floors"].to_numpy()),
            CopyField.integers(
                cell_ids.fillna(0).to_numpy(dtype="int64"), cell_ids.notna().to_numpy()
            ),
            CopyField.blobs(shapely.to_wkb(footprints)),
        ],
    )
    counts = conn.execute(
        text("""
        WITH upserted AS (
            INSERT INTO buildings (external_id, address, use, floors, footprint, cell_id)
            SELECT external_id, address, use, floors, ST_Multi(footprint), cell_id
            FROM import_buildings ORDER BY row_no
            ON CONFLICT (external_id) DO UPDATE SET
                address = EXCLUDED.address, use = EXCLUDED.use, floors = EXCLUDED.floors,
                footprint = EXCLUDED.footprint, cell_id = EXCLUDED.cell_id
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM upserted
    """)
    ).one()
    conn.execute(text("DROP TABLE import_buildings"))
    return int(counts[0]), int(counts[1])
