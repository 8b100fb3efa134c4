"""`gridgov retention run`: anonymise finished reports past the retention period."""

from __future__ import annotations

import click

from cli.running import bulk_transaction, timed_progress
from core.settings import get_settings


@click.group()
def retention() -> None:
    """Retention of personal data in finished reports."""


@retention.command("run")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    help="Finished this many days ago or more (default GRIDGOV_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
def retention_run(days: int | None, dry_run: bool) -> None:
    """Anonymise reports finished longer ago than the retention period: contact and
    reporter account removed, phone and ID numbers redacted from free text, photos'
    originals replaced by their metadata-free copies; prints what changed, by kind."""
    from datetime import UTC, datetime, timedelta

    from incidents.retention import anonymise_finished_reports

    period = timedelta(days=days or get_settings().retention_days)
    say = timed_progress()
    with bulk_transaction() as conn:
        report = anonymise_finished_reports(
            conn,
            datetime.now(UTC),
            period,
            dry_run=dry_run,
            progress=lambda n: say(f"{n} report(s) done"),
        )
    for line in report.lines():
        click.echo(line)
