"""`gridgov ratings default`: default ratings of closed reports."""

from __future__ import annotations

import click

from cli.running import bulk_transaction
from core.settings import get_settings


@click.group()
def ratings() -> None:
    """好差评: ratings of closed reports."""


@ratings.command("default")
@click.option("--dry-run", is_flag=True, help="Count what is due; record nothing.")
def ratings_default(dry_run: bool) -> None:
    """Record the default rating (GRIDGOV_DEFAULT_RATING, marked defaulted) of every report
    closed longer than GRIDGOV_RATING_PERIOD_DAYS ago without a rating, and of every
    revisited work order not re-rated in that time; `gridgov escalate` does this each run."""
    from datetime import UTC, datetime

    from incidents.ratings.defaults import default_ratings

    settings = get_settings()
    with bulk_transaction() as conn:
        run = default_ratings(
            conn,
            datetime.now(UTC),
            settings.rating_period_days,
            settings.default_rating,
            dry_run=dry_run,
        )
    click.echo(run.summary())
