"""Photos on patrol visits: the original (EXIF kept as evidence) and a thumbnail, for staff

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_visit_photos",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["patrol_visits.id"],
            name=op.f("fk_patrol_visit_photos_visit_id_patrol_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_visit_photos")),
    )
    op.create_index(
        "ix_patrol_visit_photos_visit_id", "patrol_visit_photos", ["visit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_patrol_visit_photos_visit_id", table_name="patrol_visit_photos")
    op.drop_table("patrol_visit_photos")
