"""Statements run straight on the pool's asyncpg connection (the request path's lean
form: no ORM session, no BEGIN/COMMIT, one prepared statement per round trip), and the
one interface services use to run their statements on either a session or such a
connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any, Protocol

import asyncpg
from sqlalchemy import TextClause
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Row = Mapping[str, Any]


# The connection is gone (cut, closed, refused) or unusable (a statement left running).
_CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


class Statements(Protocol):
    """Runs a TextClause with named parameters and hands back rows as mappings."""

    async def first(self, statement: TextClause, params: Mapping[str, Any]) -> Row | None:
        """The first row, or None."""
        ...

    async def all(self, statement: TextClause, params: Mapping[str, Any]) -> list[Row]:
        """Every row."""
        ...


class OnSession:
    """Statements in the session's transaction (the caller commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first(self, statement: TextClause, params: Mapping[str, Any]) -> Row | None:
        """The first row, or None."""
        return (await self.session.execute(statement, dict(params))).mappings().first()

    async def all(self, statement: TextClause, params: Mapping[str, Any]) -> list[Row]:
        """Every row."""
        return list((await self.session.execute(statement, dict(params))).mappings())


@lru_cache(maxsize=256)
def _positional(statement: TextClause) -> tuple[str, tuple[str, ...]]:
    # Compiled once per statement: asyncpg's $n text and the parameter names in order.
    compiled = statement.compile(dialect=asyncpg_dialect())
    return compiled.string, tuple(compiled.positiontup or ())


class OnConnection:
    """Statements on a raw asyncpg connection: each one prepared once per connection
    (asyncpg's statement cache) and, outside a transaction, committed on its own."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def first(self, statement: TextClause, params: Mapping[str, Any]) -> Row | None:
        """The first row, or None."""
        sql, names = _positional(statement)
        try:
            return await self.connection.fetchrow(sql, *(params[n] for n in names))
        except (asyncpg.PostgresError, *_CONNECTION_LOST) as error:
            raise _as_sqlalchemy_error(sql, error) from error

    async def all(self, statement: TextClause, params: Mapping[str, Any]) -> list[Row]:
        """Every row."""
        sql, names = _positional(statement)
        try:
            return await self.connection.fetch(sql, *(params[n] for n in names))
        except (asyncpg.PostgresError, *_CONNECTION_LOST) as error:
            raise _as_sqlalchemy_error(sql, error) from error


def _as_sqlalchemy_error(sql: str, error: Exception) -> DBAPIError:
    # The API translates database errors in one place (api/error_handlers.py), from
    # SQLAlchemy's exceptions: a raw statement's failure takes the same shape.
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, None, error)
    lost = isinstance(error, _CONNECTION_LOST)
    return DBAPIError(sql, None, error, connection_invalidated=lost)


# A request cancelled or timed out mid-statement leaves its connection busy.
_LEFT_MID_STATEMENT = (asyncio.CancelledError, TimeoutError, *_CONNECTION_LOST)


@asynccontextmanager
async def raw_connection(
    connect: Callable[[], AbstractAsyncContextManager[AsyncConnection | AsyncSession]],
) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under one of the pool's connections (`connect`: the app's
    autocommit connections; in tests, the test's session, whose transaction it joins)."""
    async with connect() as source:
        if not isinstance(source, AsyncSession):
            raw = (await source.get_raw_connection()).driver_connection
            try:
                yield raw
            except BaseException as error:
                # SQLAlchemy never saw these statements fail: a connection cut, closed or
                # left mid-statement (a cancelled request) must not go back to the pool.
                lost = isinstance(error, DBAPIError) and error.connection_invalidated
                if lost or raw.is_closed() or isinstance(error, _LEFT_MID_STATEMENT):
                    await source.invalidate()
                raise
            return
        # A borrowed transaction: the work runs in a savepoint of its own, so a failed
        # statement (which aborts the transaction behind the session's back) is undone
        # alone and the session stays usable; what succeeded is committed, as it would
        # be outside a transaction.
        async with source.begin_nested():
            conn = await source.connection()
            yield (await conn.get_raw_connection()).driver_connection
        await source.commit()
