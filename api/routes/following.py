"""我也遇到 and area alerts: follow an open report instead of filing it again (an account,
or a phone without one), its follower count, and a resident's alerts for a community or
a cell with an unsubscribe link that needs no sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from api.abuse import IntakeLimit, client_ip
from api.deps import CurrentPrincipal, OptionalPrincipal, SessionDep, SettingsDep
from api.routes.reports import TrackingNumber
from core.errors import InvalidInput, PermissionDenied
from grid.access import Principal
from grid.roles import Role
from incidents.notify.alerts import (
    AlertChannel,
    alert_of_token,
    follow_area,
    my_alerts,
    stop_alert,
    stop_my_alert,
)
from incidents.notify.following import add_follower, follower_count, follower_phone

router = APIRouter(tags=["following"])

# New follows counted always (a privacy control against signing strangers' phones up,
# not a throttle): per client address, and per phone whoever asks.
FOLLOWS_PER_ADDRESS = (30, 3600)
FOLLOWS_PER_PHONE = (10, 86400)
_PRIVATE = {"Cache-Control": "private, no-store"}

_FOLLOW_RULES = {"ip": FOLLOWS_PER_ADDRESS, "phone": FOLLOWS_PER_PHONE}


async def _count_follow(request: Request, phone: str | None) -> None:
    """Count one follow from the caller's address (and of the phone); 429 when over."""
    tally = await request.app.state.limiter.count(
        "follow", _FOLLOW_RULES, ip=client_ip(request), phone=phone
    )
    tally.refuse("following reports")


class FollowIn(BaseModel):
    """我也遇到: a signed-in resident follows as their account; anyone else gives a phone."""

    model_config = ConfigDict(str_strip_whitespace=True)

    phone: str | None = Field(
        None,
        max_length=32,
        description=(
            "a mobile number for SMS about the report's progress (without an account); never "
            "shown to anyone"
        ),
    )


def _resident(principal: Principal | None) -> Principal | None:
    if principal is not None and principal.role is not Role.RESIDENT:
        raise PermissionDenied("only residents follow reports", "仅居民可关注上报")
    return principal


@router.post("/reports/{tracking_number}/followers", dependencies=[IntakeLimit])
async def follow_report(
    request: Request,
    tracking_number: TrackingNumber,
    session: SessionDep,
    principal: OptionalPrincipal,
    body: FollowIn | None = None,
) -> JSONResponse:
    """我也遇到: follow an open report instead of filing a duplicate (files nothing). A
    signed-in resident follows as their account (inbox), anyone else with a mobile
    number (SMS); the same person twice is one follower. Answers the follower count
    (201 when this added one, 200 when already following)."""
    resident = _resident(principal)
    phone = None
    if resident is None:
        if body is None or not body.phone:
            raise InvalidInput(
                "sign in, or give a phone to hear about the report",
                "请登录，或填写手机号码以接收进度短信",
                field="phone",
            )
        phone = follower_phone(body.phone)
    await _count_follow(request, phone)
    answer = await add_follower(
        session, tracking_number, user_id=resident and resident.id, phone=phone
    )
    added = answer.pop("added")
    return JSONResponse(answer, 201 if added else 200, headers=_PRIVATE)


@router.get("/reports/{tracking_number}/followers")
async def report_followers(
    tracking_number: TrackingNumber, session: SessionDep, principal: OptionalPrincipal
) -> JSONResponse:
    """How many follow a report (a count, nobody's identity) and whether the signed-in
    account does."""
    answer = await follower_count(session, tracking_number, principal and principal.id)
    return JSONResponse(answer, headers=_PRIVATE)


class AlertIn(BaseModel):
    """An area to follow: a community (region_code) or a cell (cell_code)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    region_code: str | None = Field(
        None, pattern=r"^[0-9]{12}$", description="a community's 12-digit code"
    )
    cell_code: str | None = Field(
        None, pattern=r"^[0-9]{15}$", description="a grid cell's 15-digit code"
    )
    channel: AlertChannel = "inbox"
    phone: str | None = Field(
        None, max_length=32, description="for SMS; the account's own phone when left out"
    )


def _alerts_principal(principal: Principal) -> Principal:
    if principal.role is not Role.RESIDENT:
        raise PermissionDenied(
            "area alerts are for residents' accounts", "仅居民账号可订阅区域提醒"
        )
    return principal


@router.post("/alerts")
async def create_alert(
    body: AlertIn, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> JSONResponse:
    """Follow a community or a cell: new fire hazards there and their results, to my
    inbox or by SMS (201 new, 200 when it changed an alert I had there)."""
    me = _alerts_principal(principal)
    phone = None
    if body.channel == "sms":
        typed = (
            body.phone
            or (
                await session.execute(text("SELECT phone FROM users WHERE id = :id"), {"id": me.id})
            ).scalar_one()
        )
        if not typed:
            raise InvalidInput("an SMS alert needs a phone", "短信提醒需要手机号码", field="phone")
        phone = follower_phone(typed)
    alert_id, created = await follow_area(
        session,
        me.id,
        region_code=body.region_code,
        cell_code=body.cell_code,
        channel=body.channel,
        phone=phone,
    )
    key = settings.secret_key.get_secret_value()
    item = next(a for a in await my_alerts(session, me.id, key) if a["id"] == alert_id)
    return JSONResponse(item, 201 if created else 200, headers=_PRIVATE)


@router.get("/alerts")
async def list_alerts(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> JSONResponse:
    """My area alerts: place, channel, phone (masked) and unsubscribe link."""
    me = _alerts_principal(principal)
    items = await my_alerts(session, me.id, settings.secret_key.get_secret_value())
    return JSONResponse({"items": items}, headers=_PRIVATE)


@router.get("/alerts/unsubscribe")
async def unsubscribe(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Query(max_length=80, description="from the alert's link")],
) -> Response:
    """End the alert a link names, without signing in (the token is signed); then the
    resident's page says so. An alert already ended answers the same."""
    alert_id = alert_of_token(token, settings.secret_key.get_secret_value())
    await stop_alert(session, alert_id, None)
    return RedirectResponse("/my-reports?unsubscribed=1", 303)


@router.delete("/alerts/{alert_id}", status_code=204)
async def delete_alert(
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    """Stop one of my area alerts (404 for anyone else's)."""
    await stop_my_alert(session, alert_id, _alerts_principal(principal).id)
    return Response(status_code=204)
