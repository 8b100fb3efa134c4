"""Staff review of free text and photos before they are published

Reports carry their review state, the published (redacted) text, and who reviewed it
when; photos carry who published or withdrew them when. A trigger starts every new
report's text as pending (or 'none' when there is no text) and sends changed text back
to review, so nothing a reporter wrote reaches a public page unreviewed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sql import load

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "kind IN ('created', 'transition', 'assignment', 'note', 'escalation', "
    "'reminder', 'photo', 'merge', 'check_in', 'extension', 'rating', 'work_order')"
)
KINDS_NOW = (
    "kind IN ('created', 'transition', 'assignment', 'note', 'escalation', "
    "'reminder', 'photo', 'merge', 'check_in', 'extension', 'rating', 'work_order', "
    "'review')"
)

# Whatever the insert says, a report's text starts unreviewed; text that changes later
# (a correction, a merge) loses its publication and is reviewed again.
_TEXT_REVIEW_TRIGGER = """
CREATE TRIGGER incidents_text_review
BEFORE INSERT OR UPDATE OF description ON incidents
FOR EACH ROW EXECUTE FUNCTION incidents_text_review()
"""


def upgrade() -> None:
    op.add_column(
        "incidents",
        sa.Column(
            "text_review",
            sa.String(length=10),
            server_default=sa.text("'pending'"),
            nullable=False,
        ),
    )
    op.add_column("incidents", sa.Column("published_description", sa.Text(), nullable=True))
    op.add_column("incidents", sa.Column("text_reviewed_by_id", sa.Integer(), nullable=True))
    op.add_column(
        "incidents",
        sa.Column("text_reviewed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_incidents_text_reviewed_by_id_users"),
        "incidents",
        "users",
        ["text_reviewed_by_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Reports filed before review existed: their text waits for review like a new one.
    op.execute("""
        UPDATE incidents SET text_review = 'none'
        WHERE coalesce(btrim(description), '') = ''
    """)
    op.create_check_constraint(
        op.f("ck_incidents_text_review"),
        "incidents",
        "text_review IN ('none', 'pending', 'approved', 'rejected')",
    )
    op.create_check_constraint(
        op.f("ck_incidents_published_when_approved"),
        "incidents",
        "(text_review = 'approved') = (published_description IS NOT NULL)",
    )
    op.create_index(
        "ix_incidents_text_review_pending",
        "incidents",
        ["region_id", "id"],
        postgresql_where=sa.text("text_review = 'pending'"),
    )
    op.execute(load("incidents_text_review.v1"))
    op.execute(_TEXT_REVIEW_TRIGGER)

    op.add_column(
        "incident_photos",
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("incident_photos", sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_incident_photos_reviewed_by_id_users"),
        "incident_photos",
        "users",
        ["reviewed_by_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_incident_photos_published_when_reviewed"),
        "incident_photos",
        "NOT approved_public OR reviewed_at IS NOT NULL",
    )
    op.create_index(
        "ix_incident_photos_unreviewed",
        "incident_photos",
        ["incident_id"],
        postgresql_where=sa.text("reviewed_at IS NULL"),
    )

    op.drop_constraint(op.f("ck_incident_events_kind"), "incident_events", type_="check")
    op.create_check_constraint(op.f("ck_incident_events_kind"), "incident_events", KINDS_NOW)


def downgrade() -> None:
    op.execute("DELETE FROM incident_events WHERE kind = 'review'")
    op.drop_constraint(op.f("ck_incident_events_kind"), "incident_events", type_="check")
    op.create_check_constraint(op.f("ck_incident_events_kind"), "incident_events", KINDS_BEFORE)

    op.drop_index(
        "ix_incident_photos_unreviewed",
        table_name="incident_photos",
        postgresql_where=sa.text("reviewed_at IS NULL"),
    )
    op.drop_constraint(
        op.f("ck_incident_photos_published_when_reviewed"), "incident_photos", type_="check"
    )
    op.drop_constraint(
        op.f("fk_incident_photos_reviewed_by_id_users"), "incident_photos", type_="foreignkey"
    )
    op.drop_column("incident_photos", "reviewed_by_id")
    op.drop_column("incident_photos", "reviewed_at")

    op.execute("DROP TRIGGER incidents_text_review ON incidents")
    op.execute("DROP FUNCTION incidents_text_review()")
    op.drop_index(
        "ix_incidents_text_review_pending",
        table_name="incidents",
        postgresql_where=sa.text("text_review = 'pending'"),
    )
    op.drop_constraint(op.f("ck_incidents_published_when_approved"), "incidents", type_="check")
    op.drop_constraint(op.f("ck_incidents_text_review"), "incidents", type_="check")
    op.drop_constraint(
        op.f("fk_incidents_text_reviewed_by_id_users"), "incidents", type_="foreignkey"
    )
    op.drop_column("incidents", "text_reviewed_at")
    op.drop_column("incidents", "text_reviewed_by_id")
    op.drop_column("incidents", "published_description")
    op.drop_column("incidents", "text_review")
