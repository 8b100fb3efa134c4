"""Database schema: `gridgov db upgrade|downgrade|current` (Alembic migrations)."""

from __future__ import annotations

import click

from cli.running import bulk_transaction
from core.settings import get_settings


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    from migrations import alembic_config

    command.upgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")
    if revision == "head":
        from incidents.categories import sync_categories

        with bulk_transaction() as conn:
            click.echo(f"{sync_categories(conn)} report categories in force")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every gridgov table)."""
    from alembic import command

    from migrations import alembic_config

    command.downgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    from alembic import command

    from migrations import alembic_config

    command.current(alembic_config(get_settings().database_url))
