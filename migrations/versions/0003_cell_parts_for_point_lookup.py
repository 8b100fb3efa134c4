"""Subdivided copy of in-force cell boundaries for fast point lookups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from migrations.sql import load

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_cell_parts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column(
            "part",
            Geometry(geometry_type="POLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_grid_cell_parts_cell_id_grid_cells"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cell_parts")),
    )
    op.create_index("ix_grid_cell_parts_part", "grid_cell_parts", ["part"], postgresql_using="gist")
    op.create_index("ix_grid_cell_parts_cell_id", "grid_cell_parts", ["cell_id"])
    # Why a trigger: every writer of grid_cells (imports, drafting, activation, the demo
    # loader) keeps the lookup copy right without having to remember it.
    op.execute(load("grid_cell_parts_sync"))
    op.execute(
        "CREATE TRIGGER grid_cell_parts_sync AFTER INSERT OR DELETE "
        "OR UPDATE OF boundary, code, active_from, active_to ON grid_cells "
        "FOR EACH ROW EXECUTE FUNCTION grid_cell_parts_sync()"
    )
    op.execute(
        "INSERT INTO grid_cell_parts (cell_id, code, part) "
        "SELECT id, code, ST_Subdivide(boundary, 64) FROM grid_cells "
        "WHERE active_from IS NOT NULL AND active_to IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER grid_cell_parts_sync ON grid_cells")
    op.execute("DROP FUNCTION grid_cell_parts_sync()")
    op.drop_table("grid_cell_parts")
