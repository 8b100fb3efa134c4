"""Base map data in a schema of its own: roads, water, green areas, places, compounds

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "basemap"

# The vocabularies as they stand at this revision (maps/basemap.py holds the live copy);
# a migration is history, so it spells them out rather than importing them.
_SOURCES = ["demo", "osm", "file"]
_ROAD_CLASSES = [
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "service",
    "path",
]
_WATER_KINDS = ["river", "lake", "canal", "pond", "reservoir"]
_GREEN_KINDS = ["park", "garden", "forest", "grass", "square"]
_PLACE_KINDS = [
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


def _in_list(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _create(table: str, geometry_type: str, *columns: sa.Column, checks=()) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        *columns,
        sa.Column("geom", Geometry(geometry_type, srid=4326, spatial_index=False), nullable=False),
        sa.Column(
            "geom_3857",
            Geometry(geometry_type, srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(_in_list("source", _SOURCES), name=op.f(f"ck_{table}_source")),
        *checks,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("source", "external_id", name=op.f(f"uq_{table}_source_external_id")),
        schema=SCHEMA,
    )
    op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist", schema=SCHEMA)
    op.create_index(
        f"ix_{table}_geom_3857", table, ["geom_3857"], postgresql_using="gist", schema=SCHEMA
    )


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    _create(
        "roads",
        "MULTILINESTRING",
        sa.Column("class", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        checks=[sa.CheckConstraint(_in_list("class", _ROAD_CLASSES), name=op.f("ck_roads_class"))],
    )
    _create(
        "water",
        "MULTIPOLYGON",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        checks=[sa.CheckConstraint(_in_list("kind", _WATER_KINDS), name=op.f("ck_water_kind"))],
    )
    _create(
        "green",
        "MULTIPOLYGON",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        checks=[sa.CheckConstraint(_in_list("kind", _GREEN_KINDS), name=op.f("ck_green_kind"))],
    )
    _create(
        "places",
        "POINT",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        checks=[sa.CheckConstraint(_in_list("kind", _PLACE_KINDS), name=op.f("ck_places_kind"))],
    )
    _create(
        "compounds",
        "MULTIPOLYGON",
        sa.Column("name", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    # The schema holds only these tables; CASCADE takes their indexes and constraints.
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
