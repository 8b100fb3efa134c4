"""Database engines: async (asyncpg) for the request path, sync (psycopg2) for bulk work."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def driver_url(url: str, driver: str) -> str:
    """Return the URL with the given SQLAlchemy driver (asyncpg or psycopg2)."""
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


# A pooled connection left unused this long is pinged before it is handed out, so a
# database restarted while the service was quiet costs no failed request. Connections in
# steady use skip the ping: asyncpg's is three round trips (BEGIN, an empty query,
# ROLLBACK), about a fifth of the CPU of filing a report. A restart under load costs
# each worker one failed request, after which SQLAlchemy replaces the whole pool.
PING_AFTER_IDLE_S = 10.0


def create_request_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """Engine for request handling; a connection idle for a while is pinged first."""
    engine = create_async_engine(
        driver_url(url, "asyncpg"), pool_size=pool_size, max_overflow=pool_size
    )
    _ping_when_idle(engine.sync_engine, PING_AFTER_IDLE_S)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record) -> None:
        record.info["idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        idle_from = record.info.get("idle_from")  # None: a new connection
        if idle_from is None or time.monotonic() - idle_from < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another.
            raise exc.DisconnectionError() from error


def create_bulk_engine(url: str) -> Engine:
    """Sync engine for Alembic, geopandas and COPY."""
    return create_engine(driver_url(url, "psycopg2"), pool_pre_ping=True)


def ensure_database(url: str) -> None:
    """Create the database the URL names when it does not exist (tests, benchmarks)."""
    import psycopg2
    from psycopg2 import sql

    parsed = make_url(url)
    conn = psycopg2.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
    finally:
        conn.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def iter_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Yield one session for one unit of work and close it afterwards."""
    async with factory() as session:
        yield session


_IN_UNIT_OF_WORK = "gridgov.unit_of_work"


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit the work done inside when it succeeds; used inside another unit of work, join
    it (a composed service stays in the caller's transaction)."""
    if session.info.get(_IN_UNIT_OF_WORK):
        yield session
        return
    session.info[_IN_UNIT_OF_WORK] = True
    try:
        yield session
    finally:
        del session.info[_IN_UNIT_OF_WORK]
    # On an error nothing is committed and the session's owner (the request, the CLI)
    # rolls back as it closes. Not rolled back here: tests serve requests from a session
    # whose uncommitted fixtures a rollback would take along.
    await session.commit()


P = ParamSpec("P")
R = TypeVar("R")


def commits(
    use_case: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
    """Make a use case (its first argument the session) its own unit of work."""

    @functools.wraps(use_case)
    async def in_unit_of_work(session: AsyncSession, *args: P.args, **kwargs: P.kwargs) -> R:
        async with unit_of_work(session):
            return await use_case(session, *args, **kwargs)

    return in_unit_of_work
