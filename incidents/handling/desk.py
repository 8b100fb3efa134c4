"""What the managers' desk reads beside the work lists: an area (a region within the
manager's reach) with its cells in force and its grid workers with their open load, and
the rating flags that wait for a second manager."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, region_in_reach
from grid.roles import MANAGER_ROLES, Role
from grid.sql_fragments import assignment_in_force, cell_in_force
from incidents.lifecycle import OPEN

MAX_CELLS = 2000
MAX_WORKERS = 500
MAX_FLAGS = 200

_REGION_BY_CODE = text("SELECT code, name, level, path FROM regions WHERE code = :code")
_REGION_BY_ID = text("SELECT code, name, level, path FROM regions WHERE id = :id")

# The cells in force under a region (by its path prefix; the ix_regions_path index).
_CELLS = text(f"""
    SELECT c.code FROM grid_cells c JOIN regions r ON r.id = c.community_id
    WHERE r.path LIKE :path || '%' AND {cell_in_force("c")}
    ORDER BY c.code LIMIT :limit
""")

# The active grid workers bound to a community under the region, each with the number of
# open reports assigned to them (wherever those lie: load is the person's, not the area's)
# and the cells they answer for today.
_WORKERS = text(f"""
    SELECT u.username, u.display_name,
           (SELECT count(*) FROM incidents i
            WHERE i.assignee_id = u.id AND i.status = ANY(:open)) AS open_load,
           ARRAY(SELECT DISTINCT c.code FROM cell_assignments a
                 JOIN grid_cells c ON c.id = a.cell_id
                 WHERE a.user_id = u.id AND {assignment_in_force("a", ":today")}
                   AND {cell_in_force("c")}
                 ORDER BY c.code) AS cells
    FROM users u JOIN regions r ON r.id = u.region_id
    WHERE u.role = :worker AND u.is_active AND r.path LIKE :path || '%'
    ORDER BY open_load, u.username
    LIMIT :limit
""")

# Pending flags on ratings of reports in the area, oldest first.
_FLAGS = text("""
    SELECT f.id, f.rating_id, f.reason, f.created_at, f.flagged_by_id,
           a.username AS flagged_by, i.tracking_number, g.overall, g.comment, g.kind
    FROM rating_flags f
    JOIN ratings g ON g.id = f.rating_id
    JOIN incidents i ON i.id = g.incident_id
    JOIN users a ON a.id = f.flagged_by_id
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE f.status = 'pending'
      AND (CAST(:area AS text) IS NULL OR r.path LIKE CAST(:area AS text) || '%')
    ORDER BY f.created_at, f.id
    LIMIT :limit
""")


def _require_manager(principal: Principal) -> None:
    if principal.role not in MANAGER_ROLES or (
        not principal.is_admin and principal.region_path is None
    ):
        raise PermissionDenied("the desk is for managers", "工作台仅供管理人员使用")


async def desk_area(
    session: AsyncSession, principal: Principal, code: str | None, today: date
) -> dict[str, Any]:
    """A region within the manager's reach (their own when no code is given): its cells
    in force and its grid workers with their open load. Outside the area: 403."""
    _require_manager(principal)
    if code is None:
        if principal.region_id is None:  # an admin: name a region
            raise InvalidInput("give a region code", "请指定区域", field="region")
        region = (await session.execute(_REGION_BY_ID, {"id": principal.region_id})).first()
    else:
        region = (await session.execute(_REGION_BY_CODE, {"code": code})).first()
        if region is None:
            raise NotFound(f"no region with code {code}", f"未找到区域 {code}")
    if region is None:
        raise NotFound("your region is gone", "未找到您的辖区")
    if not region_in_reach(principal, region.path):
        raise PermissionDenied("this region is outside your area", "该区域不在您的管辖范围内")
    cells = (
        (await session.execute(_CELLS, {"path": region.path, "limit": MAX_CELLS})).scalars().all()
    )
    workers = (
        (
            await session.execute(
                _WORKERS,
                {
                    "path": region.path,
                    "open": sorted(OPEN),
                    "worker": Role.GRID_WORKER.value,
                    "today": today,
                    "limit": MAX_WORKERS,
                },
            )
        )
        .mappings()
        .all()
    )
    return {
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "cells": list(cells),
        "cells_truncated": len(cells) == MAX_CELLS,
        "workers": [dict(w) | {"cells": list(w["cells"])} for w in workers],
    }


async def pending_rating_flags(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """Flags on ratings in the manager's area that wait for a decision; `mine` marks the
    caller's own (a second manager decides those)."""
    _require_manager(principal)
    rows = (
        (
            await session.execute(
                _FLAGS,
                {"area": None if principal.is_admin else principal.region_path, "limit": MAX_FLAGS},
            )
        )
        .mappings()
        .all()
    )
    return [
        {
            "id": r["id"],
            "rating_id": r["rating_id"],
            "tracking_number": r["tracking_number"],
            "kind": r["kind"],
            "overall": r["overall"],
            "comment": r["comment"],
            "reason": r["reason"],
            "flagged_by": r["flagged_by"],
            "created_at": _iso(r["created_at"]),
            "mine": r["flagged_by_id"] == principal.id,
        }
        for r in rows
    ]


def _iso(value: datetime) -> str:
    return value.isoformat()
