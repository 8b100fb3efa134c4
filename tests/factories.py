"""Small factories for tests. Geometries are drawn in metres in CGCS2000 / 3-degree
Gauss-Kruger CM 114E (EPSG:4547) and reprojected to 4326, to catch CRS mistakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import shapely
from fastapi import FastAPI
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.deps import get_session
from api.tokens import create_access_token
from core.settings import Settings
from gis.crs import STORAGE_SRID, transformer
from grid.accounts import hash_password
from grid.identity import id_number_hash
from grid.models import BoundaryVersion, Building, CellAssignment, GridCell, Region, User
from grid.people import House, Household, Person, Residence

TEST_CRS = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (around Shenzhen)
ORIGIN = (505_000.0, 2_494_000.0)  # ~114.05E, 22.55N
PASSWORD = "correct-horse-9"
_PASSWORD_HASH: list[str] = []


def metres_box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    """A rectangle given in metres from ORIGIN, returned in lon/lat."""
    rect = box(ORIGIN[0] + x0, ORIGIN[1] + y0, ORIGIN[0] + x1, ORIGIN[1] + y1)
    to_wgs84 = transformer(TEST_CRS, STORAGE_SRID)
    projected = shapely.transform(rect, lambda xy: _apply(to_wgs84, xy))
    return MultiPolygon([projected])


def metres_point(x: float, y: float) -> tuple[float, float]:
    """A point in metres from ORIGIN as (lon, lat)."""
    return transformer(TEST_CRS, STORAGE_SRID).transform(ORIGIN[0] + x, ORIGIN[1] + y)


def _apply(t, xy):
    import numpy as np

    lon, lat = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _geom(shape) -> object:
    return from_shape(shape, srid=STORAGE_SRID)


async def make_region(
    db: AsyncSession,
    code: str,
    level: str,
    name: str,
    parent: Region | None,
    extent: tuple[float, float, float, float],
) -> Region:
    """A region with a rectangular boundary (extent in metres)."""
    region = Region(
        code=code,
        name=name,
        level=level,
        parent_id=parent and parent.id,
        path="",
        boundary=_geom(metres_box(*extent)),
    )
    db.add(region)
    await db.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    await db.flush()
    return region


async def make_version(db: AsyncSession, status: str = "active") -> BoundaryVersion:
    """A boundary version (active unless asked otherwise)."""
    version = BoundaryVersion(
        label=f"test {status}",
        source="test",
        status=status,
        activated_at=datetime.now(UTC) if status == "active" else None,
    )
    db.add(version)
    await db.flush()
    return version


async def make_cell(
    db: AsyncSession,
    code: str,
    community: Region,
    extent: tuple[float, float, float, float],
    version: BoundaryVersion | None = None,
) -> GridCell:
    """A grid cell with a rectangular boundary (extent in metres), in force unless its
    version is a draft."""
    version = version or await make_version(db)
    in_force = version.status == "active"
    cell = GridCell(
        code=code,
        name=f"网格{code[-3:]}",
        community_id=community.id,
        version_id=version.id,
        boundary=_geom(metres_box(*extent)),
        active_from=datetime(2026, 1, 1, tzinfo=UTC) if in_force else None,
    )
    db.add(cell)
    await db.flush()
    return cell


async def make_user(
    db: AsyncSession,
    username: str,
    role: str,
    region: Region | None = None,
    display_name: str = "测试用户",
    phone: str | None = "13800000000",
) -> User:
    """An active account with the shared test password."""
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    user = User(
        username=username,
        display_name=display_name,
        phone=phone,
        role=role,
        region_id=region and region.id,
        password_hash=_PASSWORD_HASH[0],
    )
    db.add(user)
    await db.flush()
    return user


async def assign(
    db: AsyncSession,
    cell: GridCell,
    user: User,
    kind: str = "primary",
    valid_from: date = date(2026, 1, 1),
    valid_to: date | None = None,
) -> CellAssignment:
    """Make a worker responsible for a cell over [valid_from, valid_to)."""
    row = CellAssignment(
        cell_id=cell.id, user_id=user.id, kind=kind, valid_from=valid_from, valid_to=valid_to
    )
    db.add(row)
    await db.flush()
    return row


async def make_building(
    db: AsyncSession,
    cell: GridCell | None,
    extent: tuple[float, float, float, float],
    address: str = "测试路1号",
    use: str = "residential",
    floors: int = 6,
) -> Building:
    """A building with a rectangular footprint (extent in metres)."""
    building = Building(
        address=address,
        use=use,
        floors=floors,
        cell_id=cell and cell.id,
        footprint=_geom(metres_box(*extent)),
    )
    db.add(building)
    await db.flush()
    return building


def auth_headers(user: User, settings: Settings) -> dict[str, str]:
    """A bearer header for the user."""
    return {"Authorization": f"Bearer {create_access_token(user.id, settings)}"}


@dataclass
class World:
    """A small city: one district, one street, two communities, three cells."""

    city: Region
    district: Region
    street: Region
    community_a: Region
    community_b: Region
    cell_a1: GridCell
    cell_a2: GridCell
    cell_b1: GridCell


async def make_world(db: AsyncSession) -> World:
    """Build the small city used by API tests (cells are 500 m squares)."""
    city = await make_region(db, "880100", "city", "测试市", None, (0, 0, 1500, 500))
    district = await make_region(db, "880101", "district", "测试区", city, (0, 0, 1500, 500))
    street = await make_region(db, "880101001", "street", "测试街道", district, (0, 0, 1500, 500))
    comm_a = await make_region(db, "880101001001", "community", "甲社区", street, (0, 0, 1000, 500))
    comm_b = await make_region(
        db, "880101001002", "community", "乙社区", street, (1000, 0, 1500, 500)
    )
    version = await make_version(db)
    a1 = await make_cell(db, "880101001001001", comm_a, (0, 0, 500, 500), version)
    a2 = await make_cell(db, "880101001001002", comm_a, (500, 0, 1000, 500), version)
    b1 = await make_cell(db, "880101001002001", comm_b, (1000, 0, 1500, 500), version)
    return World(city, district, street, comm_a, comm_b, a1, a2, b1)


# The accounts of the incident-flow tests by key: username, role and the World region they
# belong to (None: no region).
CAST = {
    "worker": ("w-a1", "grid_worker", "community_a"),
    "cm_a": ("cm-a", "community_manager", "community_a"),
    "cm_a2": ("cm-a2", "community_manager", "community_a"),
    "cm_b": ("cm-b", "community_manager", "community_b"),
    "street": ("street", "street_manager", "street"),
    "district": ("district", "district_manager", "district"),
    "admin": ("boss", "admin", None),
    "resident": ("res", "resident", None),
    "neighbour": ("res2", "resident", None),
}


async def make_scene(db: AsyncSession, *cast: str) -> tuple[World, dict[str, User]]:
    """The small city, w-a1 on duty in cell a1 from 2026-01-01, and the accounts of CAST
    named in `cast` (created in that order, after the worker), by key."""
    world = await make_world(db)
    users: dict[str, User] = {}
    for key in ("worker", *cast):
        username, role, region = CAST[key]
        users[key] = await make_user(db, username, role, region and getattr(world, region))
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    return world, users


def valid_id_number(prefix17: str) -> str:
    """An 18-character ID number with a correct GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(prefix17, weights, strict=True))
    return prefix17 + "10X98765432"[total % 11]


