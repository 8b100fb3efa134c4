"""The worker's day and the manager's desk: work lists, notes, on-site check-ins,
extension requests and decisions, bulk assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from api import idempotency
from api.deps import IntakeDep, ManagerPrincipal, SessionDep, SettingsDep, StaffPrincipal
from api.error_handlers import error_body
from api.i18n import negotiate_language
from api.routes.reports import TrackingNumber, read_submission
from core.errors import InvalidInput
from gis.coords import parse_location, to_wgs84
from grid.roles import Role
from incidents.handling.bulk_assign import bulk_assign
from incidents.handling.extensions import decide_extension, extension_requests, request_extension
from incidents.handling.notes_and_check_ins import add_note, check_in
from incidents.handling.schemas import BulkAssignIn, CheckInIn, DecisionIn, ExtensionIn, NoteIn
from incidents.handling.work_lists import MAX_PAGE, ListFilter, View, list_incidents
from incidents.models.reports import STATUSES

router = APIRouter(tags=["workflow"])


@router.get("/incidents")
async def work_list(
    session: SessionDep,
    principal: StaffPrincipal,
    view: View | None = None,
    status: Annotated[list[str], Query(max_length=len(STATUSES))] = [],  # noqa: B006
    category: Annotated[str | None, Query(pattern=r"^[a-z]+\.[a-z_]+$")] = None,
    overdue: bool | None = None,
    cell: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    created_from: AwareDatetime | None = None,
    created_to: AwareDatetime | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Work lists, nearest deadline first (overdue first): `mine` (the default for
    workers), `queue` (unassigned), `area` (all open; the default for managers),
    `escalated`. Workers see their own and their cells' reports; managers their area."""
    unknown = sorted(set(status) - set(STATUSES))
    if unknown:
        raise InvalidInput(f"unknown status {unknown[0]!r}", "未知状态", field="status")
    if view is None:
        view = View.MINE if principal.role is Role.GRID_WORKER else View.AREA
    return await list_incidents(
        session,
        principal,
        view,
        ListFilter(tuple(status), category, overdue, cell, created_from, created_to),
        datetime.now(UTC),
        after=after,
        limit=limit,
    )


_NOTE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/NoteIn"}},
            "multipart/form-data": {
                "schema": {"type": "object", "description": "the NoteIn fields plus `photos` files"}
            },
        },
    }
}


@router.post(
    "/incidents/{tracking_number}/notes",
    status_code=201,
    openapi_extra=_NOTE_BODY,
    response_model=dict[str, Any],
    responses=idempotency.replayable(201),
)
async def note(
    tracking_number: TrackingNumber,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: StaffPrincipal,
    idempotency_key: idempotency.KeyHeader = None,
) -> JSONResponse:
    """A note (and photos) on the timeline, by the assignee or a manager over the report;
    staff-only unless a manager makes it public."""
    body, photos = await read_submission(request, settings, NoteIn)
    return await idempotency.answer_once(
        session,
        request,
        principal,
        idempotency_key,
        (body.model_dump(mode="json"), [p.sha256 for p in photos]),
        lambda: add_note(
            session,
            principal,
            tracking_number,
            body.note,
            datetime.now(UTC),
            public=body.public,
            photos=photos,
        ),
        status_code=201,
    )


@router.post(
    "/incidents/{tracking_number}/check-in",
    response_model=dict[str, Any],
    responses=idempotency.replayable(200),
)
async def check_in_on_site(
    tracking_number: TrackingNumber,
    body: CheckInIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: StaffPrincipal,
    idempotency_key: idempotency.KeyHeader = None,
) -> JSONResponse:
    """The assignee checks in: the distance to the report's pin and whether it is within
    the check-in radius. Off site is still recorded and answered 200 with
    `on_site: false` (the attempt is evidence); the client tells the worker."""
    lon, lat = to_wgs84(*parse_location(body.lon, body.lat, body.coord_system), body.coord_system)
    return await idempotency.answer_once(
        session,
        request,
        principal,
        idempotency_key,
        (body.model_dump(mode="json"),),
        lambda: check_in(
            session,
            principal,
            tracking_number,
            lon,
            lat,
            settings.checkin_radius_m,
            datetime.now(UTC),
        ),
    )


@router.post(
    "/incidents/{tracking_number}/extension-requests",
    status_code=201,
    response_model=dict[str, Any],
    responses=idempotency.replayable(201),
)
async def ask_for_more_time(
    tracking_number: TrackingNumber,
    body: ExtensionIn,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    idempotency_key: idempotency.KeyHeader = None,
) -> JSONResponse:
    """The assignee asks for a later resolve deadline (one pending request at a time)."""
    return await idempotency.answer_once(
        session,
        request,
        principal,
        idempotency_key,
        (body.model_dump(mode="json"),),
        lambda: request_extension(
            session, principal, tracking_number, body.until, body.reason, datetime.now(UTC)
        ),
        status_code=201,
    )


@router.get("/extension-requests")
async def list_extension_requests(
    session: SessionDep,
    principal: StaffPrincipal,
    pending: bool = True,
) -> dict[str, Any]:
    """Extension requests: a worker's own; for managers, those in their area."""
    return {
        "items": await extension_requests(
            session, principal, datetime.now(UTC), pending_only=pending
        )
    }


@router.post("/extension-requests/{request_id}/decision")
async def decide(
    request_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: DecisionIn,
    session: SessionDep,
    principal: ManagerPrincipal,
) -> dict[str, Any]:
    """A manager over the report (not the requester) grants or refuses; 409 once decided."""
    return await decide_extension(
        session, principal, request_id, body.grant, body.note, datetime.now(UTC)
    )


@router.post("/incidents/bulk-assign")
async def assign_many(
    body: BulkAssignIn,
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    principal: ManagerPrincipal,
) -> Any:
    """Assign up to 200 reports to one worker in one transaction, each by the rules of
    `assign`. All or nothing: when any is refused nothing changes, and the error lists
    each refused report (its status is the first refusal's)."""
    outcome = await bulk_assign(
        session,
        intake,
        principal,
        body.tracking_numbers,
        body.assignee,
        datetime.now(UTC),
        body.versions,
    )
    if outcome.failures:
        first = outcome.failures[0][2]
        language = negotiate_language(request)
        refused, total = len(outcome.failures), len(body.tracking_numbers)
        message = (
            f"nothing was assigned: {refused} of {total} reports refused"
            if language == "en"
            else f"未指派：{total} 条中有 {refused} 条不能指派"
        )
        fields = [
            {"field": f"tracking_numbers[{i}]", "reason": f"{n}: {e.message('en')}"}
            for i, n, e in outcome.failures
        ]
        return JSONResponse(
            error_body(first.status, first.code, message, fields), status_code=first.status
        )
    return {"assigned": len(outcome.results), "results": outcome.results}
