"""Handling statistics: published figures for the public (small groups suppressed) and
full figures for managers over their area."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import ManagerPrincipal, SessionDep, SettingsDep
from core.errors import NotFound, PermissionDenied
from grid.access import region_in_reach
from incidents.publication.statistics import (
    Period,
    Scope,
    check_level,
    checked_period,
    fixed_period,
    group_statistics,
    months_of,
    published,
    region_scope,
    without_parents,
)

router = APIRouter(prefix="/statistics", tags=["statistics"])

Level = Annotated[
    Literal["cell", "community", "street", "district"], Query(description="what each group is")
]
From = Annotated[
    date,
    Query(
        alias="from",
        description="first China day of the period (public "
        "figures: of a calendar month or quarter)",
    ),
]
To = Annotated[
    date,
    Query(
        description="day after the period's last (the period is [from, to); "
        "public figures: the next month's or quarter's first)"
    ),
]
RegionCode = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{6}([0-9]{3}){0,2}$", description="only groups within this region"),
]


async def _scope_of(session: SessionDep, code: str) -> Scope:
    scope = await region_scope(session, code=code)
    if scope is None:
        raise NotFound(f"No region with code {code}", f"未找到区划 {code}")
    return scope


def _answer(
    level: str, period: Period, scope: Scope, now: datetime, groups: list, published_k: int | None
) -> dict[str, Any]:
    return {
        "level": level,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "region": scope.code,
        "as_of": now.isoformat(),
        "published": published_k is not None,
        "min_group": published_k,
        "groups": groups,
    }


@router.get("")
async def public_statistics(
    session: SessionDep,
    settings: SettingsDep,
    level: Level,
    from_: From,
    to: To,
    region: RegionCode = None,
) -> dict[str, Any]:
    """Published figures per group (no personal data) for a calendar month or quarter:
    groups with fewer than k reports show no figures, rating figures need k valid
    ratings, and one more sibling is hidden beside a lone hidden one."""
    period = fixed_period(from_, to)
    scope = await _scope_of(session, region) if region else Scope(None, None)
    check_level(level, scope)
    now = datetime.now(UTC)
    # Siblings are judged together: narrowed to one region of the level itself, the
    # figures are worked out over its parent and then narrowed.
    judged = scope
    if scope.path and scope.level == level:
        judged = Scope(None, scope.path.rstrip("/").rsplit("/", 1)[0] + "/", "city")
    k = settings.stats_min_group
    months = []
    if len(months_of(period)) > 1:
        for month in months_of(period):
            groups = await group_statistics(session, level, month, judged, now)
            months.append(published(groups, k))
    groups = published(await group_statistics(session, level, period, judged, now), k, months)
    if judged is not scope:
        groups = [g for g in groups if g["code"] == scope.code]
    return _answer(level, period, scope, now, without_parents(groups), k)


@router.get("/staff")
async def staff_statistics(
    session: SessionDep,
    principal: ManagerPrincipal,
    level: Level,
    from_: From,
    to: To,
    region: RegionCode = None,
) -> dict[str, Any]:
    """Full figures for managers over the area (default: their own region; admins:
    everywhere); a region outside their area is refused."""
    period = checked_period(from_, to)
    if region:
        scope = await _scope_of(session, region)
        if not region_in_reach(principal, scope.path or ""):
            raise PermissionDenied("This region is outside your area", "该区划不在您的管辖范围内")
    elif principal.is_admin:
        scope = Scope(None, None)
    else:
        scope = await region_scope(session, region_id=principal.region_id)
        if scope is None:  # a manager always has a region (a constraint says so)
            raise PermissionDenied()
    check_level(level, scope)
    now = datetime.now(UTC)
    groups = await group_statistics(session, level, period, scope, now)
    return _answer(level, period, scope, now, without_parents(groups), None)
