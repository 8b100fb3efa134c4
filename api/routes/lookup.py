"""Point lookup: which cell, regions and responsible person answer for a spot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, SettingsDep, oauth2_scheme
from api.security import user_id_from_token
from gis.errors import GridgovError
from grid.access import load_principal
from grid.lookup import cell_code_at, lookup_point
from grid.roles import STAFF_ROLES

router = APIRouter(tags=["register"])


@router.get("/lookup")
async def lookup(
    session: SessionDep,
    request_settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")],
    on: Annotated[date | None, Query(description="day to ask about; default today")] = None,
    token: str | None = Depends(oauth2_scheme),
) -> dict[str, Any]:
    """lon/lat -> cell, region chain and who is responsible. Anyone gets the cell and the
    level of the responsible person; staff also get the person's name and phone."""
    result = await lookup_point(session, lon, lat, on or date.today())
    cell = result.cell and {k: v for k, v in result.cell.items() if k != "id"}
    responsible = result.responsible
    if responsible is not None and not await _is_staff(session, request_settings, token):
        responsible = {"level": responsible["level"]}
    elif responsible is not None:
        responsible = {k: v for k, v in responsible.items() if k != "id"}
    answer = {"match": result.match, "cell": cell, "regions": result.regions,
              "responsible": responsible}
    if on is not None:
        # History: the cell in force at the end of that day, whichever version it was in.
        end_of_day = datetime.combine(on, time.max, tzinfo=UTC)
        answer["cell_code_on_date"] = await cell_code_at(session, lon, lat, end_of_day)
    return answer


async def _is_staff(session, settings, token: str | None) -> bool:
    # The route is public: a missing or bad token means "anonymous", not an error.
    if not token:
        return False
    try:
        principal = await load_principal(session, user_id_from_token(token, settings))
    except GridgovError:
        return False
    return principal is not None and principal.role in STAFF_ROLES
