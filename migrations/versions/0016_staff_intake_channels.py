"""Channels for staff filing a report for a resident: phone, walk_in, on_behalf

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "channel IN ('web', 'app', 'hotline', 'patrol', 'terminal', 'open311', 'wechat')"
_AFTER = (
    "channel IN ('web', 'app', 'hotline', 'patrol', 'terminal', 'open311', 'wechat', "
    "'phone', 'walk_in', 'on_behalf')"
)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_incidents_channel"), "incidents", type_="check")
    op.create_check_constraint(op.f("ck_incidents_channel"), "incidents", _AFTER)


def downgrade() -> None:
    # Reports filed through the new channels are kept, counted as hotline-style staff
    # filings, so the narrower check holds.
    op.execute(
        "UPDATE incidents SET channel = 'hotline' "
        "WHERE channel IN ('phone', 'walk_in', 'on_behalf')"
    )
    op.drop_constraint(op.f("ck_incidents_channel"), "incidents", type_="check")
    op.create_check_constraint(op.f("ck_incidents_channel"), "incidents", _BEFORE)
