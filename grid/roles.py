"""Roles, region levels and which region level each staff role is bound to."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an account may do; staff roles are bound to an area."""

    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    COMMUNITY_MANAGER = "community_manager"
    STREET_MANAGER = "street_manager"
    DISTRICT_MANAGER = "district_manager"
    ADMIN = "admin"


class RegionLevel(StrEnum):
    """Administrative levels, from the top down."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"


# The region level a staff account's region_id must point at. A grid worker is
# bound to its community and, within it, to the cells it is assigned to.
ROLE_REGION_LEVEL: dict[Role, RegionLevel] = {
    Role.GRID_WORKER: RegionLevel.COMMUNITY,
    Role.COMMUNITY_MANAGER: RegionLevel.COMMUNITY,
    Role.STREET_MANAGER: RegionLevel.STREET,
    Role.DISTRICT_MANAGER: RegionLevel.DISTRICT,
}

STAFF_ROLES = frozenset(Role) - {Role.RESIDENT}
# The managers bound to a region, from the bottom of the ladder up (escalation climbs it);
# admins stand above every region.
MANAGER_LADDER = (Role.COMMUNITY_MANAGER, Role.STREET_MANAGER, Role.DISTRICT_MANAGER)
AREA_MANAGER_ROLES = frozenset(MANAGER_LADDER)
MANAGER_ROLES = AREA_MANAGER_ROLES | {Role.ADMIN}

# Length of an administrative code at each level (GB/T 2260 style, then
# 3-digit street and community serials); a grid cell appends 3 more digits.
CODE_LENGTH: dict[RegionLevel, int] = {
    RegionLevel.CITY: 6,
    RegionLevel.DISTRICT: 6,
    RegionLevel.STREET: 9,
    RegionLevel.COMMUNITY: 12,
}
CELL_CODE_LENGTH = 15
