"""Default ratings: the rating that stands when nobody rated within the rating period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from incidents.ratings.scores import SCORE_LABELS
from incidents.status import Status
from incidents.timeline import event_rows
from incidents.versioning import next_version

# Who is due a default rating: closed reports with no handling rating, revisited work
# orders not re-rated, each past the cutoff (the same rule for a run and a dry run).
_UNRATED_REPORTS = """
    WHERE i.status = :closed AND i.closed_at < :cutoff
      AND NOT EXISTS (SELECT 1 FROM ratings g WHERE g.incident_id = i.id AND g.kind = 'handling')
"""
_UNRATED_WORK_ORDERS = "WHERE w.status = 'revisited' AND w.revisited_at < :cutoff"


# What every default rating's public 'rating' event in `rated` records.
_DEFAULT_EVENT_DATA = """jsonb_build_object('rating', id, 'overall', CAST(:score AS integer),
                                     'channel', 'default', 'defaulted', true)"""
_DEFAULT_EVENT = {
    "rows": "FROM rated",
    "incident_id": "incident_id",
    "note": "CAST(:note AS text)",
    "public": True,
    "at": "CAST(:now AS timestamptz)",
}
_HANDLING_EVENTS = event_rows(
    "rating",
    data=f"{_DEFAULT_EVENT_DATA} || jsonb_build_object('kind', 'handling')",
    **_DEFAULT_EVENT,
)
_RECTIFICATION_EVENTS = event_rows(
    "rating",
    data=f"""{_DEFAULT_EVENT_DATA} || jsonb_build_object('kind', 'rectification',
                                                         'work_order', work_order_id)""",
    **_DEFAULT_EVENT,
)


# Reports closed before the cutoff with no handling rating get the default. Locked FOR
# SHARE SKIP LOCKED so a report someone is acting on (or rating) is left for the next
# run; ON CONFLICT covers a rating committed after this statement's snapshot, so two
# runs at once, or a run racing a rater, never record two ratings.
_DEFAULT_HANDLING = text(f"""
WITH due AS (
    SELECT i.id FROM incidents i
    {_UNRATED_REPORTS}
    ORDER BY i.id
    FOR SHARE OF i SKIP LOCKED
), rated AS (
    INSERT INTO ratings (incident_id, kind, overall, channel, defaulted, created_at)
    SELECT id, 'handling', CAST(:score AS smallint), 'default', true, CAST(:now AS timestamptz)
    FROM due
    ON CONFLICT (incident_id) WHERE kind = 'handling' DO NOTHING
    RETURNING id, incident_id
), events AS (
{_HANDLING_EVENTS}
)
SELECT count(*) FROM rated
""")

# Revisited work orders the reporter did not re-rate in time: the default re-rating
# closes them.
_DEFAULT_RECTIFICATION = text(f"""
WITH due AS (
    SELECT w.id, w.incident_id FROM work_orders w
    {_UNRATED_WORK_ORDERS}
    ORDER BY w.id
    FOR UPDATE OF w SKIP LOCKED
), rated AS (
    INSERT INTO ratings (incident_id, work_order_id, kind, overall, channel, defaulted,
                         created_at)
    SELECT incident_id, id, 'rectification', CAST(:score AS smallint), 'default', true,
           CAST(:now AS timestamptz) FROM due
    ON CONFLICT (work_order_id) WHERE kind = 'rectification' DO NOTHING
    RETURNING id, incident_id, work_order_id
), closed AS (
    UPDATE work_orders w SET status = 'closed', {next_version("w")}
    FROM rated WHERE w.id = rated.work_order_id
), events AS (
{_RECTIFICATION_EVENTS}
)
SELECT count(*) FROM rated
""")

_COUNT_DUE = text(f"""
    SELECT (SELECT count(*) FROM incidents i {_UNRATED_REPORTS}),
           (SELECT count(*) FROM work_orders w {_UNRATED_WORK_ORDERS})
""")


@dataclass(frozen=True)
class DefaultRun:
    """Default ratings one run recorded (or, dry, would record)."""

    handling: int
    rectification: int
    dry_run: bool = False

    def summary(self) -> str:
        """One line for the CLI."""
        verb = "would record" if self.dry_run else "recorded"
        return (
            f"{verb} {self.handling + self.rectification} default rating(s) "
            f"({self.handling} of handling, {self.rectification} of rectifications)"
        )


def default_ratings(
    conn: Connection | Session,
    now: datetime,
    period_days: int,
    default_score: int,
    *,
    dry_run: bool = False,
) -> DefaultRun:
    """Record the default rating (marked defaulted) for every closed report not rated within
    `period_days` of closing, and every revisited work order not re-rated within that long
    of its revisit (closing it); set-based, idempotent, safe to run concurrently. Default
    ratings open no work order. In the caller's transaction."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if default_score not in SCORE_LABELS:
        raise ValueError("the default score is 1 to 5")
    cutoff = now - timedelta(days=period_days)
    if dry_run:
        handling, rectification = conn.execute(
            _COUNT_DUE, {"cutoff": cutoff, "closed": Status.CLOSED.value}
        ).one()
        return DefaultRun(handling, rectification, dry_run=True)
    params = {
        "cutoff": cutoff,
        "closed": Status.CLOSED.value,
        "score": default_score,
        "now": now,
        "note": f"默认评价：{SCORE_LABELS[default_score]}（{default_score}）",
    }
    handling = conn.execute(_DEFAULT_HANDLING, params).scalar_one()
    rectification = conn.execute(_DEFAULT_RECTIFICATION, params).scalar_one()
    return DefaultRun(handling, rectification)
