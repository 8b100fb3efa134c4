"""Retention: the personal data of reports finished longer ago than the retention period
is removed (contact, reporter account, photos' original files with their metadata) or
redacted (phone and ID numbers in free text), each report marked, counts returned."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from incidents.publication.redaction import redact
from incidents.status import TERMINAL

# Other tables holding personal data per incident, cleared with the report: (table,
# column set to NULL). A module adding such a table lists it here.
PERSONAL_COLUMNS: list[tuple[str, str]] = [
    ("open311_requests", "email"),
    ("open311_requests", "device_id"),
    ("open311_requests", "account_id"),
]

# Keyed hashes of a 12345 caller's name and phone (interop/hotline/orders_in.py): short values a
# holder of the key could still match, so they go too.
HOTLINE_CALLER_HASHES = ["caller_name", "caller_phone"]

# Free text per incident where phone and ID numbers are redacted: (table, column, what
# the report calls it).
REDACTED_COLUMNS: list[tuple[str, str, str]] = [
    ("incident_events", "note", "timeline notes redacted"),
    ("ratings", "comment", "rating comments redacted"),
    ("work_orders", "outcome", "revisit outcomes redacted"),
]

_BATCH = 500


@dataclass
class RetentionReport:
    """What a run changed (or, dry, would change), by kind of data."""

    cutoff: datetime
    dry_run: bool
    incidents: int = 0
    changed: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per kind of data."""
        verb = "would anonymise" if self.dry_run else "anonymised"
        head = f"{verb} {self.incidents} report(s) finished before {self.cutoff:%Y-%m-%d}"
        return [head, *(f"  {kind}: {n}" for kind, n in sorted(self.changed.items()))]


def _set_each(
    conn: Connection, table: str, row_ids: list[int], values: dict[str, list[str | None]]
) -> None:
    """One UPDATE giving each row (by id) its own text values, column by column."""
    columns = list(values)
    arrays = ", ".join(f"CAST(:{c} AS text[])" for c in columns)
    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    conn.execute(
        text(
            f"UPDATE {table} t SET {assignments} FROM unnest(CAST(:row_ids AS bigint[]), {arrays}) "
            f"AS v(id, {', '.join(columns)}) WHERE t.id = v.id"
        ),
        {"row_ids": row_ids, **values},
    )


def _redact_column(
    conn: Connection, table: str, column: str, ids: list[int], report: RetentionReport, kind: str
) -> None:
    """Redact phone and ID numbers in one text column of the rows of these incidents."""
    rows = conn.execute(
        text(
            f"SELECT id, {column} FROM {table} WHERE incident_id = ANY(:ids) "
            f"AND {column} IS NOT NULL"
        ),
        {"ids": ids},
    ).all()
    changed = [(row_id, cleaned) for row_id, value in rows if (cleaned := redact(value)) != value]
    report.changed[kind] += len(changed)
    if changed and not report.dry_run:
        row_ids, cleaned_values = map(list, zip(*changed, strict=True))
        _set_each(conn, table, row_ids, {column: cleaned_values})


