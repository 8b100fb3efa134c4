"""Write a generated DemoCity into the PostGIS register with COPY, inside the caller's
transaction (this module never commits or rolls back)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from demo.city import DemoCity
from demo.people import DemoPopulation
from gis.crs import STORAGE_SRID
from grid.identity import id_number_hash
from grid.roles import ROLE_REGION_LEVEL, Role

REGISTER_TABLES = ("regions", "grid_cells", "buildings", "users", "people")
# Truncated in one statement, so foreign-key order does not matter; CASCADE also empties
# tables that point at them (cell parts, ...). The people register (residences -> people
# -> households -> houses -> buildings) is named so its ids restart too.
CLEARED_TABLES = (
    "residences",
    "people",
    "households",
    "houses",
    "cell_assignments",
    "buildings",
    "grid_cells",
    "boundary_versions",
    "users",
    "regions",
)
DEMO_VERSION_LABEL = "示范市演示网格 (demo)"
DEMO_VERSION_SOURCE = "demo"


def register_is_empty(connection: Connection) -> bool:
    """True when regions, grid cells, buildings, users and people all hold no rows."""
    probes = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {t})" for t in REGISTER_TABLES)
    began = not connection.in_transaction()
    empty = bool(connection.execute(text(f"SELECT {probes}")).scalar_one())
    if began:
        # Close the read-only transaction SQLAlchemy began for this query, so the caller
        # can still `with connection.begin():` afterwards.
        connection.rollback()
    return empty


def clear_register(connection: Connection) -> None:
    """Empty the register tables (and whatever references them), restarting their ids."""
    connection.execute(text(f"TRUNCATE {', '.join(CLEARED_TABLES)} RESTART IDENTITY CASCADE"))


def load_demo_city(
    connection: Connection,
    city: DemoCity,
    password_hash: str,
    id_hash_key: bytes,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Insert the city (regions, cells, users, assignments, buildings) and its people
    (houses, households, people, residences; ID numbers hashed with `id_hash_key`);
    returns row counts."""
    report = progress or (lambda _message: None)
    # COPY needs the DBAPI (psycopg2) connection; it shares the caller's transaction.
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        report(f"loading {len(city.regions)} regions")
        region_ids = _load_regions(cursor, city)
        report(f"loading {len(city.cells)} grid cells as the active boundary version")
        cell_ids = _load_cells(cursor, city, region_ids, _active_version(cursor))
        report(f"loading {len(city.users)} users and {len(city.assignments)} cell assignments")
        user_ids = _load_users(cursor, city, region_ids, password_hash)
        _load_assignments(cursor, city, cell_ids, user_ids)
        report(f"loading {len(city.buildings)} buildings")
        building_ids = _load_buildings(cursor, city, cell_ids)
        people = _load_population(cursor, city.population, building_ids, id_hash_key, report)
    return {
        "regions": len(region_ids),
        "grid_cells": len(cell_ids),
        "users": len(user_ids),
        "cell_assignments": len(city.assignments),
        "buildings": len(city.buildings),
        **people,
    }


def _ewkb(geoms: Any) -> list[str]:
    """Hex EWKB with SRID 4326, the text form PostGIS accepts for a geometry in COPY."""
    tagged = shapely.set_srid(np.asarray(geoms, dtype=object), STORAGE_SRID)
    return shapely.to_wkb(tagged, hex=True, include_srid=True).tolist()


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows in CSV form; None becomes NULL (an unquoted empty field)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv)", buffer)


