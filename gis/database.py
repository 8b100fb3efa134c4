"""Database engines: async (asyncpg) for the request path, sync (psycopg2) for bulk work."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import Engine, create_engine
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


def create_request_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """Engine for request handling; pre-ping so a restarted database costs one retry."""
    return create_async_engine(
        driver_url(url, "asyncpg"),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def create_bulk_engine(url: str) -> Engine:
    """Sync engine for Alembic, geopandas and COPY."""
    return create_engine(driver_url(url, "psycopg2"), pool_pre_ping=True)


def ensure_database(url: str) -> None:
    """Create the database the URL names when it does not exist (tests, benchmarks)."""
    import psycopg2
    from psycopg2 import sql

    parsed = make_url(url)
    conn = psycopg2.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                            password=parsed.password, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(
                    sql.Identifier(parsed.database)))
    finally:
        conn.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def iter_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Yield one session for one unit of work and close it afterwards."""
    async with factory() as session:
        yield session
