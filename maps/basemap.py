"""The base map's own data (schema `basemap`): roads, water, green areas, places, compounds."""

from __future__ import annotations

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Identity,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base
from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID

SCHEMA = "basemap"

# The vocabularies live here only: the CHECKs below, the importer and the demo use them.
SOURCES = ["demo", "osm", "file"]
ROAD_CLASSES = [
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "service",
    "path",
]
WATER_KINDS = ["river", "lake", "canal", "pond", "reservoir"]
GREEN_KINDS = ["park", "garden", "forest", "grass", "square"]
PLACE_KINDS = [
    "school",
    "market",
    "hospital",
    "clinic",
    "fire_station",
    "police",
    "government",
    "transit",
    "community_centre",
    "other",
]
# Road classes drawn at low zoom (the tile and style engineers key on these).
MAJOR_ROAD_CLASSES = ["motorway", "trunk", "primary"]


def in_list(column: str, values: list[str]) -> str:
    """SQL text for a CHECK that a column holds one of a fixed list (literals, not input)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geometry(geometry_type: str) -> Geometry:
    # Spatial indexes are declared in __table_args__ so migration and models name them alike.
    return Geometry(geometry_type, srid=STORAGE_SRID, spatial_index=False)


def _mercator(geometry_type: str) -> Mapped[WKBElement | None]:
    """A Web-Mercator copy of `geom` kept by the database, for vector tiles."""
    return mapped_column(
        Geometry(geometry_type, srid=WEB_MERCATOR_SRID, spatial_index=False),
        Computed(f"ST_Transform(geom, {WEB_MERCATOR_SRID})", persisted=True),
    )


def _common_args(table: str) -> tuple:
    return (
        CheckConstraint(in_list("source", SOURCES), name="source"),
        UniqueConstraint("source", "external_id", name=f"uq_{table}_source_external_id"),
        Index(f"ix_{table}_geom", "geom", postgresql_using="gist"),
        Index(f"ix_{table}_geom_3857", "geom_3857", postgresql_using="gist"),
    )


class _Feature:
    """What every base-map row has: an id, where it came from, and its id there (a
    re-import replaces by source and external id)."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))


class Road(_Feature, Base):
    """A road or path centre line, with its class and name."""

    __tablename__ = "roads"

    road_class: Mapped[str] = mapped_column("class", String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(_geometry("MULTILINESTRING"))
    geom_3857: Mapped[WKBElement | None] = _mercator("MULTILINESTRING")

    __table_args__ = (
        CheckConstraint(in_list("class", ROAD_CLASSES), name="class"),
        *_common_args("roads"),
        {"schema": SCHEMA},
    )


class Water(_Feature, Base):
    """A water area; rivers are areas too (OSM waterway lines are buffered)."""

    __tablename__ = "water"

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(_geometry("MULTIPOLYGON"))
    geom_3857: Mapped[WKBElement | None] = _mercator("MULTIPOLYGON")

    __table_args__ = (
        CheckConstraint(in_list("kind", WATER_KINDS), name="kind"),
        *_common_args("water"),
        {"schema": SCHEMA},
    )


class Green(_Feature, Base):
    """A park, garden, forest, lawn or square."""

    __tablename__ = "green"

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(_geometry("MULTIPOLYGON"))
    geom_3857: Mapped[WKBElement | None] = _mercator("MULTIPOLYGON")

    __table_args__ = (
        CheckConstraint(in_list("kind", GREEN_KINDS), name="kind"),
        *_common_args("green"),
        {"schema": SCHEMA},
    )


class Place(_Feature, Base):
    """A named place of interest: school, market, hospital, fire station, ..."""

    __tablename__ = "places"

    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(_geometry("POINT"))
    geom_3857: Mapped[WKBElement | None] = _mercator("POINT")

    __table_args__ = (
        CheckConstraint(in_list("kind", PLACE_KINDS), name="kind"),
        *_common_args("places"),
        {"schema": SCHEMA},
    )


class Compound(_Feature, Base):
    """A residential compound (小区), named."""

    __tablename__ = "compounds"

    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(_geometry("MULTIPOLYGON"))
    geom_3857: Mapped[WKBElement | None] = _mercator("MULTIPOLYGON")

    __table_args__ = (
        *_common_args("compounds"),
        {"schema": SCHEMA},
    )


BASEMAP_MODELS = {
    "roads": Road,
    "water": Water,
    "green": Green,
    "places": Place,
    "compounds": Compound,
}
