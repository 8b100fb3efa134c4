"""好差评 over HTTP: rating a closed report (by account, secret or staff for a caller),
the rectification work orders a bad rating opens (revisit, re-rating, my list), and the
review of false ratings (flags, second manager's decision, appeals)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.abuse import IntakeLimit
from api.deps import (
    CurrentPrincipal,
    IntakeDep,
    ManagerPrincipal,
    OptionalPrincipal,
    SessionDep,
    SettingsDep,
)
from api.routes.reports import TrackingNumber
from core.text_types import PlainTextOrNone, SingleLineTextOrNone
from incidents.ratings.flags_and_appeals import appeal, decide_appeal, decide_flag, flag_rating
from incidents.ratings.giving import rate, rerate_rectification
from incidents.ratings.history import rating_history
from incidents.ratings.scores import MAX_TEXT, RatingIn, RatingRules
from incidents.ratings.work_orders import list_work_orders, record_revisit

router = APIRouter(tags=["ratings"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
SecretHeader = Annotated[
    str | None,
    Header(alias="X-Report-Secret", max_length=100, description="the secret from submission"),
]


class RatingBody(RatingIn):
    """A rating, with the secret from submission (unless signed in as the reporter) or,
    for staff recording a rating given by phone or at a terminal, the channel."""

    secret: str | None = Field(None, max_length=100)
    channel: Literal["phone", "terminal"] | None = None

    def rating(self) -> RatingIn:
        return RatingIn(
            overall=self.overall,
            timeliness=self.timeliness,
            convenience=self.convenience,
            comment=self.comment,
        )


class _Text(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class RevisitIn(_Text):
    """The revisit record: how the reporter was contacted, the outcome, what was done."""

    contact_method: SingleLineTextOrNone = Field(
        None, max_length=8, description="phone, visit, wechat or sms"
    )
    outcome: PlainTextOrNone = Field(None, max_length=MAX_TEXT)
    actions_taken: PlainTextOrNone = Field(None, max_length=MAX_TEXT)


class FlagIn(_Text):
    """Why the rating is false or malicious."""

    reason: PlainTextOrNone = Field(None, max_length=MAX_TEXT)


class FlagDecisionIn(BaseModel):
    """A second manager's decision on a flag."""

    confirm: bool


class AppealIn(_Text):
    """The rater's appeal against an exclusion; the secret unless signed in as the rater."""

    reason: PlainTextOrNone = Field(None, max_length=MAX_TEXT)
    secret: SingleLineTextOrNone = Field(None, max_length=100)


class AppealDecisionIn(_Text):
    """The decision on an appeal, with a note saying why."""

    upheld: bool
    note: PlainTextOrNone = Field(None, max_length=MAX_TEXT)


@router.post("/reports/{tracking_number}/rating", status_code=201, dependencies=[IntakeLimit])
async def rate_report(
    tracking_number: TrackingNumber,
    body: RatingBody,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
) -> dict[str, Any]:
    """Rate a closed report once: the reporter (signed in, or with the secret), or staff
    recording a rating given by phone or at a terminal. An overall 1 or 2 opens a
    rectification work order."""
    return await rate(
        session,
        intake,
        tracking_number,
        body.rating(),
        principal,
        body.secret,
        datetime.now(UTC),
        body.channel,
        rules=RatingRules.from_settings(settings),
    )


@router.get("/reports/{tracking_number}/rating")
async def get_rating(
    tracking_number: TrackingNumber,
    session: SessionDep,
    intake: IntakeDep,
    principal: OptionalPrincipal,
    secret: SecretHeader = None,
) -> dict[str, Any]:
    """The report's ratings (excluded ones marked, never dropped) and its work orders'
    state: for the reporter or the secret holder (header X-Report-Secret) and staff over it."""
    return await rating_history(
        session, intake, tracking_number, principal, secret, datetime.now(UTC)
    )


@router.get("/work-orders")
async def my_work_orders(
    session: SessionDep,
    principal: CurrentPrincipal,
    mine: bool = True,
    status: Annotated[list[Literal["open", "revisited", "closed"]] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Rectification work orders by due date: mine (default), or with mine=false every one
    in a manager's area; open ones unless `status` says otherwise."""
    items = await list_work_orders(
        session,
        principal,
        mine=mine,
        statuses=list(status or ["open"]),
        now=datetime.now(UTC),
        limit=limit,
    )
    return {"work_orders": items}


@router.post("/work-orders/{work_order_id}/revisit")
async def revisit(
    work_order_id: Id,
    body: RevisitIn,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Record the revisit (all three parts) of an open work order: its assignee or a
    manager over it."""
    return await record_revisit(
        session,
        principal,
        work_order_id,
        body.contact_method,
        body.outcome,
        body.actions_taken,
        datetime.now(UTC),
    )


@router.post("/work-orders/{work_order_id}/rating", status_code=201)
async def rerate(
    work_order_id: Id,
    body: RatingBody,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
) -> dict[str, Any]:
    """The reporter's re-rating of the rectification, once, after the revisit; it closes
    the work order."""
    return await rerate_rectification(
        session,
        intake,
        work_order_id,
        body.rating(),
        principal,
        body.secret,
        datetime.now(UTC),
        body.channel,
        rules=RatingRules.from_settings(settings),
    )


@router.post("/ratings/{rating_id}/flags", status_code=201)
async def flag(
    rating_id: Id,
    body: FlagIn,
    session: SessionDep,
    principal: ManagerPrincipal,
) -> dict[str, Any]:
    """Flag a rating as false or malicious, with the reason; another manager decides."""
    return await flag_rating(session, principal, rating_id, body.reason, datetime.now(UTC))


@router.post("/rating-flags/{flag_id}/decision")
async def decide_on_flag(
    flag_id: Id,
    body: FlagDecisionIn,
    session: SessionDep,
    principal: ManagerPrincipal,
) -> dict[str, Any]:
    """Confirm (the rating leaves the statistics, not the history) or dismiss a flag; not
    by the manager who raised it."""
    return await decide_flag(session, principal, flag_id, body.confirm, datetime.now(UTC))


@router.post("/ratings/{rating_id}/appeals", status_code=201, dependencies=[IntakeLimit])
async def appeal_rating(
    rating_id: Id,
    body: AppealIn,
    session: SessionDep,
    intake: IntakeDep,
    principal: OptionalPrincipal,
) -> dict[str, Any]:
    """The rater appeals against the exclusion of their rating (signed in, or with the
    report's secret)."""
    return await appeal(
        session,
        intake,
        rating_id,
        body.reason,
        principal,
        body.secret,
        datetime.now(UTC),
    )


@router.post("/rating-appeals/{appeal_id}/decision")
async def decide_on_appeal(
    appeal_id: Id,
    body: AppealDecisionIn,
    session: SessionDep,
    principal: ManagerPrincipal,
) -> dict[str, Any]:
    """Uphold (the rating counts again) or reject an appeal, with a note."""
    return await decide_appeal(
        session, principal, appeal_id, body.upheld, body.note, datetime.now(UTC)
    )
