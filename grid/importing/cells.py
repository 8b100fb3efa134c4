"""Import grid cells into a new draft boundary version (checked, then activated)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import Connection, text

from gis.crs import STORAGE_SRID
from grid.cell_names import name_problem
from grid.importing.geometry_checks import check_polygons
from grid.importing.reading import FieldMapping, read_geodata
from grid.importing.report import ImportReport, RowIssue
from grid.versions import create_draft_version

FIELDS = ["code", "name"]


def import_cells(
    conn: Connection,
    path: Path,
    *,
    label: str,
    mapping: FieldMapping | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    progress=None,
) -> tuple[ImportReport, int | None]:
    """Load cells as a draft version inside the caller's transaction; returns the report
    and the new version id (None on a dry run). Nothing is in force until activation."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = ImportReport(kind="cells", source=str(path), dry_run=dry_run)
    frame = read_geodata(path, layer=layer, encoding=encoding)
    report.read = len(frame)
    attrs = (mapping or FieldMapping()).apply(frame, FIELDS)
    geoms, geometry_rejects, repairs = check_polygons(frame.geometry.to_numpy())
    codes = attrs["code"].astype("string").str.strip()
    communities = dict(
        conn.execute(text("SELECT code, id FROM regions WHERE level = 'community'")).all()
    )
    rejects: dict[int, tuple[str, str]] = {i: ("geometry", r) for i, r in geometry_rejects.items()}
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code is None or code is np.nan or not isinstance(code, str):
            rejects.setdefault(i, ("code", "code is required"))
        elif not (len(code) == 15 and code.isdigit()):
            rejects.setdefault(i, ("code", f"code {code!r} is not 15 digits"))
        elif code[:12] not in communities:
            rejects.setdefault(i, ("code", f"no community {code[:12]} for code {code}"))
        elif code in seen:
            rejects.setdefault(i, ("code", f"code {code} repeats an earlier row"))
        else:
            seen.add(code)
    # A name is optional (a missing or blank one becomes 网格<last 3 digits>); one given
    # follows the rule an admin's rename does.
    names = attrs["name"].astype("string").str.strip()
    for i, name in enumerate(names):
        if isinstance(name, str) and name and (problem := name_problem(name)):
            rejects.setdefault(i, ("name", problem))
    report.rejected = [
        RowIssue(i + 1, None if i not in rejects else str(codes.iat[i]), f, r)
        for i, (f, r) in sorted(rejects.items())
    ]
    report.repaired = [
        RowIssue(i + 1, str(codes.iat[i]), "geometry", r) for i, r in sorted(repairs.items())
    ]
    keep = np.ones(len(frame), dtype=bool)
    keep[list(rejects)] = False
    say(f"cells: {int(keep.sum())} usable of {report.read}")
    savepoint = conn.begin_nested() if dry_run else None
    version_id = create_draft_version(conn, label, "import")
    rows = [
        {
            "v": version_id,
            "code": codes.iat[i],
            "name": names.iat[i]
            if isinstance(names.iat[i], str) and names.iat[i]
            else f"网格{codes.iat[i][-3:]}",
            "community": communities[codes.iat[i][:12]],
            "wkb": shapely.to_wkb(
                shapely.set_srid(geoms[i], STORAGE_SRID), hex=True, include_srid=True
            ),
        }
        for i in np.flatnonzero(keep)
    ]
    if rows:  # cells number in the thousands at most: one executemany is enough
        conn.execute(
            text("""
            INSERT INTO grid_cells (version_id, code, name, community_id, boundary)
            VALUES (:v, :code, :name, :community, ST_Multi(ST_GeomFromEWKB(decode(:wkb, 'hex'))))
        """),
            rows,
        )
    report.inserted = len(rows)
    if savepoint is not None:
        savepoint.rollback()
        version_id = None
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report, version_id
