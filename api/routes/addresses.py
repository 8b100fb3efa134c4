"""Address search: the register's buildings by (fuzzy) address, for pins and forms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.abuse import SearchLimit
from api.deps import SessionDep
from gis.errors import InvalidInput
from grid.addresses import MAX_QUERY_CHARS, search_addresses

router = APIRouter(prefix="/addresses", tags=["register"])


def _parse_near(value: str | None) -> tuple[float, float] | None:
    """`lon,lat` in WGS84, or a 422 naming the parameter."""
    if value is None:
        return None
    try:
        lon, lat = (float(part) for part in value.split(","))
    except ValueError:
        raise InvalidInput("near must be lon,lat", "near 应为 经度,纬度", field="near") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput("near is outside WGS84 range", "near 超出经纬度范围", field="near")
    return lon, lat


@router.get("", dependencies=[SearchLimit])
async def find_addresses(
    session: SessionDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS * 2,
                            description="part of an address, e.g. 先烈路165")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    near: Annotated[str | None, Query(description="lon,lat to prefer nearby buildings")] = None,
) -> dict[str, Any]:
    """Buildings whose address contains or resembles `q`, best first (public: addresses
    and locations only, no register data)."""
    hits = await search_addresses(session, q, limit, _parse_near(near))
    return {"query": q, "results": [asdict(hit) for hit in hits]}
