"""Write base-map features in bulk: COPY into a scratch table, then one upsert per table
keyed by (source, external_id). Runs inside the caller's transaction."""

from __future__ import annotations

import csv
import io
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection

from gis.crs import STORAGE_SRID
from maps.basemap import SCHEMA

# Per table: the attribute column besides name (roads: class, compounds: none) and the
# geometry type a row must have there.
TABLE_COLUMNS: dict[str, tuple[str | None, str]] = {
    "roads": ("class", "MultiLineString"),
    "water": ("kind", "MultiPolygon"),
    "green": ("kind", "MultiPolygon"),
    "places": ("kind", "Point"),
    "compounds": (None, "MultiPolygon"),
}


def _copy_rows(cursor: Any, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv)", buffer)


def upsert_features(connection: Connection, table: str, frame: gpd.GeoDataFrame,
                    source: str) -> tuple[int, int]:
    """Insert or replace rows of one base-map table by (source, external_id); the frame
    has external_id, name, the table's class/kind column and a lon/lat geometry.
    Returns (inserted, updated)."""
    if frame.empty:
        return 0, 0
    attribute, _ = TABLE_COLUMNS[table]  # table is one of ours: never user input
    columns = ["external_id", "name", *([attribute] if attribute else []), "geom"]
    geoms = shapely.set_srid(np.asarray(frame.geometry.to_numpy(), dtype=object), STORAGE_SRID)
    hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    values = [frame["external_id"].to_numpy(), frame["name"].to_numpy(),
              *([frame[attribute].to_numpy()] if attribute else []), hexes]
    rows = [[None if _missing(v) else v for v in row] for row in zip(*values, strict=True)]
    raw = connection.connection.dbapi_connection
    scratch = f"basemap_incoming_{table}"
    with raw.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {scratch} (external_id text, name text, "
                       f"{attribute + ' text, ' if attribute else ''}geom geometry) "
                       "ON COMMIT DROP")
        _copy_rows(cursor, scratch, columns, rows)
        quoted = ", ".join(f'"{c}"' for c in columns)
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != "external_id")
        # xmax = 0 only on a freshly inserted row: it tells inserts from replacements.
        cursor.execute(
            f"INSERT INTO {SCHEMA}.{table} (source, {quoted}) "
            f"SELECT %s, {quoted} FROM {scratch} "
            f"ON CONFLICT (source, external_id) DO UPDATE SET {updates} "
            "RETURNING (xmax = 0)",
            (source,),
        )
        flags = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {scratch}")
    inserted = sum(flags)
    return inserted, len(flags) - inserted


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def delete_source(connection: Connection, source: str) -> None:
    """Remove every base-map row of one source (the demo reloads itself this way)."""
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        for table in TABLE_COLUMNS:
            cursor.execute(f"DELETE FROM {SCHEMA}.{table} WHERE source = %s", (source,))
