"""An index on incidents by region and time of report, covering the coverage map's windows

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The coverage map's region levels read the reports of the last RESPONSE_DAYS row by row
# (the median response time and the ratings do not add up, so incident_day_counts cannot
# hold them): by region and time of report, with the columns those figures read, so the
# read is an index range per region and no heap page per report.


def upgrade() -> None:
    op.create_index(
        "ix_incidents_region_created",
        "incidents",
        ["region_id", "created_at"],
        postgresql_include=["status", "accepted_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_region_created", table_name="incidents")
