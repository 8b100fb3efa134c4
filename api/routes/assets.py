"""City assets (部件) for the report page: the kinds, and the assets near a pin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.abuse import SearchLimit
from api.deps import SessionDep
from core.errors import InvalidInput
from grid.assets import ASSET_KINDS, NEARBY_LIMIT, NEARBY_RADIUS_M, assets_nearby
from incidents.asset_categories import asset_kinds_for, categories_for

router = APIRouter(prefix="/assets", tags=["register"])
Lon = Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")]
Lat = Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")]


@router.get("/kinds")
async def asset_kinds() -> dict[str, Any]:
    """The asset kinds gridgov registers: class and subclass codes, labels, and the report
    categories that concern each (the report page offers an asset for those)."""
    return {
        "kinds": [
            {
                "kind": k.key,
                "major": k.major,
                "minors": list(k.minors),
                "label": {"zh-Hans": k.label_zh, "en": k.label_en},
                "categories": categories_for(k.key),
            }
            for k in ASSET_KINDS.values()
        ]
    }


@router.get("/nearby", dependencies=[SearchLimit])
async def nearby_assets(
    session: SessionDep,
    lon: Lon,
    lat: Lat,
    kind: Annotated[
        list[str] | None,
        Query(description="asset kinds to offer (repeat for several); default any"),
    ] = None,
    category: Annotated[
        str | None,
        Query(max_length=64, description="a report category: offers the kinds it concerns"),
    ] = None,
) -> dict[str, Any]:
    """Assets in service or damaged within 50 m of a WGS84 point, nearest first, at most
    10: code, kind, status, name, distance in metres, lon/lat. For the report page:
    reporting 消火栓损坏 next to a hydrant offers the hydrant. Public objects only."""
    kinds: list[str] | None = None
    if kind:
        unknown = [k for k in kind if k not in ASSET_KINDS]
        if unknown:
            raise InvalidInput(
                f"unknown kind {unknown[0]!r}; one of " + ", ".join(ASSET_KINDS),
                f"未知部件类型：{unknown[0]}",
                field="kind",
            )
        kinds = list(dict.fromkeys(kind))
    if category is not None:
        concerned = list(asset_kinds_for(category))
        # A category that concerns no asset offers none (not every asset around).
        kinds = [k for k in concerned if kinds is None or k in kinds]
    found = [] if kinds == [] else await assets_nearby(session, lon, lat, kinds)
    return {"radius_m": NEARBY_RADIUS_M, "limit": NEARBY_LIMIT, "assets": found}
