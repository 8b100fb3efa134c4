"""Import administrative regions (city > district > street > community) from GIS files:
levels and parents inferred from the codes, parents written first, upserted by code.

Level: as given (city, district, street, community, or 市, 区, 县, 街道, 镇, 社区, 村 ...;
a mapping's [values.level] adds more) and then it must fit the code's length. When no
level is given, 9 digits is a street and 12 a community; 6 digits is either a city or a
district, so it is a district when a parent_code is given, else the level already stored
for that code, else the row is rejected. A stored region's level is never changed.

Parent: the parent_code given, else the parent already stored for that code (a file
without parent codes never undoes an earlier move), else the code's prefix (a street's
first 6 digits, a community's first 9). A district has no prefix to go by: its city must
be given or already known. The parent must be one level up, in the file or the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.crs import STORAGE_SRID
from gis.spreadsheet_csv import SpreadsheetWriter
from grid.checks import MIN_PROBLEM_AREA_M2
from grid.importing.geometry_checks import check_polygons, outside_lonlat_range
from grid.importing.reading import FieldMapping, read_geodata
from grid.importing.report import ImportReport, RowIssue
from grid.roles import CODE_LENGTH, RegionLevel

FIELDS = ["code", "name", "level", "parent_code"]
# Without one of these columns no row could be imported: the file is refused instead.
REQUIRED_COLUMNS = ["code", "name"]
LEVELS = list(RegionLevel)  # top-down: parents are written before their children
PARENT_LEVEL = {
    RegionLevel.DISTRICT: RegionLevel.CITY,
    RegionLevel.STREET: RegionLevel.DISTRICT,
    RegionLevel.COMMUNITY: RegionLevel.STREET,
}
CODE_LENGTHS = sorted(set(CODE_LENGTH.values()))
NAME_MAX_LENGTH = 100  # regions.name is varchar(100)
# Levels as Chinese exports write them; a mapping's [values.level] entries are added and win.
DEFAULT_LEVEL_VALUES = {
    "市": "city",
    "地级市": "city",
    "区": "district",
    "县": "district",
    "区县": "district",
    "县级市": "district",
    "街道": "street",
    "街道办": "street",
    "镇": "street",
    "乡": "street",
    "乡镇": "street",
    "社区": "community",
    "居委会": "community",
    "村": "community",
    "村委会": "community",
}
Progress = Callable[[str], None]
Rejects = dict[int, tuple[str, str]]  # row index -> (field, reason)


@dataclass
class RegionImportReport(ImportReport):
    """An import report that also lists regions sticking out of their parent. Those are
    warnings: the rows are imported (boundaries drawn at different scales rarely nest
    exactly), but a manager should look at them."""

    outside_parent: list[RowIssue] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        verb = "would import" if self.dry_run else "imported"
        line = (
            f"{self.kind}: read {self.read}, {verb} {self.inserted} new and "
            f"{self.updated} updated, repaired {len(self.repaired)}, "
            f"rejected {len(self.rejected)}, outside their parent {len(self.outside_parent)} "
            f"({self.seconds:.1f}s)"
        )
        for kind, counts in self.counts.items():
            line += f"; {kind}: " + ", ".join(f"{n} {what}" for what, n in counts.items())
        return line

    def write(self, path: Path) -> None:
        """Save as JSON (.json), or as CSV of the row issues with the warnings last."""
        super().write(path)
        if Path(path).suffix.lower() == ".json" or not self.outside_parent:
            return
        with Path(path).open("a", newline="", encoding="utf-8") as out:
            writer = SpreadsheetWriter(out)
            for issue in self.outside_parent:
                writer.writerow(
                    ["outside_parent", issue.row, issue.external_id, issue.field, issue.reason]
                )


class _Stored(NamedTuple):
    level: str
    parent_code: str | None


@dataclass
class _Region:
    """A row that passed the row checks, with its level and (later) its parent."""

    index: int  # 0-based record in the file
    code: str
    name: str
    level: RegionLevel
    given_parent: str | None
    parent_code: str | None = None


def import_regions(
    conn: Connection,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RegionImportReport:
    """Import regions into `regions` inside the caller's transaction: upserted by code,
    paths recomputed for moved regions and their descendants, every unusable row reported
    with its field and reason. A dry run works in a savepoint rolled back at the end."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = RegionImportReport(kind="regions", source=str(path), dry_run=dry_run)

    say(f"reading {Path(path).name}")
    frame = read_geodata(path, layer=layer, encoding=encoding)
    report.read = len(frame)
    mapping = mapping or FieldMapping()
    mapping.check_columns(frame, FIELDS, REQUIRED_COLUMNS, "region")
    # Levels are translated after trimming, with the built-in Chinese names (below).
    other_values = {f: t for f, t in mapping.values.items() if f != "level"}
    attrs = FieldMapping(mapping.columns, other_values).apply(frame, FIELDS)
    level_values = {**DEFAULT_LEVEL_VALUES, **mapping.values.get("level", {})}

    geoms, geometry_rejects, repairs = check_polygons(frame.geometry.to_numpy())
    rejects: Rejects = {i: ("geometry", r) for i, r in geometry_rejects.items()}
    for i in np.flatnonzero(outside_lonlat_range(geoms)):
        rejects.setdefault(
            int(i), ("geometry", "outside the longitude/latitude range (check the declared CRS)")
        )
    codes = [_code_text(v) for v in attrs["code"]]

    # Two region imports at once would each check parents against the other's old state.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov import regions'))"))
    stored = _stored_regions(conn)
    candidates, first_rows = _check_rows(attrs, codes, level_values, stored, rejects)
    regions = _resolve_parents(candidates, first_rows, stored, rejects)
    report.repaired = [
        RowIssue(i + 1, codes[i], "geometry", r)
        for i, r in sorted(repairs.items())
        if i not in rejects
    ]
    report.rejected = [RowIssue(i + 1, codes[i], f, r) for i, (f, r) in sorted(rejects.items())]
    say(f"regions: {len(regions)} usable of {report.read}")

    savepoint = conn.begin_nested() if dry_run else None
    _upsert(conn, regions, geoms)
    changed_paths = _recompute_paths(conn)
    report.outside_parent = _outside_parent(conn, regions)
    if savepoint is not None:
        savepoint.rollback()
    report.inserted = sum(r.code not in stored for r in regions)
    report.updated = len(regions) - report.inserted
    moved = sum(r.code in stored and stored[r.code].parent_code != r.parent_code for r in regions)
    report.counts = {
        "regions": {"moved": moved, "paths recomputed": changed_paths - report.inserted}
    }
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


