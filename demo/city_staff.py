"""The demo city's staff and accounts: a manager per region, a primary worker for
every cell but a few, some backups, and the six demo accounts, one per role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import shapely
from faker import Faker

from grid.roles import Role

ASSIGNMENT_START = date(2026, 1, 1)
UNSTAFFED_CELLS = 5  # cells deliberately left without a worker, to show the gap
BACKUP_SHARE = 0.2

DEMO_DISTRICT = "990101"
DEMO_STREET = DEMO_DISTRICT + "001"
DEMO_COMMUNITY = DEMO_STREET + "001"
DEMO_CELL = DEMO_COMMUNITY + "001"


@dataclass(frozen=True)
class DemoPerson:
    """An account to create: staff are bound to a region code, others to none."""

    username: str
    display_name: str
    phone: str | None
    role: str
    region_code: str | None


@dataclass(frozen=True)
class DemoAssignment:
    """A worker responsible for a cell from `valid_from` on."""

    cell_code: str
    username: str
    kind: str
    valid_from: date


def _touching(cells_m: gpd.GeoDataFrame, k: int) -> list[int]:
    """Cells of the same community sharing an edge with cell k."""
    geoms = cells_m.geometry.to_numpy()
    near = cells_m.sindex.query(geoms[k], predicate="touches")
    community = cells_m["community_code"].to_numpy()
    shared = shapely.length(shapely.intersection(geoms[k].boundary, shapely.boundary(geoms[near])))
    return sorted(
        int(j) for j, s in zip(near, shared, strict=True) if s > 0 and community[j] == community[k]
    )


_PersonMaker = Callable[[str, Role, str | None], DemoPerson]


def city_staff(
    seed: int, rng: np.random.Generator, cells_m: gpd.GeoDataFrame, regions: gpd.GeoDataFrame
) -> dict[str, list]:
    """Managers for every region, a primary worker per cell (but five), some backups, and
    the six demo accounts, which take the place of the staff of the first area of each."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)

    def person(username: str, role: Role, region_code: str | None) -> DemoPerson:
        return DemoPerson(username, fake.name(), fake.phone_number(), role.value, region_code)

    managers = _managers(person, regions)
    workers, assignments = _cell_staff(rng, person, cells_m)
    staff = {p.username: p for p in [*managers, *workers]}
    accounts = [
        DemoPerson("admin", "演示管理员", fake.phone_number(), Role.ADMIN.value, None),
        staff["district"],
        staff["street"],
        staff["community"],
        staff["worker"],
        person("resident", Role.RESIDENT, None),
    ]
    return {
        "workers": workers,
        "managers": managers,
        "accounts": accounts,
        "assignments": assignments,
    }


def _managers(person: _PersonMaker, regions: gpd.GeoDataFrame) -> list[DemoPerson]:
    """One manager per district, street and community (dm/sm/cm + code); the first of
    each level in the demo chain gets the fixed demo username instead."""
    demo_staff = {DEMO_DISTRICT: "district", DEMO_STREET: "street", DEMO_COMMUNITY: "community"}
    managers = []
    for level, prefix, role in (
        ("district", "dm", Role.DISTRICT_MANAGER),
        ("street", "sm", Role.STREET_MANAGER),
        ("community", "cm", Role.COMMUNITY_MANAGER),
    ):
        for code in regions.loc[regions["level"] == level, "code"]:
            managers.append(person(demo_staff.get(code, prefix + code), role, code))
    return managers


def _cell_staff(
    rng: np.random.Generator, person: _PersonMaker, cells_m: gpd.GeoDataFrame
) -> tuple[list[DemoPerson], list[DemoAssignment]]:
    """Grid workers and their assignments: a primary per cell except UNSTAFFED_CELLS
    (never the demo worker's), and backups for BACKUP_SHARE of the cells, half of them
    the primary of a neighbouring cell in the same community."""
    codes = cells_m["code"].to_numpy()
    communities = cells_m["community_code"].to_numpy()
    unstaffed = set(
        rng.choice(np.flatnonzero(codes != DEMO_CELL), UNSTAFFED_CELLS, replace=False).tolist()
    )
    workers: list[DemoPerson] = []
    assignments: list[DemoAssignment] = []
    primary: dict[int, str] = {}
    for k, code in enumerate(codes):
        if k in unstaffed:
            continue
        username = "worker" if code == DEMO_CELL else f"w{code}"
        workers.append(person(username, Role.GRID_WORKER, communities[k]))
        assignments.append(DemoAssignment(code, username, "primary", ASSIGNMENT_START))
        primary[k] = username

    n_backups = round(BACKUP_SHARE * codes.size)
    for k in sorted(rng.choice(sorted(primary), n_backups, replace=False).tolist()):
        helpers = [j for j in _touching(cells_m, k) if j in primary]
        if helpers and rng.random() < 0.5:  # a neighbour's primary worker stands in
            username = primary[helpers[int(rng.integers(len(helpers)))]]
        else:
            username = f"wb{codes[k]}"
            workers.append(person(username, Role.GRID_WORKER, communities[k]))
        assignments.append(DemoAssignment(codes[k], username, "backup", ASSIGNMENT_START))
    return workers, assignments
