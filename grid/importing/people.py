"""Import the population register (人口台账) from one flat CSV: a row per person with their
house and household. Houses, households and people follow their building to its cell."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, text

from grid.importing.people_matching import (
    check_groups,
    link_buildings,
    resolve_households,
    resolve_houses,
    resolve_people,
)
from grid.importing.people_rows import Rejects, check_rows, kept_rows, read_rows, take_id_numbers
from grid.importing.people_writing import write_population
from grid.importing.reading import FieldMapping
from grid.importing.report import ImportReport, RowIssue

Progress = Callable[[str], None]


def import_population(
    conn: Connection,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    encoding: str | None = None,
    id_hash_key: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import houses, households and people from a flat CSV inside the caller's transaction.

    Every unusable row is reported with its field and reason, never silently dropped; rows
    are matched to the register by external id (houses also by building + unit number,
    people also by ID number hash), so a re-import updates instead of duplicating. Raw ID
    numbers are kept only as keyed hash + last four. A dry run writes inside a savepoint
    that is rolled back, so its report is exact."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = ImportReport(kind="people", source=str(path), dry_run=dry_run)

    say(f"reading {Path(path).name}")
    attrs, given, tag_table = read_rows(Path(path), mapping or FieldMapping(), encoding)
    report.read = len(attrs)
    say(f"read {report.read} rows; checking")
    rejects: Rejects = {}
    repairs: Rejects = {}
    take_id_numbers(attrs, id_hash_key.encode("utf-8"), rejects, repairs)
    check_rows(attrs, tag_table, rejects)
    # One population import at a time: the keys read below must not change before we write.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov import people'))"))
    link_buildings(conn, attrs, rejects)
    check_groups(attrs, rejects)
    resolve_houses(conn, attrs, rejects)
    resolve_households(conn, attrs, rejects)
    resolve_people(conn, attrs, rejects)
    report.rejected = _issues(rejects, attrs)
    report.repaired = _issues({i: r for i, r in repairs.items() if i not in rejects}, attrs)

    rows = attrs[kept_rows(attrs, rejects)]
    say(
        f"writing {rows['house_key'].nunique()} houses, {rows['household_key'].nunique()} "
        f"households, {len(rows)} people; {len(rejects)} rows rejected"
    )
    savepoint = conn.begin_nested() if dry_run else None
    report.counts = write_population(conn, rows, given)
    if savepoint is not None:
        savepoint.rollback()
    report.inserted = report.counts["people"]["inserted"]
    report.updated = report.counts["people"]["updated"]
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


def _issues(found: Rejects, attrs: pd.DataFrame) -> list[RowIssue]:
    """Row issues in file order, each named by the person's external id."""
    externals = attrs["person_external_id"].to_numpy(dtype=object, na_value=None)
    return [
        RowIssue(i + 1, externals[i], field, reason) for i, (field, reason) in sorted(found.items())
    ]
