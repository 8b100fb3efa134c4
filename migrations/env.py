"""Alembic environment: runs revisions over a sync psycopg2 connection."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from core.database import create_bulk_engine
from core.orm import Base
from core.settings import get_settings
from migrations import include_object, load_models

load_models()


def run_migrations() -> None:
    """Run migrations on the given connection, or on the configured database."""
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_bulk_engine(url)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
