"""Import city assets (城市部件): read any CRS, check every row, link to cells, upsert by code.

All or nothing: when any row is rejected, nothing is written and the report names every
rejected row (a register of hydrants with a few silently missing is worse than none);
fix the file or the mapping and run it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from core.errors import InvalidInput
from gis.pgcopy import CopyField, copy_binary, text_codec
from grid.assets import ASSET_KINDS, ASSET_STATUSES, kind_for, parse_asset_code
from grid.importing.geometry_checks import OUTSIDE_CITY, outside_city
from grid.importing.reading import FieldMapping, read_geodata
from grid.importing.report import ImportReport, RowIssue, text_or_none
from grid.linking import CellIndex

FIELDS = ["code", "kind", "name", "description", "status", "external_id"]
REQUIRED = ["code"]
SOURCE = "file"
LIMITS = {"name": 100, "description": 2000, "external_id": 64}
# A zh label is as good as the key in a file (消火栓 -> fire_hydrant).
_KIND_BY_LABEL = {k.label_zh: k.key for k in ASSET_KINDS.values()}
Progress = Callable[[str], None]


def import_assets(
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
    """Import points into `city_assets` inside the caller's transaction: upserted by code,
    linked to the cell covering them. Any rejected row means nothing is written. A dry
    run does the writing in a savepoint that is rolled back, so its counts are exact."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = ImportReport(kind="assets", source=str(path), dry_run=dry_run)
    mapping = mapping or FieldMapping()

    say(f"reading {Path(path).name}")
    frame = read_geodata(path, layer=layer, encoding=encoding, csv_crs=csv_crs)
    mapping.check_columns(frame, FIELDS, REQUIRED, "city asset")
    report.read = len(frame)
    attrs = mapping.apply(frame, FIELDS)
    points, rejects = _points(frame.geometry.to_numpy())
    _check_rows(attrs, rejects)
    _reject_out_of_area(conn, points, rejects)
    codes = attrs["code"].to_numpy(dtype=object)
    report.rejected = [
        RowIssue(i + 1, text_or_none(codes[i]), f, r) for i, (f, r) in sorted(rejects.items())
    ]
    if report.rejected:
        say(f"{len(report.rejected)} rows rejected; nothing written")
        report.seconds = time.monotonic() - started
        return report

    say(f"linking {len(attrs)} assets to cells")
    cell_ids = CellIndex.load(conn).cell_ids_for_points(points)
    outside = np.flatnonzero(cell_ids < 0)
    report.outside_cells = [
        RowIssue(int(i) + 1, codes[i], "geometry", "outside every grid cell") for i in outside
    ]
    say(f"writing {len(attrs)} assets")
    savepoint = conn.begin_nested() if dry_run else None
    report.inserted, report.updated = _upsert(conn, attrs, points, cell_ids)
    if savepoint is not None:
        savepoint.rollback()
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


