"""The incident lifecycle as an explicit state machine: which action moves a report from
which states to which, who may take it, and what it records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


OPEN = frozenset({"submitted", "assigned", "accepted", "in_progress", "transferred", "reopened"})
TERMINAL = frozenset({"closed", "rejected", "duplicate", "emergency_referral"})

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        # A manager routes (or re-routes) a report to a worker. The version is required, so
        # two managers reassigning at once cannot both win.
        Action(
            "assign",
            frozenset(
                {"submitted", "assigned", "accepted", "in_progress", "transferred", "reopened"}
            ),
            "assigned",
            Actor.MANAGER,
            needs_assignee=True,
            needs_version=True,
        ),
        Action("accept", frozenset({"assigned", "reopened"}), "accepted", Actor.ASSIGNEE),
        Action("start", frozenset({"accepted"}), "in_progress", Actor.ASSIGNEE),
        Action(
            "resolve",
            frozenset({"accepted", "in_progress"}),
            "resolved",
            Actor.ASSIGNEE,
            needs_note=True,
        ),
        # Wrong cell or wrong category: back to the managers' queue with the reason.
        Action(
            "transfer",
            frozenset({"assigned", "accepted", "in_progress", "reopened"}),
            "transferred",
            Actor.ASSIGNEE,
            needs_note=True,
        ),
        # Verified by someone other than the handler.
        Action("close", frozenset({"resolved"}), "closed", Actor.MANAGER),
        Action(
            "reopen",
            frozenset({"resolved", "closed", "rejected", "duplicate"}),
            "reopened",
            Actor.MANAGER,
            needs_note=True,
        ),
        Action(
            "reject",
            frozenset({"submitted", "assigned", "transferred", "reopened"}),
            "rejected",
            Actor.MANAGER,
            needs_note=True,
        ),
        Action("mark_duplicate", OPEN, "duplicate", Actor.MANAGER, needs_duplicate_of=True),
        # It turned out to be a fire burning now: handed to 119, out of the routine flow.
        Action("refer_emergency", OPEN, "emergency_referral", Actor.EITHER, needs_note=True),
    ]
}


def allowed_actions(status: str) -> list[str]:
    """The actions that may start from a status, in the table's order."""
    return [name for name, action in ACTIONS.items() if status in action.sources]
