"""Grid cells: bounded GeoJSON pages, one cell with its counts, who is responsible for
it and who lives there (staff in whose area the cell lies)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.abuse import audit_personal_read
from api.deps import OptionalPrincipal, SessionDep, SettingsDep, StaffPrincipal
from api.geojson_responses import GeoJSONResponse, feature_collection, parse_bbox
from core.clock import local_date
from core.errors import NotFound, PermissionDenied
from grid.access import Principal, cell_in_reach
from grid.cells import CellRef, cell_feature, cell_page, cell_responsibility, find_cell
from grid.people import VulnerabilityTag
from grid.register import (
    PeopleFilter,
    building_count,
    cell_counts,
    outside_area_counts,
    people_page,
)
from grid.roles import STAFF_ROLES

router = APIRouter(prefix="/cells", tags=["register"])

CellCode = Annotated[str, Path(pattern=r"^[0-9]{15}$", description="15-digit grid cell code")]


@router.get("", response_class=GeoJSONResponse)
async def list_cells(
    request: Request,
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        str | None, Query(pattern=r"^[0-9]{15}$", description="cursor: last code seen")
    ] = None,
) -> GeoJSONResponse:
    """Grid cells as GeoJSON (public: codes, names, boundaries), paged by code."""
    features, next_cursor = await cell_page(session, parse_bbox(bbox), limit, after)
    return feature_collection(request, features, next_cursor)


async def _cell_or_404(session: SessionDep, code: str) -> CellRef:
    cell = await find_cell(session, code)
    if cell is None:
        raise NotFound(f"No grid cell with code {code}", f"未找到网格 {code}")
    return cell


async def _cell_in_reach_or_403(
    session: SessionDep, principal: Principal, code: str, day: date
) -> CellRef:
    cell = await _cell_or_404(session, code)
    if not await cell_in_reach(session, principal, cell.id, cell.community_path, day):
        raise PermissionDenied("This cell is outside your area", "该网格不在您的管辖范围内")
    return cell


@router.get("/{code}", response_class=GeoJSONResponse)
async def get_cell(
    code: CellCode, session: SessionDep, settings: SettingsDep, principal: OptionalPrincipal
) -> GeoJSONResponse:
    """One cell with its counts. Everyone gets the building count; staff (in any area)
    get the population counts too; the vulnerable by tag only in their own area (outside
    it a small vulnerable count is withheld too); no one is identified here."""
    cell = await _cell_or_404(session, code)
    body = await cell_feature(session, cell)
    if principal is not None and principal.role in STAFF_ROLES:
        counts = await cell_counts(session, cell.id)
        if not await cell_in_reach(session, principal, cell.id, cell.community_path, local_date()):
            counts = outside_area_counts(counts, settings.stats_min_group)
        body["properties"]["counts"] = counts
    else:
        body["properties"]["counts"] = {"buildings": await building_count(session, cell.id)}
    return GeoJSONResponse(body)


@router.get("/{code}/responsibility")
async def get_responsibility(
    code: CellCode,
    session: SessionDep,
    principal: StaffPrincipal,
    on: Annotated[date | None, Query(description="day to ask about; default today")] = None,
) -> dict[str, Any]:
    """Who was responsible for the cell on a day: staff in whose area the cell lies."""
    day = on or local_date()
    cell = await _cell_in_reach_or_403(session, principal, code, day)
    return await cell_responsibility(session, cell, day)


@router.get("/{code}/residents")
async def get_residents(
    request: Request,
    code: CellCode,
    session: SessionDep,
    principal: StaffPrincipal,
    vulnerable: Annotated[bool, Query(description="only people with a vulnerability tag")] = False,
    tag: Annotated[
        list[VulnerabilityTag] | None, Query(description="only people with any of these tags")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="cursor: last person id seen")
    ] = None,
) -> dict[str, Any]:
    """Who lives in the cell, who among them is vulnerable, and who is responsible, in one
    call: grid workers for their own cells, managers for cells in their area."""
    day = local_date()
    cell = await _cell_in_reach_or_403(session, principal, code, day)
    wanted = PeopleFilter(tags=tuple(tag or ()), vulnerable_only=vulnerable, cell_id=cell.id)
    people, next_after = await people_page(
        session, principal, wanted, on=day, limit=limit, after=after
    )
    responsible = await cell_responsibility(session, cell, day)
    counts = await cell_counts(session, cell.id)
    await audit_personal_read(
        session,
        request,
        principal,
        "cell_residents",
        cell.code,
        person_ids=[p["id"] for p in people],
    )
    return {
        "cell": {"code": cell.code, "name": cell.name, "community_code": cell.community_code},
        "counts": counts,
        "responsible": responsible,
        "people": people,
        "next_after": next_after,
    }
