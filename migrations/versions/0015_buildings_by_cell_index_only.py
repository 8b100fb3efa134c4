"""Buildings by cell readable from the index alone (the coverage map's counts)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Replaces the plain index rather than adding one: imports maintain the same number.
    op.drop_index("ix_buildings_cell_id", table_name="buildings")
    op.create_index("ix_buildings_cell_id", "buildings", ["cell_id"], postgresql_include=["id"])


def downgrade() -> None:
    op.drop_index("ix_buildings_cell_id", table_name="buildings")
    op.create_index("ix_buildings_cell_id", "buildings", ["cell_id"])
