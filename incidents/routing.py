"""Routing: which cell, queue and person a reported spot goes to, and the rule that
decided it (recorded on the report)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from grid.lookup import lookup_point

# Within this distance of a cell (a pin on the road between two cells, GPS drift) the
# report goes to that cell rather than to a manager's queue.
DEFAULT_TOLERANCE_M = 30.0


@dataclass(frozen=True)
class Route:
    """Where a report goes. `assignee_id` is None for a queue; `region_code` is the
    community of the cell, or the deepest region covering the point, or None."""

    rule: str  # inside | nearest | community_queue | street_queue | district_queue | ...
    level: str  # primary | backup | community_manager | street_manager | ... | queue
    cell_id: int | None
    cell_code: str | None
    region_code: str | None
    assignee_id: int | None


async def route_point(
    session: AsyncSession, lon: float, lat: float, on: date,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> Route:
    """The cell covering the point (or within tolerance of it) and its on-duty primary
    worker, else a backup, else the nearest manager up the chain; a point outside every
    cell goes to the queue of the deepest region covering it, or the city-wide queue."""
    found = await lookup_point(session, lon, lat, on, tolerance_m)
    deepest = found.regions[-1] if found.regions else None
    region_code = deepest["code"] if deepest else None
    if found.cell is None:
        rule = f"{deepest['level']}_queue" if deepest else "outside"
        return Route(rule, "queue", None, None, region_code, None)
    responsible = found.responsible
    if responsible is None:
        return Route(found.match, "queue", found.cell["id"], found.cell["code"], region_code,
                     None)
    return Route(found.match, responsible["level"], found.cell["id"], found.cell["code"],
                 region_code, responsible["id"])