def _next_ids(cursor: Any, table: str, count: int) -> list[int]:
    """Take `count` ids from the table's sequence, so rows can reference each other before
    they are written and a non-empty table keeps working."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (table, count),
    )
    return sorted(row[0] for row in cursor.fetchall())


def _texts(values: pd.Series) -> list[str | None]:
    """Text for COPY; missing values (None, or the NaN pandas' str dtype turns them
    into) become None (NULL), never the string 'nan'."""
    return values.astype(object).where(values.notna(), None).tolist()


def _iso_dates(values: Any) -> list[str | None]:
    """Dates as ISO text for COPY; NaT becomes None (NULL)."""
    days = np.asarray(values, dtype="datetime64[D]")
    out = np.datetime_as_string(days).astype(object)
    out[np.isnat(days)] = None
    return out.tolist()


def _load_regions(cursor: Any, city: DemoCity) -> dict[str, int]:
    """Regions top-down with explicit ids, parent ids and '/1/4/17/'-style paths."""
    regions = city.regions
    codes = regions["code"].tolist()
    ids = dict(zip(codes, _next_ids(cursor, "regions", len(codes)), strict=True))
    paths: dict[str, str] = {}
    rows = []
    for code, name, level, parent, boundary in zip(
        codes,
        regions["name"],
        regions["level"],
        regions["parent_code"],
        _ewkb(regions.geometry),
        strict=True,
    ):
        parent = parent if isinstance(parent, str) else None
        # Parents come first in the frame, so their paths are known by now.
        paths[code] = (paths[parent] if parent else "/") + f"{ids[code]}/"
        rows.append(
            (ids[code], code, name, level, ids[parent] if parent else None, paths[code], boundary)
        )
    _copy(cursor, "regions", ("id", "code", "name", "level", "parent_id", "path", "boundary"), rows)
    return ids


def _active_version(cursor: Any) -> tuple[int, str]:
    """A boundary version for the demo cells, already active; returns its id and its
    activation time (the transaction's now(), reused as the cells' active_from)."""
    cursor.execute(
        "INSERT INTO boundary_versions (label, source, status, activated_at) "
        "VALUES (%s, %s, 'active', now()) RETURNING id, activated_at",
        (DEMO_VERSION_LABEL, DEMO_VERSION_SOURCE),
    )
    version_id, activated_at = cursor.fetchone()
    return version_id, activated_at.isoformat()


def _load_cells(
    cursor: Any, city: DemoCity, region_ids: dict[str, int], version: tuple[int, str]
) -> dict[str, int]:
    """Grid cells with explicit ids, bound to their community, in force from now (the
    grid_cell_parts trigger subdivides them for point look-ups as they arrive)."""
    cells = city.cells
    version_id, active_from = version
    codes = cells["code"].tolist()
    ids = dict(zip(codes, _next_ids(cursor, "grid_cells", len(codes)), strict=True))
    rows = [
        (ids[code], version_id, code, name, region_ids[community], boundary, active_from)
        for code, name, community, boundary in zip(
            codes, cells["name"], cells["community_code"], _ewkb(cells.geometry), strict=True
        )
    ]
    _copy(
        cursor,
        "grid_cells",
        ("id", "version_id", "code", "name", "community_id", "boundary", "active_from"),
        rows,
    )
    return ids


def _load_users(
    cursor: Any, city: DemoCity, region_ids: dict[str, int], password_hash: str
) -> dict[str, int]:
    """Every account with the one given password hash; staff get their region's id."""
    users = city.users
    ids = dict(
        zip((u.username for u in users), _next_ids(cursor, "users", len(users)), strict=True)
    )
    rows = []
    for user in users:
        bound = Role(user.role) in ROLE_REGION_LEVEL
        region_id = region_ids[user.region_code] if bound else None
        rows.append(
            (
                ids[user.username],
                user.username,
                user.display_name,
                user.phone,
                user.role,
                region_id,
                password_hash,
            )
        )
    _copy(
        cursor,
        "users",
        ("id", "username", "display_name", "phone", "role", "region_id", "password_hash"),
        rows,
    )
    return ids


def _load_assignments(
    cursor: Any, city: DemoCity, cell_ids: dict[str, int], user_ids: dict[str, int]
) -> None:
    """Open-ended (valid_to NULL) primary and backup assignments."""
    rows = [
        (cell_ids[a.cell_code], user_ids[a.username], a.kind, a.valid_from.isoformat(), None)
        for a in city.assignments
    ]
    _copy(
        cursor, "cell_assignments", ("cell_id", "user_id", "kind", "valid_from", "valid_to"), rows
    )


def _load_buildings(cursor: Any, city: DemoCity, cell_ids: dict[str, int]) -> np.ndarray:
    """All footprints in one COPY; returns their ids in the frame's row order."""
    b = city.buildings
    ids = np.array(_next_ids(cursor, "buildings", len(b)), dtype=np.int64)
    rows = zip(
        ids.tolist(),
        b["external_id"],
        b["address"],
        b["use"],
        b["floors"].astype(int).tolist(),
        _ewkb(b.geometry),
        (cell_ids[c] for c in b["cell_code"]),
        strict=True,
    )
    _copy(
        cursor,
        "buildings",
        ("id", "external_id", "address", "use", "floors", "footprint", "cell_id"),
        rows,
    )
    return ids


