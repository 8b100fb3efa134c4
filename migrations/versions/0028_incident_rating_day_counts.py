"""Valid handling ratings per rated report's region and China day, kept by triggers

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-09 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sql import load

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# incident_rating_day_counts counts the valid (not excluded) handling ratings and the
# satisfied ones (overall 4-5) by the rated report's region and China day of report, the
# way incident_day_counts (0026) counts the reports: the coverage map's region levels sum
# a window's whole days instead of joining every rating of the area's recent reports.
# Kept in the same transaction by statement triggers on ratings (written, excluded,
# re-rated, removed) and on incidents (a report changing region or day takes its rating
# along), and a row trigger before a report is deleted (its ratings go by cascade, when
# their own trigger can no longer find the report).
_RATINGS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
_FUNCTIONS = (
    "incident_rating_day_counts_rebuild()",
    "incident_rating_day_counts_truncate()",
    "incident_rating_day_counts_forget()",
    "incident_rating_day_counts_move()",
    "incident_rating_day_counts_change()",
    "incident_rating_day_counts_apply(bigint[], smallint[], integer[])",
    "incident_rating_day_counts_add(incident_rating_day_counts[])",
)


def upgrade() -> None:
    op.create_table(
        "incident_rating_day_counts",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        # Covering: a region's window is read by index only.
        sa.PrimaryKeyConstraint(
            "region_id",
            "created_on",
            name="pk_incident_rating_day_counts",
            postgresql_include=["ratings", "satisfied"],
        ),
    )
    op.execute(
        "ALTER TABLE incident_rating_day_counts SET (autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)"
    )
    op.execute(load("incident_rating_day_counts"))
    for name, referencing in _RATINGS.items():
        op.execute(
            f"CREATE TRIGGER incident_rating_day_counts_{name} AFTER {name.upper()} ON ratings "
            f"{referencing} FOR EACH STATEMENT "
            "EXECUTE FUNCTION incident_rating_day_counts_change()"
        )
    op.execute(
        "CREATE TRIGGER incident_rating_day_counts_move AFTER UPDATE ON incidents "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION incident_rating_day_counts_move()"
    )
    op.execute(
        "CREATE TRIGGER incident_rating_day_counts_forget BEFORE DELETE ON incidents "
        "FOR EACH ROW EXECUTE FUNCTION incident_rating_day_counts_forget()"
    )
    for table in ("ratings", "incidents"):
        op.execute(
            f"CREATE TRIGGER incident_rating_day_counts_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION incident_rating_day_counts_truncate()"
        )
    # The backfill.
    op.execute("SELECT incident_rating_day_counts_rebuild()")


def downgrade() -> None:
    for table in ("ratings", "incidents"):
        op.execute(f"DROP TRIGGER incident_rating_day_counts_truncate ON {table}")
    op.execute("DROP TRIGGER incident_rating_day_counts_forget ON incidents")
    op.execute("DROP TRIGGER incident_rating_day_counts_move ON incidents")
    for name in _RATINGS:
        op.execute(f"DROP TRIGGER incident_rating_day_counts_{name} ON ratings")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("incident_rating_day_counts")
