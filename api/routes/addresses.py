"""Address search: the register's buildings by (fuzzy) address, for pins and forms; and
the lists to choose a place without a map (compound -> building -> unit)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.abuse import SearchLimit
from api.deps import SessionDep
from core.errors import InvalidInput
from grid.address_lists import building_units, compound_buildings, compounds_near
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
    q: Annotated[
        str, Query(max_length=MAX_QUERY_CHARS * 2, description="part of an address, e.g. 先烈路165")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    near: Annotated[str | None, Query(description="lon,lat to prefer nearby buildings")] = None,
) -> dict[str, Any]:
    """Buildings whose address contains or resembles `q`, best first (public: addresses
    and locations only, no register data)."""
    hits = await search_addresses(session, q, limit, _parse_near(near))
    return {"query": q, "results": [asdict(hit) for hit in hits]}


@router.get("/compounds", dependencies=[SearchLimit])
async def list_compounds(
    session: SessionDep,
    near: Annotated[str, Query(description="lon,lat (WGS84): list the compounds around it")],
    limit: Annotated[int, Query(ge=1, le=300)] = 100,
) -> dict[str, Any]:
    """Compounds (小区) around a point, nearest first, and address groups of buildings in
    no compound (kind `address`): the first list of choosing a place without a map."""
    point = _parse_near(near)
    assert point is not None  # near is required
    found = await compounds_near(session, *point, limit)
    return {"compounds": [asdict(entry) for entry in found]}


@router.get("/buildings", dependencies=[SearchLimit])
async def list_compound_buildings(
    session: SessionDep,
    compound: Annotated[str, Query(max_length=210, description="an id from /addresses/compounds")],
    limit: Annotated[int, Query(ge=1, le=500)] = 300,
) -> dict[str, Any]:
    """The buildings of a compound, by address, each with a point to file a report at."""
    found = await compound_buildings(session, compound, limit)
    return {"compound": compound, "buildings": [asdict(entry) for entry in found]}


@router.get("/buildings/{building_id}/units", dependencies=[SearchLimit])
async def list_building_units(
    session: SessionDep,
    building_id: Annotated[int, Path(ge=1)],
) -> dict[str, Any]:
    """A building's unit numbers and floors (public facts; nothing about who lives there)."""
    units = await building_units(session, building_id)
    return {"building_id": building_id, "units": [asdict(unit) for unit in units]}
