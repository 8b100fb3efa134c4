"""Regions: the administrative tree and single regions with boundaries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import SessionDep
from api.geojson_responses import GeoJSONResponse
from core.errors import NotFound
from grid.regions import region_feature, region_tree

router = APIRouter(prefix="/regions", tags=["register"])

RegionCode = Annotated[
    str,
    Path(pattern=r"^[0-9]{6}([0-9]{3}){0,2}$", description="6, 9 or 12-digit administrative code"),
]


@router.get("")
async def list_regions(session: SessionDep) -> list[dict[str, Any]]:
    """City > district > street > community as a nested tree (public, no geometry)."""
    return await region_tree(session)


@router.get("/{code}", response_class=GeoJSONResponse)
async def get_region(code: RegionCode, session: SessionDep) -> GeoJSONResponse:
    """One region as a GeoJSON Feature with its boundary."""
    found = await region_feature(session, code)
    if found is None:
        raise NotFound(f"No region with code {code}", f"未找到区划 {code}")
    return GeoJSONResponse(found)