def _load_population(
    cursor: Any,
    population: DemoPopulation,
    building_ids: np.ndarray,
    id_hash_key: bytes,
    report: Callable[[str], None],
) -> dict[str, int]:
    """Houses, households, people and residences, each in one COPY, linked by ids taken
    up front (the frames link by row position)."""
    houses, households, people = population.houses, population.households, population.people
    report(f"loading {len(houses)} houses and {len(households)} households")
    house_ids = _load_houses(cursor, houses, building_ids)
    household_ids = _load_households(cursor, households, house_ids)
    report(
        f"loading {len(people)} people (ID numbers as keyed hash + last 4) "
        f"and {len(population.residences)} residences"
    )
    person_ids = _load_people(cursor, people, household_ids, id_hash_key)
    _load_residences(cursor, population.residences, person_ids, household_ids)
    return {
        "houses": len(house_ids),
        "households": len(household_ids),
        "people": len(person_ids),
        "vulnerable_people": int((people["vulnerability_tags"].str.len() > 0).sum()),
        "residences": len(population.residences),
    }


def _load_houses(cursor: Any, houses: pd.DataFrame, building_ids: np.ndarray) -> np.ndarray:
    """Dwellings; landlord name and phone only on rentals."""
    ids = np.array(_next_ids(cursor, "houses", len(houses)), dtype=np.int64)
    rows = zip(
        ids.tolist(),
        building_ids[houses["building"].to_numpy()].tolist(),
        houses["external_id"].tolist(),
        houses["floor"].tolist(),
        houses["unit_number"].tolist(),
        (f"{a:.2f}" for a in houses["area_m2"].tolist()),
        ("t" if r else "f" for r in houses["is_rental"].tolist()),
        _texts(houses["landlord_name"]),
        _texts(houses["landlord_phone"]),
        strict=True,
    )
    _copy(
        cursor,
        "houses",
        (
            "id",
            "building_id",
            "external_id",
            "floor",
            "unit_number",
            "area_m2",
            "is_rental",
            "landlord_name",
            "landlord_phone",
        ),
        rows,
    )
    return ids


def _load_households(cursor: Any, households: pd.DataFrame, house_ids: np.ndarray) -> np.ndarray:
    """One household per occupied house, registered or migrant."""
    ids = np.array(_next_ids(cursor, "households", len(households)), dtype=np.int64)
    rows = zip(
        ids.tolist(),
        house_ids[households["house"].to_numpy()].tolist(),
        households["external_id"].tolist(),
        households["kind"].tolist(),
        strict=True,
    )
    _copy(cursor, "households", ("id", "house_id", "external_id", "kind"), rows)
    return ids


def _load_people(
    cursor: Any, people: pd.DataFrame, household_ids: np.ndarray, id_hash_key: bytes
) -> np.ndarray:
    """People; the raw ID number never reaches the database, only its keyed hash and
    last four characters."""
    ids = np.array(_next_ids(cursor, "people", len(people)), dtype=np.int64)
    numbers = people["id_number"].tolist()
    rows = zip(
        ids.tolist(),
        household_ids[people["household"].to_numpy()].tolist(),
        people["external_id"].tolist(),
        people["name"].tolist(),
        people["gender"].tolist(),
        _iso_dates(people["birth_date"]),
        _texts(people["phone"]),
        (id_number_hash(n, id_hash_key) for n in numbers),
        (n[-4:] for n in numbers),
        ("{" + ",".join(tags) + "}" for tags in people["vulnerability_tags"].tolist()),
        strict=True,
    )
    _copy(
        cursor,
        "people",
        (
            "id",
            "household_id",
            "external_id",
            "name",
            "gender",
            "birth_date",
            "phone",
            "id_number_hash",
            "id_number_last4",
            "vulnerability_tags",
        ),
        rows,
    )
    return ids


def _load_residences(
    cursor: Any, residences: pd.DataFrame, person_ids: np.ndarray, household_ids: np.ndarray
) -> None:
    """Move-in records; the earlier ones carry their move-out date."""
    rows = zip(
        person_ids[residences["person"].to_numpy()].tolist(),
        household_ids[residences["household"].to_numpy()].tolist(),
        _iso_dates(residences["moved_in"]),
        _iso_dates(residences["moved_out"]),
        strict=True,
    )
    _copy(cursor, "residences", ("person_id", "household_id", "moved_in", "moved_out"), rows)
