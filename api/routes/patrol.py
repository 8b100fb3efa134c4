"""Patrols: a grid worker's risk-ranked list and visits (JSON, or a form with photos);
a visit's photos for staff only; coverage per cell for managers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api import idempotency
from api.deps import ManagerPrincipal, SessionDep, SettingsDep, StaffPrincipal, WorkerPrincipal
from api.routes.reports import read_submission
from core.clock import local_date
from core.errors import InvalidInput, NotFound, PermissionDenied
from grid.access import region_in_reach
from incidents.handling.patrol import (
    VisitIn,
    VisitPhotoCopy,
    patrol_coverage,
    patrol_list,
    record_visit,
    visit_photo,
)
from incidents.handling.schemas import VisitBody
from incidents.publication.statistics import region_scope

router = APIRouter(prefix="/patrol", tags=["patrol"])


@router.get("")
async def my_patrol_list(
    session: SessionDep,
    principal: WorkerPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The buildings of my cells in force today, riskiest first, with the parts of each
    score (see incidents/handling/patrol.py for the weights)."""
    now = datetime.now(UTC)
    day = local_date(now)
    return {
        "on": day.isoformat(),
        "buildings": await patrol_list(session, principal, day, limit, now),
    }


def _visit_body_openapi() -> dict[str, Any]:
    # The body is read by hand (JSON or a form): its schema is given here, inline.
    schema = VisitBody.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "the VisitBody fields as form fields, plus up to max_photos "
                        "files named `photos` (staff evidence, never published)",
                        "properties": {
                            **schema["properties"],
                            "photos": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                        "required": schema.get("required", []),
                    }
                },
            },
        }
    }


VisitId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PhotoId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/visits",
    status_code=201,
    response_model=dict[str, Any],
    openapi_extra=_visit_body_openapi(),
    responses=idempotency.replayable(201),
)
async def create_visit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: WorkerPrincipal,
    idempotency_key: idempotency.KeyHeader = None,
) -> JSONResponse:
    """Record a visit to a building of one of my cells (403 for another cell's, 404 for
    no such building); as a form, with photos (`photos`). The answer lists the stored
    photos' ids (`photo_ids`)."""
    body, photos = await read_submission(request, settings, VisitBody)
    if (body.lon is None) != (body.lat is None):
        missing = "lat" if body.lat is None else "lon"
        raise InvalidInput(
            "Give both lon and lat, or neither", "经纬度须同时提供或都不提供", field=missing
        )
    visit = VisitIn(body.building_id, body.note, body.hazards_found, body.lon, body.lat)
    return await idempotency.answer_once(
        session,
        request,
        principal,
        idempotency_key,
        (body.model_dump(mode="json"), [p.sha256 for p in photos]),
        lambda: record_visit(session, principal, visit, datetime.now(UTC), photos),
        status_code=201,
    )


@router.get("/visits/{visit_id}/photos/{photo_id}", response_class=Response)
async def get_visit_photo(
    visit_id: VisitId,
    photo_id: PhotoId,
    session: SessionDep,
    principal: StaffPrincipal,
    copy: VisitPhotoCopy = "original",
) -> Response:
    """A patrol visit's photo: the original (with its EXIF, as evidence) or the thumbnail;
    for the worker who made the visit and managers over the building's area (404 for
    anyone else)."""
    data, media_type = await visit_photo(session, principal, visit_id, photo_id, copy)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get("/coverage")
async def coverage(
    session: SessionDep,
    principal: ManagerPrincipal,
    community: Annotated[str, Query(pattern=r"^[0-9]{12}$", description="community code")],
) -> dict[str, Any]:
    """Per cell of a community: the share of its buildings visited in the last 30 days;
    for managers over the community."""
    scope = await region_scope(session, code=community)
    if scope is None or scope.level != "community":
        raise NotFound(f"No community with code {community}", f"未找到社区 {community}")
    if not region_in_reach(principal, scope.path or ""):
        raise PermissionDenied("This community is outside your area", "该社区不在您的管辖范围内")
    return {
        "community": community,
        "cells": await patrol_coverage(session, scope.id, datetime.now(UTC)),
    }
