"""Test harness: a real PostGIS test database, migrated once, one rolled-back transaction
per test."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from alembic import command
from httpx import ASGITransport, AsyncClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.database import create_bulk_engine, create_request_engine, ensure_database
from core.settings import Settings
from incidents.categories import sync_categories
from migrations import alembic_config

# The page tests' server, browser and world fixtures.
pytest_plugins = ["tests.pages_support"]


# A run's own database is named for its host and process, so two runs never share (or
# drop) each other's; one left by a run that died on this host is dropped by the next run
# here (a pid can only be checked on its own host; other hosts' databases are left alone).
_RUN_PREFIX = "_test_run_"
_HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _test_database_url() -> tuple[str, bool]:
    """The database this run tests against, and whether the run owns it (drops it at the
    end): GRIDGOV_TEST_DATABASE_URL when set (kept), else
    `<database>_test_run_<host tag>_<pid>`."""
    base = Settings(environment="development")
    if base.test_database_url:
        # Parallel workers (pytest-xdist) each take their own copy of a named database.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if not worker:
            return base.test_database_url, False
        named = make_url(base.test_database_url)
        copy = named.set(database=f"{named.database}_{worker}")
        return copy.render_as_string(hide_password=False), False
    url = make_url(base.database_url)
    # Never run tests against the main database; each worker process has its own pid.
    own = url.set(database=f"{url.database}{_RUN_PREFIX}{_HOST_TAG}_{os.getpid()}")
    return own.render_as_string(hide_password=False), True


def _drop_databases(url: str, *, only_dead_runs: bool) -> None:
    """Drop this run's database, or (at the start) those of this host's runs whose
    process is gone and that nobody is connected to."""
    import psycopg2
    from psycopg2 import sql

    parsed = make_url(url)
    stem = parsed.database.rsplit(_RUN_PREFIX, 1)[0] + f"{_RUN_PREFIX}{_HOST_TAG}_"
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
            if only_dead_runs:
                # Pids are checked on this host only (the tag); a database someone is
                # connected to is kept whatever its pid says.
                cur.execute(
                    "SELECT d.datname FROM pg_database d WHERE starts_with(d.datname, %s) "
                    "AND NOT EXISTS (SELECT FROM pg_stat_activity a "
                    "WHERE a.datname = d.datname AND a.pid <> pg_backend_pid())",
                    (stem,),
                )
                names = [
                    n
                    for (n,) in cur.fetchall()
                    if n.removeprefix(stem).isdigit() and _dead_or_mine(int(n.removeprefix(stem)))
                ]
            else:
                names = [parsed.database]
            for name in names:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    finally:
        conn.close()


def _dead_or_mine(pid: int) -> bool:
    """Whether no live process of this host but this one has the pid (a database left
    under this run's own pid is from an earlier process that had it: stale too)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_DATABASE_URL, _OWNED = _test_database_url()
# Code under test that reads the process-wide settings (a CLI command a test forgot to
# point, a subprocess it starts) finds this run's database, never the main one a demo
# server may be using.
os.environ["GRIDGOV_DATABASE_URL"] = _DATABASE_URL


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings for tests: the test database and a random signing key."""
    return Settings(
        environment="test",
        database_url=_DATABASE_URL,
        secret_key=secrets.token_urlsafe(48),
        id_hash_key=secrets.token_urlsafe(48),
        # Tests file many reports from one address; tests/test_abuse.py turns limits on.
        rate_limits_enabled=False,
    )


@pytest.fixture(scope="session")
def migrated_db(settings: Settings, request: pytest.FixtureRequest) -> str:
    """The test database, created on demand and migrated to head once per session; a
    run's own database is dropped when the run ends."""
    if _OWNED:
        _drop_databases(settings.database_url, only_dead_runs=True)
        request.addfinalizer(lambda: _drop_databases(settings.database_url, only_dead_runs=False))
    ensure_database(settings.database_url)
    command.upgrade(alembic_config(settings.database_url), "head")
    engine = create_bulk_engine(settings.database_url)
    with engine.begin() as conn:  # what `gridgov db upgrade` does after migrating
        sync_categories(conn)
    engine.dispose()
    return settings.database_url


@pytest.fixture(scope="session")
def sync_engine(migrated_db: str) -> Iterator[Engine]:
    """Sync (psycopg2) engine on the test database."""
    engine = create_bulk_engine(migrated_db)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def async_engine(migrated_db: str) -> AsyncIterator[AsyncEngine]:
    """Async (asyncpg) engine on the test database."""
    engine = create_request_engine(migrated_db, pool_size=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def db(async_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test; commits made by
    code under test become savepoints."""
    async with async_engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


@pytest.fixture
def app(settings: Settings, db: AsyncSession):
    """The real app, its requests served from the test's session."""
    from tests.factories import app_on_session

    return app_on_session(settings, db)


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[AsyncClient]:
    """An HTTP client talking to the app in-process."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def conn(sync_engine):
    """A sync connection holding the small test city, in a transaction rolled back after
    the test (for bulk code that works on sync connections)."""
    from tests.sync_world import make_sync_world

    with sync_engine.connect() as connection:
        outer = connection.begin()
        make_sync_world(connection)
        yield connection
        outer.rollback()
