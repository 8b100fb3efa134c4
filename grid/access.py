"""Who is asking (the principal) and whether an area is within their reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from grid.models import CellAssignment, Region, User
from grid.roles import MANAGER_ROLES, Role


@dataclass(frozen=True)
class Principal:
    """An authenticated account and the area it is bound to."""

    id: int
    username: str
    display_name: str
    role: Role
    region_id: int | None
    region_path: str | None

    @property
    def is_admin(self) -> bool:
        """Admins reach every area."""
        return self.role is Role.ADMIN


async def load_principal(session: AsyncSession, user_id: int) -> Principal | None:
    """The active account with this id, with its region path; None when absent or disabled."""
    query = (
        select(User, Region.path)
        .outerjoin(Region, Region.id == User.region_id)
        .where(User.id == user_id, User.is_active.is_(True))
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    user, path = row
    return Principal(
        user.id, user.username, user.display_name, Role(user.role), user.region_id, path
    )


def region_in_reach(principal: Principal, region_path: str) -> bool:
    """True when a region (by its ancestry path) lies within a manager's region."""
    if principal.is_admin:
        return True
    if principal.role is Role.RESIDENT or principal.region_path is None:
        return False
    return region_path.startswith(principal.region_path)


def manager_over(principal: Principal, region_path: str | None) -> bool:
    """A manager (or admin) whose reach holds the region (a report's, a rating's)."""
    return principal.role in MANAGER_ROLES and (
        principal.is_admin or (region_path is not None and region_in_reach(principal, region_path))
    )


async def cell_in_reach(
    session: AsyncSession, principal: Principal, cell_id: int, community_path: str, on: date
) -> bool:
    """True when staff may see a cell: managers by region, grid workers by assignment."""
    if principal.role is Role.GRID_WORKER:
        return await worker_assigned_to_cell(session, principal.id, cell_id, on)
    return region_in_reach(principal, community_path)


async def worker_assigned_to_cell(
    session: AsyncSession, user_id: int, cell_id: int, on: date
) -> bool:
    """True when the worker is primary or backup for the cell on that day."""
    query = select(CellAssignment.id).where(
        CellAssignment.user_id == user_id,
        CellAssignment.cell_id == cell_id,
        *assignment_valid_on(on),
    )
    return (await session.execute(query.limit(1))).first() is not None


def assignment_valid_on(on: date) -> tuple:
    """Filter clauses for assignments in force on a day ([valid_from, valid_to))."""
    return (
        CellAssignment.valid_from <= on,
        (CellAssignment.valid_to.is_(None)) | (CellAssignment.valid_to > on),
    )
