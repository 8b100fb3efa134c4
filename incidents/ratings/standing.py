"""Who stands where to a report: staff, the reporter (a manager over its region is
grid.access.manager_over)."""

from __future__ import annotations

from sqlalchemy import text

from grid.access import Principal
from grid.roles import STAFF_ROLES

_REPORT = """
    SELECT i.id, i.tracking_number, i.status, i.secret_hash, i.reporter_id, i.assignee_id,
           i.handler_id, i.cell_id, i.region_id, i.closed_at, r.path AS region_path
    FROM incidents i LEFT JOIN regions r ON r.id = i.region_id
"""
# Shared with take_action's FOR UPDATE: a report cannot be reopened while it is rated.
LOCK_REPORT = text(_REPORT + " WHERE i.tracking_number = :t FOR SHARE OF i")
READ_REPORT = text(_REPORT + " WHERE i.tracking_number = :t")


def is_staff(principal: Principal | None) -> bool:
    """Signed in with a staff role."""
    return principal is not None and principal.role in STAFF_ROLES


def is_reporter(principal: Principal | None, reporter_id: int | None) -> bool:
    """The reporter's own account: a resident account that filed the report (staff who
    filed for a caller are not the reporter)."""
    return (
        principal is not None
        and not is_staff(principal)
        and reporter_id is not None
        and principal.id == reporter_id
    )
