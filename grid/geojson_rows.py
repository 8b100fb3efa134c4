"""Shared pieces for building GeoJSON answers from SQL rows."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import functions as gfunc
from sqlalchemy import JSON, cast
from sqlalchemy.sql.elements import ColumnElement

from gis.crs import STORAGE_SRID
from gis.geometry import BBox

# 7 decimals of a degree is ~1 cm: enough for footprints, smaller than 15.
GEOJSON_DECIMALS = 7


def as_geojson(column: Any) -> ColumnElement[Any]:
    """A column rendered as a GeoJSON geometry object (decoded to a dict)."""
    # Cast in SQL so the driver decodes it (a text result would stay a string).
    return cast(gfunc.ST_AsGeoJSON(column, GEOJSON_DECIMALS), JSON)


def intersects_bbox(column: Any, bbox: BBox) -> ColumnElement[bool]:
    """Geometry intersects the bbox; the literal is built in the column's SRID so the
    GiST index is used (the column is never transformed)."""
    envelope = gfunc.ST_MakeEnvelope(*bbox.as_tuple(), STORAGE_SRID)
    return gfunc.ST_Intersects(column, envelope)


def feature(geometry: dict[str, Any], properties: dict[str, Any], fid: Any) -> dict[str, Any]:
    """One GeoJSON Feature."""
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}
