"""The review trigger lets retention's redaction keep a report's publication

Retention redacts phone and ID numbers in a finished report's description. The review
trigger sent any changed text back to review, so retention had to write the publication
back afterwards. Now the statement that marks a report anonymised (anonymised_at goes
from NULL to a time) keeps the review state as it was; every other change of text is
reviewed again, as before.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

from alembic import op

from migrations.sql import load

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(load("incidents_text_review"))


def downgrade() -> None:
    op.execute(load("incidents_text_review.v1"))