def _text(value) -> str | None:
    """A trimmed string, or None for missing and blank values."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _code_text(value) -> str | None:
    """A code as text: a numeric column (770101.0) reads as its digits."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and value == int(value):
        return str(int(value))
    return _text(value)


def _stored_regions(conn: Connection) -> dict[str, _Stored]:
    """Every region's level and parent code (regions number in the thousands)."""
    rows = conn.execute(
        text(
            "SELECT r.code, r.level, p.code FROM regions r "
            "LEFT JOIN regions p ON p.id = r.parent_id"
        )
    )
    return {code: _Stored(level, parent) for code, level, parent in rows}


def _check_rows(
    attrs: pd.DataFrame,
    codes: list[str | None],
    level_values: dict[str, str],
    stored: dict[str, _Stored],
    rejects: Rejects,
) -> tuple[list[_Region], dict[str, int]]:
    """Code, name and level checks, row by row; returns the rows that pass and the first
    row of each well-formed code (rejected rows included, to name them to their children)."""
    first_rows: dict[str, int] = {}
    candidates: list[_Region] = []
    for i, code in enumerate(codes):
        if code is None:
            rejects.setdefault(i, ("code", "code is required"))
            continue
        if not (code.isdigit() and len(code) in CODE_LENGTHS):
            rejects.setdefault(i, ("code", f"code {code!r} is not 6, 9 or 12 digits"))
            continue
        if code in first_rows:
            rejects.setdefault(i, ("code", f"code {code} repeats row {first_rows[code] + 1}"))
            continue
        first_rows[code] = i
        name = _text(attrs["name"].iat[i])
        given_parent = _code_text(attrs["parent_code"].iat[i])
        raw_level = _text(attrs["level"].iat[i])
        if raw_level is not None:
            raw_level = str(level_values.get(raw_level, raw_level)).strip().lower()
        level, problem = _level(code, raw_level, given_parent, stored)
        if name is None:
            problem = problem or ("name", "name is required")
        elif len(name) > NAME_MAX_LENGTH:
            problem = problem or ("name", f"name is longer than {NAME_MAX_LENGTH} characters")
        if problem:
            rejects.setdefault(i, problem)
        if i not in rejects:
            candidates.append(_Region(i, code, name, level, given_parent))
    return candidates, first_rows


