"""A use case commits its own work: `unit_of_work` commits on success, commits nothing on
an error, and nested inside another one joins the outer transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits, unit_of_work


async def _scratch(db: AsyncSession) -> None:
    # On the test's connection, below the session's savepoint, so a rollback keeps it.
    await db.bind.execute(text("CREATE TEMP TABLE uow_scratch (n int) ON COMMIT DROP"))


async def _rows(db: AsyncSession) -> list[int]:
    return list((await db.execute(text("SELECT n FROM uow_scratch ORDER BY n"))).scalars())


@commits
async def _add(session: AsyncSession, n: int) -> None:
    await session.execute(text("INSERT INTO uow_scratch VALUES (:n)"), {"n": n})


async def test_work_is_committed_on_success(db: AsyncSession) -> None:
    await _scratch(db)
    await _add(db, 1)
    await db.rollback()  # nothing left to roll back: the use case committed
    assert await _rows(db) == [1]


async def test_nothing_is_committed_on_error(db: AsyncSession) -> None:
    await _scratch(db)
    with pytest.raises(ValueError):
        async with unit_of_work(db):
            await _add(db, 2)
            raise ValueError("refused")
    await db.rollback()  # what the session's owner does as it closes
    assert await _rows(db) == []


async def test_a_nested_use_case_joins_the_outer_transaction(db: AsyncSession) -> None:
    await _scratch(db)
    with pytest.raises(ValueError):
        async with unit_of_work(db):
            await _add(db, 3)  # composed: does not commit on its own
            raise ValueError("the outer use case is refused")
    await db.rollback()
    await _add(db, 4)  # and a later use case is its own unit again
    assert await _rows(db) == [4]
