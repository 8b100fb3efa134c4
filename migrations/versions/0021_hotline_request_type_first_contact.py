"""12345 work orders keep their request type (诉求类型: 咨询, 求助, 投诉, 举报, 建议) and the
first-contact deadline (首次联系) computed at import

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabulary as it stands at this revision (incidents/models/intake.py holds the live copy).
_REQUEST_TYPES = ["inquiry", "help", "complaint", "tip_off", "suggestion"]


def upgrade() -> None:
    op.add_column("hotline_orders", sa.Column("request_type", sa.String(16), nullable=True))
    # Orders imported before keep NULL: their deadline was never set, so none is invented.
    op.add_column(
        "hotline_orders",
        sa.Column("first_contact_due_at", sa.DateTime(timezone=True), nullable=True),
    )
    quoted = ", ".join(f"'{v}'" for v in _REQUEST_TYPES)
    op.create_check_constraint(
        op.f("ck_hotline_orders_request_type"),
        "hotline_orders",
        f"request_type IS NULL OR request_type IN ({quoted})",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_hotline_orders_request_type"), "hotline_orders", type_="check")
    op.drop_column("hotline_orders", "first_contact_due_at")
    op.drop_column("hotline_orders", "request_type")
