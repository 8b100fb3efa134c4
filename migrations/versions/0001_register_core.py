"""Register core: regions, grid cells, accounts, cell assignments, buildings

Revision ID: 0001
Revises:
Create Date: 2026-11-24 19:05:43.518158
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostGIS for geometry; btree_gist for the one-primary-per-cell exclusion.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(level = 'city') = (parent_id IS NULL)", name=op.f("ck_regions_parent_unless_city")
        ),
        sa.CheckConstraint(
            "code ~ '^[0-9]{6}([0-9]{3}){0,2}$'", name=op.f("ck_regions_code_digits")
        ),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'street', 'community')", name=op.f("ck_regions_level")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["regions.id"],
            name=op.f("fk_regions_parent_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    op.create_geospatial_index(
        "ix_regions_boundary",
        "regions",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_regions_parent_id", "regions", ["parent_id"], unique=False)
    op.create_index(
        "ix_regions_path",
        "regions",
        ["path"],
        unique=False,
        postgresql_ops={"path": "text_pattern_ops"},
    )
    op.create_geospatial_table(
        "grid_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_grid_cells_code_digits")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["regions.id"],
            name=op.f("fk_grid_cells_community_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cells")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_cells_code")),
    )
    op.create_geospatial_index(
        "ix_grid_cells_boundary",
        "grid_cells",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_grid_cells_community_id", "grid_cells", ["community_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('resident', 'admin') OR region_id IS NOT NULL",
            name=op.f("ck_users_staff_has_region"),
        ),
        sa.CheckConstraint(
            "role IN ('resident', 'grid_worker', 'community_manager', 'street_manager', 'district_manager', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint(
            "username = lower(username) AND length(username) >= 3", name=op.f("ck_users_username")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_users_region_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index("ix_users_region_id", "users", ["region_id"], unique=False)
    op.create_geospatial_table(
        "buildings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("floors", sa.SmallInteger(), nullable=False),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "use IN ('residential', 'commercial', 'office', 'industrial', 'public', 'mixed', 'other')",
            name=op.f("ck_buildings_use"),
        ),
        sa.CheckConstraint("floors BETWEEN 1 AND 200", name=op.f("ck_buildings_floors")),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_buildings_cell_id_grid_cells"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("external_id", name=op.f("uq_buildings_external_id")),
    )
    op.create_index("ix_buildings_cell_id", "buildings", ["cell_id"], unique=False)
    op.create_geospatial_index(
        "ix_buildings_footprint",
        "buildings",
        ["footprint"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "cell_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("cell_id"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            where=sa.text("kind = 'primary'"),
            using="gist",
            name="excl_cell_assignments_one_primary",
        ),
        sa.CheckConstraint("kind IN ('primary', 'backup')", name=op.f("ck_cell_assignments_kind")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_cell_assignments_valid_range"),
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_cell_assignments_cell_id_grid_cells"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_cell_assignments_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_assignments")),
    )
    op.create_index("ix_cell_assignments_cell_id", "cell_assignments", ["cell_id"], unique=False)
    op.create_index("ix_cell_assignments_user_id", "cell_assignments", ["user_id"], unique=False)


def downgrade() -> None:
    # Extensions stay: they are database-wide, may serve other schemas, and
    # dropping them needs a superuser.
    op.drop_index("ix_cell_assignments_user_id", table_name="cell_assignments")
    op.drop_index("ix_cell_assignments_cell_id", table_name="cell_assignments")
    op.drop_table("cell_assignments")
    op.drop_geospatial_index(
        "ix_buildings_footprint",
        table_name="buildings",
        postgresql_using="gist",
        column_name="footprint",
    )
    op.drop_index("ix_buildings_cell_id", table_name="buildings")
    op.drop_geospatial_table("buildings")
    op.drop_index("ix_users_region_id", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_grid_cells_community_id", table_name="grid_cells")
    op.drop_geospatial_index(
        "ix_grid_cells_boundary",
        table_name="grid_cells",
        postgresql_using="gist",
        column_name="boundary",
    )
    op.drop_geospatial_table("grid_cells")
    op.drop_index(
        "ix_regions_path", table_name="regions", postgresql_ops={"path": "text_pattern_ops"}
    )
    op.drop_index("ix_regions_parent_id", table_name="regions")
    op.drop_geospatial_index(
        "ix_regions_boundary", table_name="regions", postgresql_using="gist", column_name="boundary"
    )
    op.drop_geospatial_table("regions")