def _points(geoms: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """Each row's point (a one-point MultiPoint counts); rejects for everything else."""
    rejects: dict[int, tuple[str, str]] = {}
    points = np.empty(len(geoms), dtype=object)
    for i, geom in enumerate(geoms):
        if geom is not None and geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
            geom = geom.geoms[0]
        if geom is None or geom.is_empty:
            rejects[i] = ("geometry", "the geometry is null or empty")
        elif geom.geom_type != "Point":
            rejects[i] = ("geometry", f"expected a point, got {geom.geom_type}")
        else:
            points[i] = shapely.force_2d(geom)
    return points, rejects


def _check_rows(attrs: pd.DataFrame, rejects: dict[int, tuple[str, str]]) -> None:
    """Code, kind, status and lengths of each row; cleans attrs in place."""
    for column in FIELDS:
        cleaned = attrs[column].astype("string").str.strip()
        # Plain None for missing or blank (pd.NA would leak into the checks below).
        attrs[column] = pd.Series(
            [text_or_none(v) or None for v in cleaned], index=attrs.index, dtype=object
        )
    for i, (code, kind) in enumerate(zip(attrs["code"], attrs["kind"], strict=True)):
        kind = _KIND_BY_LABEL.get(kind, kind)
        try:
            parsed = parse_asset_code(code)
            attrs.iat[i, attrs.columns.get_loc("code")] = str(parsed)
            attrs.iat[i, attrs.columns.get_loc("kind")] = kind_for(parsed, kind).key
        except InvalidInput as exc:
            rejects.setdefault(i, (exc.field or "code", exc.message("en")))
    status = attrs["status"].fillna("in_service")
    for i in np.flatnonzero(~status.isin(ASSET_STATUSES).to_numpy()):
        rejects.setdefault(
            int(i),
            (
                "status",
                f"unknown status {status.iat[i]!r}; map it to one of " + ", ".join(ASSET_STATUSES),
            ),
        )
    attrs["status"] = status
    for column, limit in LIMITS.items():
        too_long = attrs[column].map(lambda v, n=limit: v is not None and len(v) > n)
        for i in np.flatnonzero(too_long.to_numpy()):
            rejects.setdefault(int(i), (column, f"longer than {limit} characters"))
    for column in ("code", "external_id"):
        values = attrs[column]
        repeated = values.notna() & values.duplicated(keep="first")
        for i in np.flatnonzero(repeated.to_numpy()):
            rejects.setdefault(int(i), (column, f"{column} repeats an earlier row"))


def _reject_out_of_area(
    conn: Connection, points: np.ndarray, rejects: dict[int, tuple[str, str]]
) -> None:
    """Reject points outside every top-level region (usually a wrongly declared CRS)."""
    candidates = np.array([i for i in range(len(points)) if i not in rejects], dtype=np.int64)
    if len(candidates) == 0:
        return
    for i in candidates[outside_city(conn, points[candidates])]:
        rejects[int(i)] = ("geometry", OUTSIDE_CITY)


def _upsert(
    conn: Connection, attrs: pd.DataFrame, points: np.ndarray, cell_ids: np.ndarray
) -> tuple[int, int]:
    """COPY the rows into a temporary table, then one INSERT ... ON CONFLICT (code)."""
    conn.execute(
        text(
            "CREATE TEMP TABLE import_assets (row_no int, code text, kind text, name text, "
            "description text, status text, external_id text, cell_id int, "
            "location geometry(Point, 4326)) ON COMMIT DROP"
        )
    )
    raw = conn.connection.dbapi_connection
    codec = text_codec(raw)
    copy_binary(
        raw,
        "COPY import_assets FROM STDIN WITH (FORMAT binary)",
        [
            CopyField.integers(np.arange(1, len(attrs) + 1)),
            *(
                CopyField.text(attrs[c], codec)
                for c in ("code", "kind", "name", "description", "status", "external_id")
            ),
            CopyField.integers(np.maximum(cell_ids, 0), cell_ids >= 0),
            CopyField.blobs(shapely.to_wkb(points)),
        ],
    )
    counts = conn.execute(
        text("""
        WITH upserted AS (
            INSERT INTO city_assets (code, kind, name, description, status, external_id,
                                     cell_id, location, source)
            SELECT code, kind, name, description, status, external_id, cell_id, location,
                   :source
            FROM import_assets ORDER BY row_no
            ON CONFLICT (code) DO UPDATE SET
                kind = EXCLUDED.kind, name = EXCLUDED.name,
                description = EXCLUDED.description, status = EXCLUDED.status,
                external_id = EXCLUDED.external_id, cell_id = EXCLUDED.cell_id,
                location = EXCLUDED.location, source = EXCLUDED.source
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM upserted
    """),
        {"source": SOURCE},
    )
    inserted, updated = counts.one()
    conn.execute(text("DROP TABLE import_assets"))
    return int(inserted), int(updated)
