"""Write a generated DemoCity into the PostGIS register with COPY, inside the caller's
transaction (this module never commits or rolls back)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, text

from gis.crs import STORAGE_SRID
from grid.demo_city import DemoCity
from grid.roles import ROLE_REGION_LEVEL, Role

REGISTER_TABLES = ("regions", "grid_cells", "buildings", "users")
# Truncated together; CASCADE also empties tables that point at them (cell parts,
# houses and the rest of the people register, ...).
CLEARED_TABLES = ("cell_assignments", "buildings", "grid_cells", "boundary_versions", "users",
                  "regions")
DEMO_VERSION_LABEL = "示范市演示网格 (demo)"
DEMO_VERSION_SOURCE = "demo"


def register_is_empty(connection: Connection) -> bool:
    """True when regions, grid cells, buildings and users all hold no rows."""
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
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Insert the city (regions, cells, users, assignments, buildings); returns row counts."""
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
        _load_buildings(cursor, city, cell_ids)
    return {
        "regions": len(region_ids),
        "grid_cells": len(cell_ids),
        "users": len(user_ids),
        "cell_assignments": len(city.assignments),
        "buildings": len(city.buildings),
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


def _load_regions(cursor: Any, city: DemoCity) -> dict[str, int]:
    """Regions top-down with explicit ids, parent ids and '/1/4/17/'-style paths."""
    regions = city.regions
    codes = regions["code"].tolist()
    ids = dict(zip(codes, _next_ids(cursor, "regions", len(codes)), strict=True))
    paths: dict[str, str] = {}
    rows = []
    for code, name, level, parent, boundary in zip(
        codes, regions["name"], regions["level"], regions["parent_code"],
        _ewkb(regions.geometry), strict=True,
    ):
        parent = parent if isinstance(parent, str) else None
        # Parents come first in the frame, so their paths are known by now.
        paths[code] = (paths[parent] if parent else "/") + f"{ids[code]}/"
        rows.append((ids[code], code, name, level, ids[parent] if parent else None,
                     paths[code], boundary))
    _copy(cursor, "regions", ("id", "code", "name", "level", "parent_id", "path", "boundary"),
          rows)
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


def _load_cells(cursor: Any, city: DemoCity, region_ids: dict[str, int],
                version: tuple[int, str]) -> dict[str, int]:
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
    _copy(cursor, "grid_cells",
          ("id", "version_id", "code", "name", "community_id", "boundary", "active_from"), rows)
    return ids


def _load_users(cursor: Any, city: DemoCity, region_ids: dict[str, int],
                password_hash: str) -> dict[str, int]:
    """Every account with the one given password hash; staff get their region's id."""
    users = city.users
    ids = dict(zip((u.username for u in users), _next_ids(cursor, "users", len(users)),
                   strict=True))
    rows = []
    for user in users:
        bound = Role(user.role) in ROLE_REGION_LEVEL
        region_id = region_ids[user.region_code] if bound else None
        rows.append((ids[user.username], user.username, user.display_name, user.phone,
                     user.role, region_id, password_hash))
    _copy(cursor, "users",
          ("id", "username", "display_name", "phone", "role", "region_id", "password_hash"),
          rows)
    return ids


def _load_assignments(cursor: Any, city: DemoCity, cell_ids: dict[str, int],
                      user_ids: dict[str, int]) -> None:
    """Open-ended (valid_to NULL) primary and backup assignments."""
    rows = [(cell_ids[a.cell_code], user_ids[a.username], a.kind, a.valid_from.isoformat(), None)
            for a in city.assignments]
    _copy(cursor, "cell_assignments", ("cell_id", "user_id", "kind", "valid_from", "valid_to"),
          rows)


def _load_buildings(cursor: Any, city: DemoCity, cell_ids: dict[str, int]) -> None:
    """All footprints in one COPY; ids come from the table's own sequence."""
    b = city.buildings
    rows = zip(b["external_id"], b["address"], b["use"], b["floors"].astype(int).tolist(),
               _ewkb(b.geometry), (cell_ids[c] for c in b["cell_code"]), strict=True)
    _copy(cursor, "buildings",
          ("external_id", "address", "use", "floors", "footprint", "cell_id"), rows)
