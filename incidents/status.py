"""Incident statuses: the one list, the sets the rules name, and their SQL spelling.

Queries bind these sets as parameters (`status = ANY(:open)`). Where SQL must carry the
values as text (a partial index's predicate, and the queries that must repeat it word for
word for the planner to use that index), it takes `sql_list(...)` from here, so no status
is spelled by hand anywhere else (tests/test_code_rules.py checks).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """Where a report stands (docs: submitted -> assigned -> accepted -> in progress ->
    resolved -> closed, with the side exits)."""

    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    TRANSFERRED = "transferred"
    REOPENED = "reopened"
    EMERGENCY_REFERRAL = "emergency_referral"


# Still being worked: a report in one of these waits for someone.
OPEN = frozenset(
    {
        Status.SUBMITTED,
        Status.ASSIGNED,
        Status.ACCEPTED,
        Status.IN_PROGRESS,
        Status.TRANSFERRED,
        Status.REOPENED,
    }
)
# Finished: nothing more happens unless a manager reopens it.
TERMINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE, Status.EMERGENCY_REFERRAL})
# Handled by its worker: resolved, or resolved and verified.
HANDLED = frozenset({Status.RESOLVED, Status.CLOSED})
# In a worker's hands: the worker may sign, check in on site and act on it.
WITH_WORKER = frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED})
# Not a hazard at all: never on the public map, never counted as one.
NOT_HAZARD = frozenset({Status.REJECTED, Status.DUPLICATE})
# Set aside from the handling figures: not a hazard, or handed to 119.
SET_ASIDE = NOT_HAZARD | {Status.EMERGENCY_REFERRAL}


def sql_list(statuses: Iterable[Status]) -> str:
    """SQL text `('a', 'b')` for a set of statuses, in the enum's order (the values are the
    enum's own, never input); only for SQL that cannot take a bound parameter."""
    chosen = set(statuses)
    return "(" + ", ".join(f"'{s.value}'" for s in Status if s in chosen) + ")"


def sql_value(status: Status) -> str:
    """SQL text `'submitted'` for one status (the enum's own value, never input); only for
    SQL that cannot take a bound parameter."""
    return f"'{status.value}'"
