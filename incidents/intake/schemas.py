"""What intake takes in and gives back: a report and a fire damage declaration as a client
sends them, the answer to the reporter, and the ids of the rows intake wrote (for callers
that add to them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.clock import local_date
from core.text_types import PlainText, PlainTextOrNone, SingleLineTextOrNone
from gis.coords import CoordSystem
from incidents.channels import REPORT_CHANNELS

MAX_DESCRIPTION = 2000


class ReportIn(BaseModel):
    """A hazard report as a client sends it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    category: str = Field(pattern=r"^[a-z]+\.[a-z_]+$", max_length=64)
    lon: float | None = Field(None, description="longitude in coord_system")
    lat: float | None = Field(None, description="latitude in coord_system")
    coord_system: CoordSystem = CoordSystem.WGS84
    building_id: int | None = Field(None, ge=1, description="a building from address search")
    address: PlainTextOrNone = Field(None, max_length=200)
    description: PlainTextOrNone = Field(None, max_length=MAX_DESCRIPTION)
    answers: dict[str, Any] = Field(default_factory=dict, max_length=20)
    channel: Literal[REPORT_CHANNELS] = Field(  # type: ignore[valid-type]
        "web",
        description="how it came in; hotline, patrol, phone, walk_in and on_behalf "
        "are for staff filing for a resident",
    )
    contact_name: SingleLineTextOrNone = Field(None, max_length=50)
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    asset_code: str | None = Field(
        None,
        max_length=32,
        description=(
            "the city asset (部件) reported on, e.g. a hydrant from GET /assets/nearby: its "
            "16-digit code; within 50 m of the pin and of a kind the category concerns"
        ),
    )


class DamageIn(BaseModel):
    """A declaration: the house (by id, or building and unit number), the fire, the loss."""

    house_id: int | None = Field(None, ge=1, le=2**63 - 1)
    building_id: int | None = Field(None, ge=1, le=2**63 - 1)
    unit_number: SingleLineTextOrNone = Field(None, min_length=1, max_length=32)
    fire_date: date
    what_burned: PlainText = Field(min_length=1, max_length=1000)
    estimated_loss: Decimal = Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)
    description: PlainTextOrNone = Field(None, max_length=2000)
    channel: Literal["web", "app", "patrol", "terminal", "wechat"] = "web"
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")

    @field_validator("fire_date")
    @classmethod
    def _not_in_the_future(cls, value: date) -> date:
        if value > local_date():
            raise ValueError("the fire cannot be in the future")
        return value


@dataclass(frozen=True)
class WrittenRows:
    """The rows the intake statement wrote: callers adding to the report (a hotline
    order, Open311 details, a damage declaration) use these, never a lookup or currval."""

    incident_id: int
    # The report's first timeline events, in order: 'created', then 'assignment' when
    # routing found someone.
    event_ids: tuple[int, ...]
    # The one notification intake queues (to the assignee, or the queue's managers).
    outbox_id: int


@dataclass
class Submission:
    """The answer to a reporter: what they need to follow and rate the report, and
    likely duplicates nearby; never the worker's personal data. The intake statement
    stores the same answer for retries (`remembered` in filing._WRITE): keep the two in
    step. `rows` is for the caller, never part of the answer."""

    tracking_number: str
    secret: str
    status: str
    category: str
    cell_code: str | None
    routing_rule: str
    accept_due_at: str | None
    resolve_due_at: str | None
    rows: WrittenRows
    likely_duplicates: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """What goes back to the reporter (and is stored for a retry)."""
        answer = asdict(self)
        del answer["rows"]
        return answer
