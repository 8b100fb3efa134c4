"""Write base-map features in bulk: a binary COPY into a scratch table (gis.pgcopy, as the
register imports do), then one upsert per table keyed by (source, external_id). Runs
inside the caller's transaction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection

from gis.crs import STORAGE_SRID
from gis.pgcopy import CopyField, copy_binary, text_codec
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


def upsert_features(
    connection: Connection, table: str, frame: gpd.GeoDataFrame, source: str
) -> tuple[int, int]:
    """Insert or replace rows of one base-map table by (source, external_id); the frame
    has external_id, name, the table's class/kind column and a lon/lat geometry.
    Returns (inserted, updated)."""
    if frame.empty:
        return 0, 0
    attribute, _ = TABLE_COLUMNS[table]  # table is one of ours: never user input
    columns = ["external_id", "name", *([attribute] if attribute else [])]
    raw = connection.connection.dbapi_connection
    codec = text_codec(raw)
    scratch = f"basemap_incoming_{table}"
    with raw.cursor() as cursor:
        # The column's SRID stamps the plain WKB as it arrives.
        cursor.execute(
            f"CREATE TEMP TABLE {scratch} (external_id text, name text, "
            f"{attribute + ' text, ' if attribute else ''}"
            f"geom geometry(Geometry, {STORAGE_SRID})) ON COMMIT DROP"
        )
    copy_binary(
        raw,
        f"COPY {scratch} FROM STDIN WITH (FORMAT binary)",
        [
            *(CopyField.text(frame[c].astype("string"), codec) for c in columns),
            CopyField.blobs(shapely.to_wkb(np.asarray(frame.geometry.to_numpy(), dtype=object))),
        ],
    )
    columns.append("geom")
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != "external_id")
    with raw.cursor() as cursor:
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


def delete_source(connection: Connection, source: str) -> None:
    """Remove every base-map row of one source (the demo reloads itself this way)."""
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        for table in TABLE_COLUMNS:
            cursor.execute(f"DELETE FROM {SCHEMA}.{table} WHERE source = %s", (source,))
