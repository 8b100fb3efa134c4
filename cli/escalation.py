"""`gridgov escalate`: step overdue reports up, and record due default ratings."""

from __future__ import annotations

import time

import click

from cli.running import bulk_transaction
from core.settings import get_settings


@click.command("escalate")
@click.option("--loop", is_flag=True, help="Run again every --every seconds until Ctrl-C.")
@click.option(
    "--every",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds between runs with --loop.",
)
@click.option(
    "--interval",
    default="1wd",
    show_default=True,
    help="Time an overdue report waits between steps up: 30m, 4h, 1wd ...",
)
@click.option("--dry-run", is_flag=True, help="Count what is due; change nothing.")
def escalate_cmd(loop: bool, every: int, interval: str, dry_run: bool) -> None:
    """Escalate unaccepted and overdue reports and overdue rectification work orders, and
    record the default rating of reports past the rating period (once, or forever with
    --loop)."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import OperationalError

    from incidents.handling.escalation import escalate
    from incidents.handling.workdays import DeadlineRule, load_work_calendar
    from incidents.ratings.defaults import default_ratings

    try:
        rule = DeadlineRule.parse(interval)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from exc
    settings = get_settings()
    calendar = load_work_calendar(settings.holidays_file, settings.working_hours)
    try:
        while True:
            now = datetime.now(UTC)
            try:
                # One transaction per run: Ctrl-C in the middle rolls the run back.
                with bulk_transaction() as conn:
                    run = escalate(conn, now, calendar=calendar, interval=rule, dry_run=dry_run)
                    defaults = default_ratings(
                        conn,
                        now,
                        settings.rating_period_days,
                        settings.default_rating,
                        dry_run=dry_run,
                    )
                click.echo(
                    f"{now.isoformat(timespec='seconds')} {run.summary()}; {defaults.summary()}"
                )
            except OperationalError as exc:
                if not loop:
                    raise
                # A loop outlives a database restart: say so and try again next time.
                click.echo(f"database unavailable ({exc.orig}); retrying in {every}s", err=True)
            if not loop:
                return
            time.sleep(every)
    except KeyboardInterrupt:
        click.echo("escalate: stopped", err=True)
