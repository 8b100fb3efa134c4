"""Grid cells: bounded GeoJSON pages, and who is responsible for a cell (staff only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import SessionDep, require_roles
from api.geojson import GeoJSONResponse, feature_collection, parse_bbox
from gis.errors import NotFound, PermissionDenied
from grid.access import Principal, cell_in_reach
from grid.cells import cell_page, cell_responsibility, find_cell
from grid.roles import STAFF_ROLES

router = APIRouter(prefix="/cells", tags=["register"])

CellCode = Annotated[str, Path(pattern=r"^[0-9]{15}$", description="15-digit grid cell code")]
Staff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]


@router.get("", response_class=GeoJSONResponse)
async def list_cells(
    request: Request,
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(pattern=r"^[0-9]{15}$",
                                       description="cursor: last code seen")] = None,
) -> GeoJSONResponse:
    """Grid cells as GeoJSON (public: codes, names, boundaries), paged by code."""
    features, next_cursor = await cell_page(session, parse_bbox(bbox), limit, after)
    return feature_collection(request, features, next_cursor)


@router.get("/{code}/responsibility")
async def get_responsibility(
    code: CellCode,
    session: SessionDep,
    principal: Staff,
    on: Annotated[date | None, Query(description="day to ask about; default today")] = None,
) -> dict[str, Any]:
    """Who was responsible for the cell on a day: staff in whose area the cell lies."""
    cell = await find_cell(session, code)
    if cell is None:
        raise NotFound(f"No grid cell with code {code}", f"未找到网格 {code}")
    day = on or date.today()
    if not await cell_in_reach(session, principal, cell.id, cell.community_path, day):
        raise PermissionDenied("This cell is outside your area", "该网格不在您的管辖范围内")
    return await cell_responsibility(session, cell, day)
