"""City assets (城市部件): hydrants, extinguisher cabinets, e-bike charging points, manhole
covers and street lights with their standard 16-digit code; a report may name one

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabularies as they stand at this revision (grid/assets.py holds the live copy);
# a migration is history, so it spells them out rather than importing them.
_KINDS = ["fire_hydrant", "extinguisher_cabinet", "ebike_charger", "manhole_cover", "street_light"]
_STATUSES = ["in_service", "damaged", "removed"]
_SOURCES = ["demo", "file"]


def _in_list(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def upgrade() -> None:
    op.create_table(
        "city_assets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'in_service'"), nullable=False
        ),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column(
            "location_3857",
            Geometry("POINT", srid=3857, spatial_index=False),
            sa.Computed("ST_Transform(location, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("code ~ '^[0-9]{16}$'", name=op.f("ck_city_assets_code_digits")),
        sa.CheckConstraint(_in_list("kind", _KINDS), name=op.f("ck_city_assets_kind")),
        sa.CheckConstraint(_in_list("status", _STATUSES), name=op.f("ck_city_assets_status")),
        sa.CheckConstraint(_in_list("source", _SOURCES), name=op.f("ck_city_assets_source")),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["grid_cells.id"],
            ondelete="SET NULL",
            name=op.f("fk_city_assets_cell_id_grid_cells"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_assets")),
        sa.UniqueConstraint("code", name=op.f("uq_city_assets_code")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_city_assets_source_external_id")
        ),
    )
    op.create_index("ix_city_assets_location", "city_assets", ["location"], postgresql_using="gist")
    op.create_index(
        "ix_city_assets_location_3857", "city_assets", ["location_3857"], postgresql_using="gist"
    )
    op.create_index("ix_city_assets_cell_id", "city_assets", ["cell_id"])
    op.add_column("incidents", sa.Column("asset_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_incidents_asset_id_city_assets"),
        "incidents",
        "city_assets",
        ["asset_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_incidents_asset_id",
        "incidents",
        ["asset_id"],
        postgresql_where=sa.text("asset_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_asset_id", table_name="incidents")
    op.drop_constraint(op.f("fk_incidents_asset_id_city_assets"), "incidents", type_="foreignkey")
    op.drop_column("incidents", "asset_id")
    op.drop_table("city_assets")
