"""12345 hotline work-order exchange

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The caller's name and phone are not columns here: they live only in the incident's
    # reporter fields; field_hashes holds keyed hashes, enough to see a re-sent order changed.
    op.create_table(
        "hotline_orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("category_sent", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_limit", sa.String(length=40), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("field_hashes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_hash", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_hotline_orders_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_orders")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_hotline_orders_incident_id")),
        sa.UniqueConstraint("order_number", name=op.f("uq_hotline_orders_order_number")),
    )
    op.create_index("ix_hotline_orders_received_at", "hotline_orders", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_hotline_orders_received_at", table_name="hotline_orders")
    op.drop_table("hotline_orders")
