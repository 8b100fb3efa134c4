"""Buildings: footprints inside a bbox, as bounded GeoJSON pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.geojson_responses import GeoJSONResponse, feature_collection, parse_bbox
from grid.buildings import building_page

router = APIRouter(prefix="/buildings", tags=["register"])


@router.get("", response_class=GeoJSONResponse)
async def list_buildings(
    request: Request,
    session: SessionDep,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat (required)")],
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="cursor: last id seen")
    ] = None,
) -> GeoJSONResponse:
    """Building footprints intersecting a bbox (public: address, use, floors, cell)."""
    bounds = parse_bbox(bbox, required=True)
    features, next_cursor = await building_page(session, bounds, limit, after)
    return feature_collection(request, features, next_cursor)
