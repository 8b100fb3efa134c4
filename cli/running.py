"""How commands run: one transaction each (sync or async), domain errors as clean CLI
errors, timed progress lines on stderr."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Connection

from core.settings import get_settings


def timed_progress():
    """A reporter printing each message with the seconds since it was made."""
    start = time.monotonic()

    def report(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return report


@contextmanager
def bulk_transaction() -> Iterator[Connection]:
    """One sync transaction on the configured database: committed on success, rolled back
    on any failure (nothing half-written); domain errors become clean CLI errors."""
    from core.database import create_bulk_engine
    from core.errors import GridgovError

    engine = create_bulk_engine(get_settings().database_url)
    try:
        with engine.begin() as conn:
            yield conn
    except GridgovError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise click.ClickException(where + exc.message("en")) from exc
    finally:
        engine.dispose()


def in_async_transaction(work):
    """Run `work(session)` in one async transaction on the configured database (report
    intake is async): committed on success, rolled back on any failure; domain errors
    become clean CLI errors."""
    import asyncio

    from core.database import create_request_engine, session_factory, unit_of_work
    from core.errors import GridgovError

    async def run():
        engine = create_request_engine(get_settings().database_url, pool_size=1)
        try:
            # The command is one unit of work: a use case that commits itself joins it.
            async with session_factory(engine)() as session, unit_of_work(session):
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GridgovError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise click.ClickException(where + exc.message("en")) from exc
