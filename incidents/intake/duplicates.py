"""Likely duplicates: open reports of the same category near a new one, found from
their public places (checked before filing, and inside the intake statement)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.lifecycle import OPEN as OPEN_STATUSES

if TYPE_CHECKING:
    from incidents.intake.filing import IntakeCategory


# Open reports of a category whose PUBLIC place lies within its duplicate radius of
# :lon/:lat, nearest first. The answer goes back to whoever asks (anonymous included), so
# nearness is measured from what is already public: public_point_3857, the one home of a
# report's public place (the trigger of migration 0009 keeps it: the exact pin, the
# building, or the cell, per category). Measured from the stored pin, edge-searching the
# radius along a few rays would give the pin back to centimetres (issue 15, item 1).
# The box test comes first, around the point literal transformed to the column's SRID,
# so the GiST index on public_point_3857 answers it (the Mercator box is widened by
# 1/cos(lat), its scale); the exact distance is then measured on the spheroid.
NEARBY_SQL = """
    SELECT i.tracking_number, i.status, i.created_at,
           round(ST_Distance(shown.place::geography, pt::geography)) AS distance_m
    FROM incidents i
    CROSS JOIN LATERAL (SELECT ST_Transform(i.public_point_3857, 4326) AS place) AS shown,
         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt
    WHERE CAST(:radius AS float8) > 0 AND i.category_code = :category
      AND i.status = ANY(:open)
      AND i.public_point_3857 && ST_Expand(
          ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :mercator_lat), 4326), 3857),
          :radius_3857)
      AND ST_DWithin(shown.place::geography, pt::geography, :radius)
    ORDER BY distance_m, i.created_at
    LIMIT :limit
"""
_LIKELY_DUPLICATES = text(NEARBY_SQL)


# Web Mercator ends short of the poles; a point beyond holds no public place anyway.
_MERCATOR_MAX_LAT = 85.0


def nearby_params(category: IntakeCategory, lat: float, limit: int = 5) -> dict[str, Any]:
    radius = float(category.duplicate_radius_m)
    mercator_lat = max(-_MERCATOR_MAX_LAT, min(_MERCATOR_MAX_LAT, lat))
    # Mercator metres per ground metre: 1/cos(lat); a little slack for the box's edge.
    scale = 1.0 / math.cos(math.radians(mercator_lat))
    """The duplicate check's parameters besides the point (:lon, :lat)."""
    return {
        "category": category.code,
        "open": list(OPEN_STATUSES),
        "radius": radius,
        "mercator_lat": mercator_lat,
        "radius_3857": radius * scale * 1.01 + 1.0,
        "limit": limit,
    }


def as_duplicate(tracking_number: str, status: str) -> dict[str, Any]:
    """A likely duplicate as the reporter sees it."""
    # Nearest first, but no distance: three answers' distances would locate a report
    # whose category is published only at building or cell precision.
    return {"tracking_number": tracking_number, "status": status}


async def likely_duplicates(
    session: AsyncSession, category: IntakeCategory, lon: float, lat: float, limit: int = 5
) -> list[dict[str, Any]]:
    """Open reports of the same category within the category's duplicate radius."""
    if category.duplicate_radius_m <= 0:
        return []
    rows = await session.execute(
        _LIKELY_DUPLICATES, {"lon": lon, "lat": lat, **nearby_params(category, lat, limit)}
    )
    return [as_duplicate(row.tracking_number, row.status) for row in rows]
