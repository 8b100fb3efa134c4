"""The register's predicates as SQL text that queries compose: a cell in force, an
assignment in force on a day (or not yet ended by it), a region within the caller's reach.

Each is written once here (the ORM spellings sit beside them: GridCell.in_force,
grid.access.assignment_valid_on, grid.access.region_in_reach). The text names only
columns and bound parameters, never a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grid.roles import Role

if TYPE_CHECKING:
    from grid.access import Principal


def _column(alias: str, name: str) -> str:
    return f"{alias}.{name}" if alias else name


def cell_in_force(alias: str = "c") -> str:
    """SQL: the cell is in force now (activated, not retired). The unique index on codes
    (uq_grid_cells_active_code) has this predicate without an alias."""
    return (
        f"({_column(alias, 'active_from')} IS NOT NULL AND {_column(alias, 'active_to')} IS NULL)"
    )


def cell_in_force_at(alias: str = "c", at: str = ":at") -> str:
    """SQL: the cell was in force at the moment bound as `at` ([active_from, active_to))."""
    start, end = _column(alias, "active_from"), _column(alias, "active_to")
    return f"({start} <= {at} AND ({end} IS NULL OR {end} > {at}))"


def assignment_in_force(alias: str = "ca", on: str = ":on") -> str:
    """SQL: the cell assignment holds on the day bound as `on` ([valid_from, valid_to))."""
    start = _column(alias, "valid_from")
    return f"({start} <= {on} AND {assignment_not_ended(alias, on)})"


def assignment_not_ended(alias: str = "ca", on: str = ":on") -> str:
    """SQL: the cell assignment still holds after the day `on` begins, whether or not it
    has started yet (what moving or ending assignments touches)."""
    end = _column(alias, "valid_to")
    return f"({end} IS NULL OR {end} > {on})"


def region_within_reach(path: str = "r.path") -> str:
    """SQL: the region at `path` lies within the caller's reach, bound by `reach_params`
    (admins reach everywhere, staff the regions below theirs, anyone else nowhere)."""
    return f"(CAST(:reach_all AS boolean) OR {path} LIKE CAST(:reach_path AS text) || '%')"


def reach_params(principal: Principal | None) -> dict[str, Any]:
    """The parameters of `region_within_reach` for a caller (None: nobody signed in).
    A NULL path matches nothing, so an account bound to no region reaches none."""
    if principal is None:
        return {"reach_all": False, "reach_path": None}
    staff_path = None if principal.role is Role.RESIDENT else principal.region_path
    return {"reach_all": principal.is_admin, "reach_path": staff_path}
