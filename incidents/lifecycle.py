"""The incident lifecycle as an explicit state machine: which action moves a report from
which states to which, who may take it, and what it records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from incidents.status import OPEN, Status


class Actor(StrEnum):
    """Who may take an action: the assigned worker, or a manager over the report's area."""

    ASSIGNEE = "assignee"
    MANAGER = "manager"
    EITHER = "either"


@dataclass(frozen=True)
class Action:
    """One action: the states it starts from, the state it leads to, who takes it, and
    what it must carry."""

    name: str
    sources: frozenset[str]
    target: str
    actor: Actor
    needs_note: bool = False
    needs_assignee: bool = False
    needs_duplicate_of: bool = False
    needs_version: bool = False
    # Statuses the reporter and the public timeline show.
    public: bool = True


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        # A manager routes (or re-routes) a report to a worker. The version is required, so
        # two managers reassigning at once cannot both win.
        Action(
            "assign",
            OPEN,
            Status.ASSIGNED,
            Actor.MANAGER,
            needs_assignee=True,
            needs_version=True,
        ),
        Action(
            "accept", frozenset({Status.ASSIGNED, Status.REOPENED}), Status.ACCEPTED, Actor.ASSIGNEE
        ),
        Action("start", frozenset({Status.ACCEPTED}), Status.IN_PROGRESS, Actor.ASSIGNEE),
        Action(
            "resolve",
            frozenset({Status.ACCEPTED, Status.IN_PROGRESS}),
            Status.RESOLVED,
            Actor.ASSIGNEE,
            needs_note=True,
        ),
        # Wrong cell or wrong category: back to the managers' queue with the reason.
        Action(
            "transfer",
            frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED}),
            Status.TRANSFERRED,
            Actor.ASSIGNEE,
            needs_note=True,
        ),
        # Verified by someone other than the handler.
        Action("close", frozenset({Status.RESOLVED}), Status.CLOSED, Actor.MANAGER),
        Action(
            "reopen",
            frozenset({Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.DUPLICATE}),
            Status.REOPENED,
            Actor.MANAGER,
            needs_note=True,
        ),
        Action(
            "reject",
            frozenset({Status.SUBMITTED, Status.ASSIGNED, Status.TRANSFERRED, Status.REOPENED}),
            Status.REJECTED,
            Actor.MANAGER,
            needs_note=True,
        ),
        Action("mark_duplicate", OPEN, Status.DUPLICATE, Actor.MANAGER, needs_duplicate_of=True),
        # It turned out to be a fire burning now: handed to 119, out of the routine flow.
        Action("refer_emergency", OPEN, Status.EMERGENCY_REFERRAL, Actor.EITHER, needs_note=True),
    ]
}


def allowed_actions(status: str) -> list[str]:
    """The actions that may start from a status, in the table's order."""
    return [name for name, action in ACTIONS.items() if status in action.sources]
