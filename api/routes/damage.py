"""Fire damage declarations (火灾受损申报): declared by a household or a worker for it,
verified on site by the cell's worker, followed by the declarer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from api.abuse import IntakeLimit
from api.deps import CurrentPrincipal, IntakeDep, SessionDep, SettingsDep
from api.routes.reports import TrackingNumber, read_submission
from core.errors import NotFound
from incidents.handling.actions import visible_incident
from incidents.handling.schemas import VerifyIn
from incidents.intake.damage_declarations import (
    declaration_view,
    declare_damage,
    resolve_with_verified_loss,
)
from incidents.intake.schemas import DamageIn

router = APIRouter(prefix="/damage-declarations", tags=["reports"])

_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DamageIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "the DamageIn fields plus `photos` files",
                }
            },
        },
    }
}


@router.post("", status_code=201, openapi_extra=_OPENAPI_BODY, dependencies=[IntakeLimit])
async def create_declaration(
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Declare fire damage at a house of the register; it goes to the cell's worker for
    on-site verification. The answer carries the tracking number to follow it."""
    data, photos = await read_submission(request, settings, DamageIn)
    submission = await declare_damage(session, intake, data, photos, principal, datetime.now(UTC))
    body = submission.answer()
    body.pop("likely_duplicates")
    return body


async def _staff_may_see(session: SessionDep, principal: CurrentPrincipal, number: str) -> bool:
    try:
        await visible_incident(session, principal, number, datetime.now(UTC))
    except NotFound:
        return False
    return True


@router.get("/{tracking_number}")
async def get_declaration(
    tracking_number: TrackingNumber, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """State and figures, for the declarer and staff over the house's area."""
    return await declaration_view(
        session,
        principal,
        tracking_number,
        await _staff_may_see(session, principal, tracking_number),
    )


@router.post("/{tracking_number}/verify")
async def verify_declaration(
    tracking_number: TrackingNumber,
    body: VerifyIn,
    session: SessionDep,
    intake: IntakeDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """The assigned worker records the loss found on site and resolves the declaration
    (after accepting it); a manager then verifies and closes it."""
    return await resolve_with_verified_loss(
        session,
        intake,
        principal,
        tracking_number,
        body.verified_loss,
        body.note,
        body.version,
        datetime.now(UTC),
    )
