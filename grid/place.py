"""A pin in words: the nearest address or road, the cell, and who looks after it (the
report page's confirmation). Public facts only; the duty card's name is the admin's
choice (网格员公示)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.geometry import degrees_around
from grid.lookup import PointLookup, lookup_point

# A building this close stands for the pin's address (a pin on the pavement in front).
BUILDING_NEAR_M = 50.0
# Further than this from every named road, "near <road>" would mislead more than help.
ROAD_NEAR_M = 300.0
# The levels a duty card names: the cell's own grid workers, never a manager.
DUTY_CARD_LEVELS = frozenset({"primary", "backup"})


@dataclass(frozen=True)
class PointPlace:
    """The point lookup plus the nearest register building and named road."""

    lookup: PointLookup
    building: dict[str, Any] | None
    road: dict[str, Any] | None


_SQL = Path(__file__).parent / "sql"


@lru_cache
def nearest_building_sql() -> str:
    """The statement of a pin's address (sql/nearest_building.sql; bind :lon/:lat and
    building_params): at most one row of id, address, distance_m. Intake embeds it."""
    return (_SQL / "nearest_building.sql").read_text()


def building_params(lat: float) -> dict[str, float]:
    """The values nearest_building_sql() binds besides the point."""
    return {"building_m": BUILDING_NEAR_M, "building_deg": degrees_around(lat, BUILDING_NEAR_M)}


@lru_cache
def _statement():
    return text(
        (_SQL / "point_place.sql").read_text().replace("{nearest_building}", nearest_building_sql())
    )


def _near(raw: Any, key: str) -> dict[str, Any] | None:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if value is None:
        return None
    return {key: value[key], "distance_m": round(value["distance_m"])}


async def describe_point(session: AsyncSession, lon: float, lat: float, on: date) -> PointPlace:
    """The cell, regions and responsible person of a WGS84 point (grid.lookup), with the
    nearest addressed building within BUILDING_NEAR_M and named road within ROAD_NEAR_M."""
    found = await lookup_point(session, lon, lat, on)
    row = (
        await session.execute(
            _statement(),
            {
                "lon": lon,
                "lat": lat,
                **building_params(lat),
                "road_m": ROAD_NEAR_M,
                "road_deg": degrees_around(lat, ROAD_NEAR_M),
            },
        )
    ).one()
    return PointPlace(found, _near(row.building, "address"), _near(row.road, "name"))


def public_place(place: PointPlace, duty_cards: bool) -> dict[str, Any]:
    """What anyone may be told about a spot: the address or road, the cell's code and
    name, the deepest region, and the duty card (its level; the grid worker's display
    name only when `duty_cards`, never a phone number, account or manager's name)."""
    found = place.lookup
    cell = found.cell and {"code": found.cell["code"], "name": found.cell["name"]}
    duty = None
    if found.responsible is not None:
        level = found.responsible["level"]
        named = duty_cards and level in DUTY_CARD_LEVELS
        duty = {
            "level": level,
            "name": (found.responsible.get("display_name") or None) if named else None,
        }
    return {
        "match": found.match,
        "address": place.building,
        "road": place.road,
        "cell": cell,
        "region": found.regions[-1] if found.regions else None,
        "duty": duty,
    }
