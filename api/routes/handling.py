"""Incidents for staff: one incident in full, and actions through the state machine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.abuse import audit_personal_read
from api.deps import IntakeDep, SessionDep, SettingsDep, StaffPrincipal
from api.routes.reports import TrackingNumber, read_submission
from grid.access import manager_over
from incidents.handling.actions import (
    ActionRequest,
    actions_for,
    take_action,
    visible_incident,
)
from incidents.handling.schemas import ActionIn
from incidents.publication.views import staff_report

router = APIRouter(prefix="/incidents", tags=["handling"])


@router.get("/{tracking_number}")
async def get_incident(
    request: Request,
    tracking_number: TrackingNumber,
    session: SessionDep,
    principal: StaffPrincipal,
) -> dict[str, Any]:
    """An incident in full for staff whose area it is in (404 otherwise); the reporter's
    contact only for its assignee and managers over it; the actions this caller may take."""
    head = await visible_incident(session, principal, tracking_number, datetime.now(UTC))
    with_contact = principal.id == head.assignee_id or manager_over(principal, head.region_path)
    body = await staff_report(session, head.id, with_contact=with_contact)
    body["allowed_actions"] = actions_for(principal, head)
    # Audited only when a contact was actually shown (not for an anonymous report).
    if with_contact and any(body["reporter_contact"].values()):
        await audit_personal_read(session, request, principal, "incident_contact", tracking_number)
    return body


_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ActionIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "the ActionIn fields plus `photos` files",
                }
            },
        },
    }
}


@router.post(
    "/{tracking_number}/actions",
    openapi_extra=_OPENAPI_BODY,
    response_model=dict[str, Any],
    responses=idempotency.replayable(200),
)
async def act(
    tracking_number: TrackingNumber,
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    principal: StaffPrincipal,
    idempotency_key: idempotency.KeyHeader = None,
) -> JSONResponse:
    """Accept, start, resolve, transfer (the assignee); assign, close, reopen, reject,
    mark_duplicate (managers over the area); refer_emergency (either). Illegal moves
    and stale versions are 409. As a form, photos (before/after) go with the step. The
    answer's allowed_actions are this caller's in the new state."""
    body, photos = await read_submission(request, settings, ActionIn)
    return await idempotency.answer_once(
        session,
        request,
        principal,
        idempotency_key,
        (body.model_dump(mode="json"), [p.sha256 for p in photos]),
        lambda: take_action(
            session,
            intake,
            principal,
            tracking_number,
            ActionRequest(
                body.action,
                body.note,
                body.assignee,
                body.duplicate_of,
                body.version,
                body.category,
            ),
            datetime.now(UTC),
            photos,
        ),
    )
