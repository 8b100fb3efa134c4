"""Bulk assignment: many reports to one worker in one transaction, each by the rules of
one assign."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import GridgovError, InvalidInput
from grid.access import Principal
from incidents.handling.actions import ActionRequest, assignee_id_for, take_action
from incidents.intake.filing import IntakeContext

MAX_BULK = 200


@dataclass
class BulkOutcome:
    """Per report, in the order given: the result, or why it was refused. Any refusal
    means nothing was kept."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[int, str, GridgovError]] = field(default_factory=list)


@commits
async def bulk_assign(
    session: AsyncSession,
    ctx: IntakeContext,
    principal: Principal,
    numbers: list[str],
    assignee: str,
    now: datetime,
    versions: dict[str, int] | None = None,
) -> BulkOutcome:
    """Assign many reports to one worker, each through `take_action` (the same rules as
    one assign). The rows are locked in id order first, so two bulk assignments over
    overlapping reports wait for each other instead of deadlocking. Without a version
    for a report, the one just locked is used. All or nothing, committed: when any is
    refused, every assignment is undone (the row locks are kept until the commit)."""
    if not numbers:
        raise InvalidInput(
            "give at least one tracking number", "请至少选择一条上报", field="tracking_numbers"
        )
    if len(numbers) > MAX_BULK:
        raise InvalidInput(
            f"at most {MAX_BULK} reports at once",
            f"一次最多指派 {MAX_BULK} 条",
            field="tracking_numbers",
        )
    if len(set(numbers)) != len(numbers):
        raise InvalidInput(
            "a tracking number is listed twice", "上报编号重复", field="tracking_numbers"
        )
    versions = versions or {}
    stray = sorted(set(versions) - set(numbers))
    if stray:
        raise InvalidInput(
            f"versions given for reports not listed: {', '.join(stray)}",
            "版本号对应的上报不在列表中",
            field="versions",
        )
    await assignee_id_for(session, principal, assignee)  # one clear error, not 200
    locked = (
        await session.execute(
            text("""
        SELECT tracking_number, version FROM incidents
        WHERE tracking_number = ANY(:numbers) ORDER BY id FOR UPDATE
    """),
            {"numbers": numbers},
        )
    ).all()
    current = {row.tracking_number: row.version for row in locked}
    outcome = BulkOutcome()
    by_number: dict[str, dict[str, Any]] = {}
    assignments = await session.begin_nested()
    # In lock order; the ones that do not exist come last and fail as not found.
    for number in [row.tracking_number for row in locked] + [
        n for n in numbers if n not in current
    ]:
        request = ActionRequest(
            "assign", assignee=assignee, version=versions.get(number, current.get(number, 1))
        )
        try:
            by_number[number] = await take_action(session, ctx, principal, number, request, now)
        except GridgovError as error:
            outcome.failures.append((numbers.index(number), number, error))
    if outcome.failures:
        await assignments.rollback()
    else:
        await assignments.commit()
    outcome.failures.sort()
    outcome.results = [by_number[n] for n in numbers if n in by_number]
    return outcome