def _anonymise_batch(conn: Connection, ids: list[int], report: RetentionReport) -> None:
    """Clear and redact the personal data of these incidents (locked by the caller)."""
    contact = conn.execute(
        text(
            "SELECT count(*) FROM incidents WHERE id = ANY(:ids) AND (reporter_name IS NOT NULL "
            "OR reporter_phone IS NOT NULL OR reporter_id IS NOT NULL)"
        ),
        {"ids": ids},
    ).scalar_one()
    report.changed["reporter contact and account"] += contact
    originals = conn.execute(
        text(
            "SELECT count(*) FROM incident_photos WHERE incident_id = ANY(:ids) "
            "AND original <> public_copy"
        ),
        {"ids": ids},
    ).scalar_one()
    report.changed["photo originals (with metadata) replaced by the clean copy"] += originals
    report.changed["12345 caller hashes"] += conn.execute(
        text(
            "SELECT count(*) FROM hotline_orders WHERE incident_id = ANY(:ids) "
            "AND field_hashes ?| CAST(:keys AS text[])"
        ),
        {"ids": ids, "keys": HOTLINE_CALLER_HASHES},
    ).scalar_one()
    # Followers (我也遇到): an account or a phone each, removed with the report's contact.
    report.changed["followers removed"] += conn.execute(
        text("SELECT count(*) FROM incident_followers WHERE incident_id = ANY(:ids)"), {"ids": ids}
    ).scalar_one()
    for table, column in PERSONAL_COLUMNS:
        n = conn.execute(
            text(
                f"SELECT count(*) FROM {table} WHERE incident_id = ANY(:ids) "
                f"AND {column} IS NOT NULL"
            ),
            {"ids": ids},
        ).scalar_one()
        report.changed[f"{table}.{column}"] += n

    # The description: phone and ID numbers redacted below, in the statement that marks
    # the report anonymised, which the review trigger lets keep its publication
    # (migrations/sql/incidents_text_review.sql).
    descriptions = conn.execute(
        text(
            "SELECT id, description FROM incidents WHERE id = ANY(:ids) AND description IS NOT NULL"
        ),
        {"ids": ids},
    ).all()
    redacted = {
        row.id: cleaned
        for row in descriptions
        if (cleaned := redact(row.description)) != row.description
    }
    report.changed["report descriptions redacted"] += len(redacted)
    for table, column, kind in REDACTED_COLUMNS:
        _redact_column(conn, table, column, ids, report, kind)
    if report.dry_run:
        return
    conn.execute(
        text(
            "UPDATE incidents t SET reporter_name = NULL, reporter_phone = NULL, "
            "reporter_id = NULL, anonymised_at = now(), "
            "description = coalesce(v.description, t.description) "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:descriptions AS text[])) "
            "AS v(id, description) WHERE t.id = v.id"
        ),
        {"ids": ids, "descriptions": [redacted.get(i) for i in ids]},
    )
    conn.execute(
        text(
            "UPDATE incident_photos SET original = public_copy WHERE incident_id = ANY(:ids) "
            "AND original <> public_copy"
        ),
        {"ids": ids},
    )
    for table, column in PERSONAL_COLUMNS:
        conn.execute(
            text(f"UPDATE {table} SET {column} = NULL WHERE incident_id = ANY(:ids)"), {"ids": ids}
        )
    conn.execute(
        text(
            "UPDATE hotline_orders SET field_hashes = field_hashes - CAST(:keys AS text[]) "
            "WHERE incident_id = ANY(:ids)"
        ),
        {"ids": ids, "keys": HOTLINE_CALLER_HASHES},
    )
    conn.execute(text("DELETE FROM incident_followers WHERE incident_id = ANY(:ids)"), {"ids": ids})


def anonymise_finished_reports(
    conn: Connection,
    now: datetime,
    retention: timedelta,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RetentionReport:
    """Anonymise every finished report whose end lies before now - retention, in batches
    inside the caller's transaction; a dry run counts without changing anything."""
    report = RetentionReport(cutoff=now - retention, dry_run=dry_run)
    after = 0
    while True:
        # Finished: a terminal status; its end is when it closed (else its last change).
        ids = list(
            conn.execute(
                text(
                    "SELECT id FROM incidents WHERE status = ANY(:terminal) "
                    "AND anonymised_at IS NULL "
                    "AND coalesce(closed_at, updated_at) < :cutoff AND id > :after "
                    "ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED"
                ),
                {
                    "terminal": sorted(TERMINAL),
                    "cutoff": report.cutoff,
                    "after": after,
                    "batch": _BATCH,
                },
            ).scalars()
        )
        if not ids:
            break
        _anonymise_batch(conn, ids, report)
        report.incidents += len(ids)
        after = ids[-1]
        if progress:
            progress(report.incidents)
    if not dry_run:
        # Housekeeping of the same kind: rate-limit windows long over.
        report.changed["expired rate-limit counters removed"] += conn.execute(
            text("DELETE FROM rate_limit_counters WHERE window_start < :day_ago"),
            {"day_ago": now - timedelta(days=1)},
        ).rowcount
        conn.execute(
            text(
                "INSERT INTO audit_log (action, subject_type, detail) VALUES ('retention', "
                "'incidents', CAST(:d AS jsonb))"
            ),
            {
                "d": json.dumps(
                    {
                        "incidents": report.incidents,
                        "cutoff": report.cutoff.isoformat(),
                        **report.changed,
                    },
                    ensure_ascii=False,
                )
            },
        )
    return report
