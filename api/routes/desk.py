"""The managers' desk's own reads: an area's cells and grid workers with their open load
(for assignment), and the rating flags waiting for a second manager."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ManagerPrincipal, SessionDep
from core.clock import local_date
from incidents.handling.desk import desk_area, pending_rating_flags

router = APIRouter(prefix="/desk", tags=["workflow"])


@router.get("/area")
async def area(
    session: SessionDep,
    principal: ManagerPrincipal,
    region: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{6}([0-9]{3}){0,2}$",
            description="a region code within your area; none: your own region",
        ),
    ] = None,
) -> dict[str, Any]:
    """A region within my area: its cells in force (at most 2,000) and its grid workers
    with their open load (open reports assigned to them), lightest first. Outside: 403."""
    return await desk_area(session, principal, region, local_date())


@router.get("/rating-flags")
async def rating_flags(session: SessionDep, principal: ManagerPrincipal) -> dict[str, Any]:
    """Flags on ratings in my area waiting for a second manager's decision, oldest first
    (at most 200); `mine` marks my own, which another manager decides."""
    return {"items": await pending_rating_flags(session, principal)}
