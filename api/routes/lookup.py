"""Point lookup: which cell, regions and responsible person answer for a spot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.abuse import SearchLimit
from api.deps import OptionalPrincipal, SessionDep, SettingsDep
from core.clock import local_date
from grid.lookup import cell_code_at, lookup_point
from grid.place import describe_point, public_place
from grid.roles import STAFF_ROLES

router = APIRouter(tags=["register"])
Lon = Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")]
Lat = Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")]


@router.get("/lookup")
async def lookup(
    session: SessionDep,
    principal: OptionalPrincipal,
    lon: Lon,
    lat: Lat,
    on: Annotated[date | None, Query(description="day to ask about; default today")] = None,
) -> dict[str, Any]:
    """lon/lat -> cell, region chain and who is responsible. Anyone gets the cell and the
    level of the responsible person; staff also get the person's name and phone."""
    result = await lookup_point(session, lon, lat, on or local_date())
    cell = result.cell and {k: v for k, v in result.cell.items() if k != "id"}
    responsible = result.responsible
    if responsible is not None:
        is_staff = principal is not None and principal.role in STAFF_ROLES
        responsible = (
            {k: v for k, v in responsible.items() if k != "id"}
            if is_staff
            else {"level": responsible["level"]}
        )
    answer = {
        "match": result.match,
        "cell": cell,
        "regions": result.regions,
        "responsible": responsible,
    }
    if on is not None:
        # History: the cell in force at the end of that day, whichever version it was in.
        end_of_day = datetime.combine(on, time.max, tzinfo=UTC)
        answer["cell_code_on_date"] = await cell_code_at(session, lon, lat, end_of_day)
    return answer


@router.get("/lookup/place", dependencies=[SearchLimit])
async def lookup_place(
    session: SessionDep,
    settings: SettingsDep,
    lon: Lon,
    lat: Lat,
) -> dict[str, Any]:
    """A spot in words for the report page: the register building within 50 m (its
    address), the nearest named road, the cell's code and name, and who looks after it
    today (the grid worker's name only when GRIDGOV_PUBLIC_DUTY_CARDS is on). The same
    answer for everyone; nothing about reports."""
    place = await describe_point(session, lon, lat, local_date())
    return public_place(place, settings.public_duty_cards)