def _level(
    code: str, raw_level: str | None, given_parent: str | None, stored: dict[str, _Stored]
) -> tuple[RegionLevel | None, tuple[str, str] | None]:
    """The row's level, or the reason it has none."""
    if raw_level is not None:
        try:
            level = RegionLevel(raw_level)
        except ValueError:
            return None, (
                "level",
                f"unknown level {raw_level!r}; use city, district, street "
                "or community (or map it in [values.level])",
            )
        if CODE_LENGTH[level] != len(code):
            return None, (
                "level",
                f"a {level} has a {CODE_LENGTH[level]}-digit code, "
                f"but {code} has {len(code)} digits",
            )
    elif len(code) == CODE_LENGTH[RegionLevel.CITY]:  # a city or a district
        if given_parent is not None:
            level = RegionLevel.DISTRICT
        elif code in stored:
            level = RegionLevel(stored[code].level)
        else:
            return None, (
                "level",
                f"{code} may be a city or a district: give its level, or a district's parent_code",
            )
    else:
        level = next(lv for lv in LEVELS if CODE_LENGTH[lv] == len(code))
    if code in stored and stored[code].level != level:
        return None, (
            "level",
            f"{code} is stored as a {stored[code].level}; an import does "
            f"not change a region's level",
        )
    return level, None


def _resolve_parents(
    candidates: list[_Region],
    first_rows: dict[str, int],
    stored: dict[str, _Stored],
    rejects: Rejects,
) -> list[_Region]:
    """Each row's parent, checked top-down (so a rejected parent rejects its children);
    returns the accepted regions, parents before children."""
    in_file = {r.code: r.level for r in candidates}
    accepted: dict[str, _Region] = {}
    for region in sorted(candidates, key=lambda r: (LEVELS.index(r.level), r.index)):
        parent, problem = _parent(region, accepted, in_file, first_rows, stored)
        if problem:
            rejects[region.index] = problem
        else:
            region.parent_code = parent
            accepted[region.code] = region
    return list(accepted.values())


def _parent(
    region: _Region,
    accepted: dict[str, _Region],
    in_file: dict[str, RegionLevel],
    first_rows: dict[str, int],
    stored: dict[str, _Stored],
) -> tuple[str | None, tuple[str, str] | None]:
    """The row's parent code (None for a city), or the reason it will not do."""
    if region.level is RegionLevel.CITY:
        if region.given_parent is not None:
            return None, ("parent_code", "a city has no parent; leave parent_code empty")
        return None, None
    expected = PARENT_LEVEL[region.level]
    known = stored.get(region.code)
    parent = region.given_parent or (known.parent_code if known else None)
    if parent is None and CODE_LENGTH[expected] < len(region.code):
        parent = region.code[: CODE_LENGTH[expected]]
    if parent is None:
        return None, ("parent_code", f"a {region.level} needs parent_code (its {expected}'s code)")
    if parent in accepted:
        level = accepted[parent].level
    elif parent in stored:
        level = stored[parent].level
    elif parent in in_file and in_file[parent] != expected:
        level = in_file[parent]  # the wrong level, whatever became of that row
    elif parent in first_rows:
        return None, ("parent_code", f"parent {parent} was rejected (row {first_rows[parent] + 1})")
    else:
        return None, ("parent_code", f"parent {parent} is neither in the file nor in the database")
    if level != expected:
        return None, (
            "parent_code",
            f"parent {parent} is a {level}; a {region.level}'s parent must be a {expected}",
        )
    return parent, None


