"""What staff record on a report without changing its state: notes (with photos) and
on-site check-ins. Every write runs in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, PermissionDenied
from grid.access import Principal, manager_over
from incidents.handling.actions import locked_incident
from incidents.intake.evidence import photo_rows
from incidents.intake.photos import Photo
from incidents.status import WITH_WORKER
from incidents.timeline import notify, record_event


def _assignee_or_manager(principal: Principal, row: Any, what: str) -> None:
    """403 unless the caller is the assignee or a manager over the report."""
    if principal.id != row.assignee_id and not manager_over(principal, row.region_path):
        raise PermissionDenied(
            f"only the assignee or a manager over it may {what}",
            "只有处理人或辖区管理人员可以执行此操作",
        )


def assignee_only(principal: Principal, row: Any, what: str) -> None:
    """403 unless the caller is the report's assignee (`what` names the refused step)."""
    if principal.id != row.assignee_id:
        raise PermissionDenied(
            f"only the report's assignee may {what}", "只有该上报的处理人可以执行此操作"
        )


# --- notes --------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    note: str,
    now: datetime,
    *,
    public: bool = False,
    photos: list[Photo] | None = None,
) -> dict[str, Any]:
    """A note (with photos) on the timeline, changing nothing else. Staff-only unless a
    manager publishes it; a manager's note reaches the assignee's inbox."""
    row = await locked_incident(session, principal, tracking_number, now)
    _assignee_or_manager(principal, row, "add notes")
    if public and not manager_over(principal, row.region_path):
        raise PermissionDenied(
            "only managers publish notes", "只有管理人员可以公开备注", field="public"
        )
    event_id = await record_event(
        session,
        row.id,
        "note",
        principal.id,
        principal.role.value,
        now,
        note=note,
        public=public,
        data={"photos": len(photos or [])},
    )
    if photos:
        session.add_all(photo_rows(row.id, photos, event_id))
        await session.flush()
    if principal.id != row.assignee_id:
        await notify(
            session,
            "incident.note",
            row.id,
            {"tracking_number": row.tracking_number},
            now,
            recipients=[row.assignee_id, row.reporter_id if public else None],
            except_id=principal.id,
        )
    return {
        "tracking_number": row.tracking_number,
        "kind": "note",
        "public": public,
        "photos": len(photos or []),
        "at": now.isoformat(),
    }


# --- on-site check-in ---------------------------------------------------------------------

# Distance on the spheroid between the report's pin and where the worker stands.
_CHECK_IN = text("""
    WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    measured AS (
        SELECT ST_Distance(i.location::geography, here.g::geography) AS distance_m, here.g
        FROM incidents i, here WHERE i.id = :id)
    INSERT INTO check_ins (incident_id, user_id, location, distance_m, on_site, at)
    SELECT :id, :user_id, g, distance_m, distance_m <= :radius, :now FROM measured
    RETURNING id, distance_m, on_site
""")

CHECK_IN_STATUSES = WITH_WORKER


async def check_in(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    lon: float,
    lat: float,
    radius_m: float,
    now: datetime,
) -> dict[str, Any]:
    """Record where the assignee stands (WGS84) and whether that is on site (within
    `radius_m` of the pin). An off-site attempt is recorded too: it is evidence."""
    row = await locked_incident(session, principal, tracking_number, now)
    assignee_only(principal, row, "check in")
    if row.status not in CHECK_IN_STATUSES:
        raise Conflict(
            f"cannot check in at a report that is {row.status}", f"当前状态（{row.status}）不能签到"
        )
    found = (
        await session.execute(
            _CHECK_IN,
            {
                "id": row.id,
                "user_id": principal.id,
                "lon": lon,
                "lat": lat,
                "radius": radius_m,
                "now": now,
            },
        )
    ).one()
    distance = round(float(found.distance_m), 1)
    await record_event(
        session,
        row.id,
        "check_in",
        principal.id,
        principal.role.value,
        now,
        data={"check_in_id": found.id, "distance_m": distance, "on_site": found.on_site},
    )
    return {
        "tracking_number": row.tracking_number,
        "distance_m": distance,
        "on_site": found.on_site,
        "radius_m": radius_m,
        "at": now.isoformat(),
    }
