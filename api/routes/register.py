"""The people register for staff: search within one's area, and one person's record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.abuse import SearchLimit, audit_personal_read
from api.deps import SessionDep, SettingsDep, StaffPrincipal
from api.id_search import guard_exact_id_search
from core.clock import local_date
from core.errors import NotFound
from grid.people import VulnerabilityTag
from grid.regions import region_path
from grid.register import PeopleFilter, exact_id_number, people_page, person_record

router = APIRouter(prefix="/register", tags=["register"])


@router.get("/people", dependencies=[SearchLimit])
async def search_people(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: StaffPrincipal,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=50,
            description="name, a full ID number, or a phone's last digits",
        ),
    ] = None,
    tag: Annotated[list[VulnerabilityTag] | None, Query(description="any of these tags")] = None,
    vulnerable: Annotated[bool, Query(description="only people with a tag")] = False,
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{6,12}$", description="only within this region code")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="cursor: last person id seen")
    ] = None,
) -> dict[str, Any]:
    """People in the caller's area matching the search: a grid worker's own cells, a
    manager's region, everywhere for admins. ID numbers are always masked; exact ID-number
    searches are limited per account (429 and an audit alert over the limit)."""
    if q is not None and exact_id_number(q) is not None:
        await guard_exact_id_search(request, principal)
    path = None
    if region is not None:
        path = await region_path(session, region)
        if path is None:
            raise NotFound(f"No region with code {region}", f"未找到区划 {region}")
    wanted = PeopleFilter(
        text=q, tags=tuple(tag or ()), vulnerable_only=vulnerable, community_path=path
    )
    people, next_after = await people_page(
        session,
        principal,
        wanted,
        on=local_date(),
        limit=limit,
        after=after,
        id_hash_key=settings.id_hash_key.get_secret_value(),
    )
    # The search text is not kept: it may be an ID number.
    await audit_personal_read(
        session,
        request,
        principal,
        "people_search",
        None,
        person_ids=[p["id"] for p in people],
        tags=tag or [],
        region=region,
    )
    return {"people": people, "next_after": next_after}


@router.get("/people/{person_id}")
async def get_person(
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    person_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> dict[str, Any]:
    """One person's record and move history; 404 when absent or outside the caller's area
    (so a record's existence is not revealed either)."""
    record = await person_record(session, principal, person_id, local_date())
    if record is None:
        raise NotFound(f"No person {person_id} in your area", f"您的辖区内没有该人员 {person_id}")
    await audit_personal_read(session, request, principal, "person", person_id)
    return record
