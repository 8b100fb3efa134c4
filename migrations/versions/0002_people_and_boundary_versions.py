"""People register and boundary versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:12:22.746154
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "boundary_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'draft'"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'retired')", name=op.f("ck_boundary_versions_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_versions")),
    )
    op.create_table(
        "houses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("floor", sa.SmallInteger(), nullable=False),
        sa.Column("unit_number", sa.String(length=32), nullable=False),
        sa.Column("area_m2", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("is_rental", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("landlord_name", sa.String(length=100), nullable=True),
        sa.Column("landlord_phone", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("area_m2 IS NULL OR area_m2 > 0", name=op.f("ck_houses_area_positive")),
        sa.CheckConstraint("floor BETWEEN -10 AND 200", name=op.f("ck_houses_floor")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_houses_building_id_buildings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_houses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_houses_external_id")),
    )
    op.create_index("ix_houses_building_id", "houses", ["building_id"], unique=False)
    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("house_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('registered', 'migrant')", name=op.f("ck_households_kind")),
        sa.ForeignKeyConstraint(
            ["house_id"],
            ["houses.id"],
            name=op.f("fk_households_house_id_houses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("external_id", name=op.f("uq_households_external_id")),
    )
    op.create_index("ix_households_house_id", "households", ["house_id"], unique=False)
    op.create_table(
        "people",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "gender", sa.String(length=8), server_default=sa.text("'unknown'"), nullable=False
        ),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("id_number_last4", sa.String(length=4), nullable=True),
        sa.Column(
            "vulnerability_tags",
            postgresql.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "gender IN ('male', 'female', 'unknown')", name=op.f("ck_people_gender")
        ),
        sa.CheckConstraint(
            "vulnerability_tags <@ ARRAY['elderly_alone', 'disability', 'bedridden', 'child', 'chronic_illness']::varchar[]",
            name=op.f("ck_people_vulnerability_tags"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_people_household_id_households"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("external_id", name=op.f("uq_people_external_id")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_people_id_number_hash")),
    )
    op.create_index("ix_people_household_id", "people", ["household_id"], unique=False)
    op.create_index(
        "ix_people_vulnerability_tags",
        "people",
        ["vulnerability_tags"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "residences",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("moved_in", sa.Date(), nullable=False),
        sa.Column("moved_out", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "moved_out IS NULL OR moved_out >= moved_in", name=op.f("ck_residences_dates")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_residences_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_residences_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residences")),
    )
    op.create_index("ix_residences_household_id", "residences", ["household_id"], unique=False)
    op.create_index("ix_residences_person_id", "residences", ["person_id"], unique=False)
    op.add_column("grid_cells", sa.Column("version_id", sa.Integer(), nullable=True))
    op.add_column("grid_cells", sa.Column("active_from", sa.DateTime(timezone=True), nullable=True))
    op.add_column("grid_cells", sa.Column("active_to", sa.DateTime(timezone=True), nullable=True))
    # Cells loaded before versions existed become one active "initial" version, so
    # the column can be NOT NULL without losing a cell.
    op.execute(
        "INSERT INTO boundary_versions (label, source, status, activated_at) "
        "SELECT 'initial', 'migration', 'active', now() WHERE EXISTS (SELECT 1 FROM grid_cells)"
    )
    op.execute(
        "UPDATE grid_cells SET version_id = (SELECT min(id) FROM boundary_versions), "
        "active_from = created_at"
    )
    op.alter_column("grid_cells", "version_id", nullable=False)
    op.drop_constraint(op.f("uq_grid_cells_code"), "grid_cells", type_="unique")
    op.create_index("ix_grid_cells_version_id", "grid_cells", ["version_id"], unique=False)
    op.create_index(
        "uq_grid_cells_active_code",
        "grid_cells",
        ["code"],
        unique=True,
        postgresql_where=sa.text("active_from IS NOT NULL AND active_to IS NULL"),
    )
    op.create_unique_constraint("uq_grid_cells_version_code", "grid_cells", ["version_id", "code"])
    op.create_foreign_key(
        op.f("fk_grid_cells_version_id_boundary_versions"),
        "grid_cells",
        "boundary_versions",
        ["version_id"],
        ["id"],
        ondelete="RESTRICT",
    )


def downgrade() -> None:
    # Only the cells in force survive a downgrade: codes must be unique again.
    op.execute("DELETE FROM grid_cells WHERE active_from IS NULL OR active_to IS NOT NULL")
    op.drop_constraint(
        op.f("fk_grid_cells_version_id_boundary_versions"), "grid_cells", type_="foreignkey"
    )
    op.drop_constraint("uq_grid_cells_version_code", "grid_cells", type_="unique")
    op.drop_index(
        "uq_grid_cells_active_code",
        table_name="grid_cells",
        postgresql_where=sa.text("active_from IS NOT NULL AND active_to IS NULL"),
    )
    op.drop_index("ix_grid_cells_version_id", table_name="grid_cells")
    op.create_unique_constraint(
        op.f("uq_grid_cells_code"), "grid_cells", ["code"], postgresql_nulls_not_distinct=False
    )
    op.drop_column("grid_cells", "active_to")
    op.drop_column("grid_cells", "active_from")
    op.drop_column("grid_cells", "version_id")
    op.drop_index("ix_residences_person_id", table_name="residences")
    op.drop_index("ix_residences_household_id", table_name="residences")
    op.drop_table("residences")
    op.drop_index("ix_people_vulnerability_tags", table_name="people", postgresql_using="gin")
    op.drop_index("ix_people_household_id", table_name="people")
    op.drop_table("people")
    op.drop_index("ix_households_house_id", table_name="households")
    op.drop_table("households")
    op.drop_index("ix_houses_building_id", table_name="houses")
    op.drop_table("houses")
    op.drop_table("boundary_versions")
