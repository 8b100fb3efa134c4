"""Indexes for statistics by period and patrol matching by building

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_index(
        "ix_incidents_building_id",
        "incidents",
        ["building_id"],
        postgresql_where=sa.text("building_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_building_id", table_name="incidents")
    op.drop_index("ix_incidents_created_at", table_name="incidents")
