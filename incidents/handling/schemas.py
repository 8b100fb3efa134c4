"""What staff send to handle reports: actions, notes, check-ins, extensions and their
decisions, bulk assignment, patrol visits and a damage declaration's verification."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from core.text_types import PlainText, PlainTextOrNone, SingleLineText, SingleLineTextOrNone
from gis.coords import CoordSystem
from incidents.handling.bulk_assign import MAX_BULK
from incidents.intake.tracking import TRACKING_NUMBER_PATTERN
from incidents.lifecycle import ACTIONS


class ActionIn(BaseModel):
    """An action on an incident and what it may need."""

    action: str = Field(description=", ".join(ACTIONS))
    note: PlainTextOrNone = Field(None, max_length=2000)
    assignee: SingleLineTextOrNone = Field(None, max_length=64, description="username, for assign")
    duplicate_of: str | None = Field(None, pattern=TRACKING_NUMBER_PATTERN)
    category: str | None = Field(
        None,
        pattern=r"^[a-z]+\.[a-z_]+$",
        max_length=64,
        description="with assign: the right category",
    )
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="the version you saw (If-Match)"
    )


class NoteIn(BaseModel):
    """A note on an incident's timeline (as a form, with `photos` files)."""

    note: PlainText = Field(min_length=1, max_length=2000)
    public: bool = Field(False, description="shown on the public timeline (managers only)")


class CheckInIn(BaseModel):
    """Where the worker stands, as their device reports it."""

    lon: float
    lat: float
    coord_system: CoordSystem = CoordSystem.WGS84


class ExtensionIn(BaseModel):
    """More time: the new resolve deadline and why."""

    until: AwareDatetime
    reason: PlainText = Field(min_length=1, max_length=2000)


class DecisionIn(BaseModel):
    """A manager's decision on an extension request (a refusal needs a note)."""

    grant: bool
    note: PlainTextOrNone = Field(None, max_length=2000)


class BulkAssignIn(BaseModel):
    """Reports to give to one worker, all or none."""

    tracking_numbers: list[Annotated[str, Field(pattern=TRACKING_NUMBER_PATTERN)]] = Field(
        min_length=1, max_length=MAX_BULK
    )
    assignee: SingleLineText = Field(max_length=64, description="username")
    versions: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "the version seen, per tracking number; a report without one is assigned "
            "whatever its version"
        ),
    )


class VisitBody(BaseModel):
    """A patrol visit: the building, what was seen, and where the worker stood."""

    building_id: int = Field(ge=1, le=2**63 - 1)
    note: PlainTextOrNone = Field(None, max_length=2000)
    hazards_found: int = Field(0, ge=0, le=1000)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class VerifyIn(BaseModel):
    """What the worker found on site."""

    verified_loss: Decimal = Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)
    note: PlainText = Field(min_length=1, max_length=2000)
    version: int | None = Field(None, ge=1, le=2**31 - 1)
