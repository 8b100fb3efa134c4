"""Fuzzing the API against its own OpenAPI document (schemathesis, in-process): no input
makes a server error, and every answer a route documents matches its schema; as an admin
(past every role gate) and anonymously. Bounded and derandomised, so a run is repeatable
and short."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from fastapi.concurrency import run_in_threadpool
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app, intake_context
from api.deps import get_bulk_runner, get_session
from core.database import create_bulk_engine, create_request_engine
from core.settings import Settings
from incidents.intake.filing import ReportIn, submit_report
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_user,
    make_world,
    metres_point,
)

# Examples per operation and caller: ~85 operations x 2 callers stay around a minute on
# two cores. Raise it by hand for a deeper run (the run is derandomised either way).
MAX_EXAMPLES = 6
# Not fuzzed in-process: the event stream never ends by itself (tests/test_outbox.py
# drives it through a real server).
NOT_FUZZED = ["/inbox/stream"]
CHECKS = [not_a_server_error, response_schema_conformance]


class RolledBackApp:
    """The app for fuzzing: served from one connection opened at start-up (in the
    fuzzer's own event loop) whose transaction is never committed, every request inside a
    savepoint rolled back after it, so no input changes the world the next one sees."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.engine: Any = None
        self.admin_headers: dict[str, str] = {}

    def configure(self, settings: Settings) -> None:
        """Build the app with the tests' settings (before the fuzzer's first request)."""
        self.settings = settings
        self.app = create_app(settings)
        self.app.dependency_overrides[get_session] = self._session_dependency
        self.app.dependency_overrides[get_bulk_runner] = self._bulk_runner
        self.app.state.sessions = self._sessions
        # Counters (ID searches, reporter look-ups) write on the fuzzer's connection too.
        self.app.state.autocommit = self._sessions

    def _new_session(self) -> AsyncSession:
        return AsyncSession(
            bind=self.conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    async def _session_dependency(self):
        async with self._new_session() as session:
            yield session

    @asynccontextmanager
    async def _sessions(self):
        async with self._new_session() as session:
            yield session

    async def _bulk_runner(self):
        """Bulk work (imports, boundary versions) on a psycopg2 connection of its own, as
        in the app, but in a savepoint of a transaction that is never committed."""

        def in_savepoint(work):
            savepoint = self.bulk_conn.begin_nested()
            try:
                return work(self.bulk_conn)
            finally:
                savepoint.rollback()

        async def run(work):
            return await run_in_threadpool(in_savepoint, work)

        return run

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        savepoint = await self.conn.begin_nested()
        try:
            await self.app(scope, receive, send)
        finally:
            if savepoint.is_active:
                await savepoint.rollback()

    async def _lifespan(self, receive, send) -> None:
        await receive()  # startup
        await self._open()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown
        await self.close()
        await send({"type": "lifespan.shutdown.complete"})

    async def _open(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.engine = create_request_engine(self.settings.database_url, pool_size=1)
        self.conn = await self.engine.connect()
        await self.conn.begin()
        self.bulk_engine = create_bulk_engine(self.settings.database_url)
        self.bulk_conn = self.bulk_engine.connect()
        self.bulk_conn.begin()
        session = self._new_session()
        world = await make_world(session)
        worker = await make_user(session, "fuzz-worker", "grid_worker", world.community_a)
        await assign(session, world.cell_a1, worker, valid_from=date(2026, 1, 1))
        await make_building(session, world.cell_a1, (100, 100, 140, 140), "模糊路1号")
        admin = await make_user(session, "fuzz-admin", "admin")
        lon, lat = metres_point(250, 250)
        await submit_report(
            session,
            intake_context(self.settings),
            ReportIn(category="fire.blocked_exit", lon=lon, lat=lat, description="楼道堵塞"),
            [],
            None,
            datetime.now(UTC),
        )
        await session.commit()
        await session.close()
        self.admin_headers = auth_headers(admin, self.settings)

    async def close(self) -> None:
        """Roll the world back and let the connection go (idempotent)."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.rollback()
            await conn.close()
            await self.engine.dispose()
            self.bulk_conn.rollback()
            self.bulk_conn.close()
            self.bulk_engine.dispose()


def _document() -> dict[str, Any]:
    # Read from an app built only for it: no database is touched at collection.
    return create_app(
        Settings(
            environment="test",
            secret_key=secrets.token_urlsafe(48),
            id_hash_key=secrets.token_urlsafe(48),
        )
    ).openapi()


PROXY = RolledBackApp()
# The coverage phase enumerates every boundary value of every parameter (thousands of
# cases, half a minute just to collect): too much for every CI run. Fuzzing (positive
# and negative data) with a bounded number of examples is what runs here.
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
)
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)
for _path in NOT_FUZZED:
    schema = schema.exclude(path=_path)
schema.app = PROXY  # in-process: schemathesis serves each case through this ASGI app


@pytest.fixture(scope="module")
def fuzz_app(settings, migrated_db) -> Iterator[RolledBackApp]:
    """The proxy with the tests' settings; its connection is opened by the fuzzer's first
    request and rolled back afterwards."""
    PROXY.configure(settings)
    yield PROXY
    if PROXY.conn is not None:  # close it in the fuzzer's own loop
        asyncio.run_coroutine_threadsafe(PROXY.close(), PROXY.loop).result(30)


bounded = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@bounded
def test_anonymous_fuzzing_finds_no_server_error_and_no_answer_off_its_schema(case, fuzz_app):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@bounded
def test_admin_fuzzing_finds_no_server_error_and_no_answer_off_its_schema(case, fuzz_app):
    case.call_and_validate(headers=fuzz_app.admin_headers, checks=CHECKS)
