"""Drop ix_incidents_region_id: 0027's ix_incidents_region_created leads with region_id

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-09 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A btree on (region_id, created_at) answers every lookup by region_id alone (the reports
# of a region, the foreign key's check when a region is deleted), so the one-column index
# only cost a second write on every report.


def upgrade() -> None:
    op.drop_index("ix_incidents_region_id", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_region_id", "incidents", ["region_id"], unique=False)