async def make_household(
    db: AsyncSession,
    building: Building,
    unit_number: str,
    kind: str = "registered",
    floor: int = 3,
    is_rental: bool = False,
) -> Household:
    """A house (dwelling unit) in the building and a household living in it."""
    house = House(
        building_id=building.id, floor=floor, unit_number=unit_number, is_rental=is_rental
    )
    db.add(house)
    await db.flush()
    household = Household(house_id=house.id, kind=kind)
    db.add(household)
    await db.flush()
    return household


async def make_person(
    db: AsyncSession,
    household: Household | None,
    name: str,
    *,
    settings: Settings,
    id_number: str | None = None,
    phone: str | None = None,
    tags: list[str] | None = None,
    birth_date: date | None = None,
    gender: str = "unknown",
    moved_in: date = date(2020, 1, 1),
) -> Person:
    """A person in a household, their ID number kept as keyed hash + last 4, moved in."""
    person = Person(
        household_id=household and household.id,
        name=name,
        phone=phone,
        gender=gender,
        birth_date=birth_date,
        vulnerability_tags=tags or [],
        id_number_hash=id_number
        and id_number_hash(id_number, settings.id_hash_key.get_secret_value().encode()),
        id_number_last4=id_number and id_number[-4:],
    )
    db.add(person)
    await db.flush()
    if household is not None:
        db.add(Residence(person_id=person.id, household_id=household.id, moved_in=moved_in))
        await db.flush()
    return person


def app_on_session(settings: Settings, db: AsyncSession) -> FastAPI:
    """The real app serving every request, and its own short sessions (ban list, rate
    limits), from the test's session, so all of it is rolled back with the test."""
    application = create_app(settings)

    async def _test_session() -> AsyncIterator[AsyncSession]:
        yield db

    @asynccontextmanager
    async def _borrowed() -> AsyncIterator[AsyncSession]:
        yield db

    application.dependency_overrides[get_session] = _test_session
    application.state.sessions = _borrowed
    application.state.autocommit = _borrowed
    return application