_UPSERT = text("""
    INSERT INTO regions (code, name, level, parent_id, path, boundary)
    VALUES (:code, :name, :level, (SELECT id FROM regions WHERE code = :parent), '',
            ST_Multi(ST_GeomFromEWKB(decode(:wkb, 'hex'))))
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, boundary = EXCLUDED.boundary
""")  # a new row's path is filled in by _recompute_paths, in the same transaction


def _upsert(conn: Connection, regions: list[_Region], geoms: np.ndarray) -> None:
    """Insert or update by code, a level at a time so every parent exists before its
    children (regions number in the thousands: one executemany per level is enough)."""
    for level in LEVELS:
        rows = [
            {
                "code": r.code,
                "name": r.name,
                "level": level.value,
                "parent": r.parent_code,
                "wkb": shapely.to_wkb(
                    shapely.set_srid(geoms[r.index], STORAGE_SRID), hex=True, include_srid=True
                ),
            }
            for r in regions
            if r.level is level
        ]
        if rows:
            conn.execute(_UPSERT, rows)


def _recompute_paths(conn: Connection) -> int:
    """Rewrite every path that no longer matches the tree; returns how many changed.

    Walking the whole tree in one statement is simpler than following each moved
    subtree, and it is cheap at regions' scale. Only rows whose path differs are
    written: new rows, moved rows and their descendants."""
    return conn.execute(
        text("""
        WITH RECURSIVE tree (id, path) AS (
            SELECT id, '/' || id || '/' FROM regions WHERE parent_id IS NULL
            UNION ALL
            SELECT r.id, tree.path || r.id || '/'
            FROM regions r JOIN tree ON r.parent_id = tree.id
        )
        UPDATE regions r SET path = tree.path FROM tree
        WHERE r.id = tree.id AND r.path IS DISTINCT FROM tree.path
    """)
    ).rowcount


def _outside_parent(conn: Connection, regions: list[_Region]) -> list[RowIssue]:
    """Imported regions sticking out of their parent, and stored children sticking out of
    an imported parent, by at least MIN_PROBLEM_AREA_M2 (less is reprojection noise)."""
    if not regions:
        return []
    rows = conn.execute(
        text("""
        SELECT child, parent, child_level, area FROM (
            SELECT c.code AS child, p.code AS parent, c.level AS child_level,
                   ST_Area(ST_Difference(c.boundary, p.boundary)::geography) AS area
            FROM regions c JOIN regions p ON p.id = c.parent_id
            WHERE (c.code = ANY(:codes) OR p.code = ANY(:codes))
              AND NOT ST_CoveredBy(c.boundary, p.boundary)
        ) outside
        WHERE area >= :min_area
        ORDER BY child
    """),
        {"codes": [r.code for r in regions], "min_area": MIN_PROBLEM_AREA_M2},
    ).all()
    row_of = {r.code: r.index + 1 for r in regions}
    issues = []
    for child, parent, child_level, area in rows:
        if child in row_of:
            issues.append(
                RowIssue(
                    row_of[child],
                    child,
                    "geometry",
                    f"sticks out of its parent {parent} by {area:,.1f} m²",
                )
            )
        else:
            issues.append(
                RowIssue(
                    row_of[parent],
                    parent,
                    "geometry",
                    f"its {child_level} {child} (not in this file) sticks out "
                    f"of it by {area:,.1f} m²",
                )
            )
    return sorted(issues, key=lambda issue: issue.row)
