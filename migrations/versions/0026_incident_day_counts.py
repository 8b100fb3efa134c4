"""Incident counts per region and China day, kept by triggers, for the coverage map's regions

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sql import load

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# incident_day_counts counts the incidents per report region (a cell's community, or the
# region whose queue took a point outside every cell), status, fire-hazard kind, China
# day of the report and, while the report is open, its resolve deadline ('infinity'
# once finished). The counts add up: a street's or a district's figure is the sum over
# the regions below it, so the coverage map's region levels read a few counts per
# community and day instead of every report of the area. Keyed by region rather than by
# cell: at a hundred reports per cell a year, a cell and day holds about one report and
# the counts would be as many as the reports; a community and day folds a few dozen.
#
# Statement-level AFTER triggers with transition tables keep the counts in the same
# transaction as the change, one aggregated upsert per statement in key order (as the
# tile bins of 0013). A category that changes kind moves its reports' counts.
_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
_KEY = ["region_id", "fire_hazard", "created_on", "status", "due_at"]


def upgrade() -> None:
    op.create_table(
        "incident_day_counts",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fire_hazard", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        # Covering: a region's counts are read by index only.
        sa.PrimaryKeyConstraint(
            *_KEY, name="pk_incident_day_counts", postgresql_include=["incidents"]
        ),
    )
    # The fire hazards of a window are one range of the key per region; the open reports
    # are found by status.
    op.create_index(
        "ix_incident_day_counts_status",
        "incident_day_counts",
        ["region_id", "status"],
        postgresql_include=["due_at", "incidents"],
    )
    # Vacuumed often (every report updates it), so the visibility map stays fresh enough
    # for those index-only scans.
    op.execute(
        "ALTER TABLE incident_day_counts SET (autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)"
    )
    op.execute(load("incident_day_counts"))
    for name, referencing in _REFERENCING.items():
        op.execute(
            f"CREATE TRIGGER incident_day_counts_{name} AFTER {name.upper()} ON incidents "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION incident_day_counts_change()"
        )
    op.execute(
        "CREATE TRIGGER incident_day_counts_truncate AFTER TRUNCATE ON incidents "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_day_counts_truncate()"
    )
    op.execute(
        "CREATE TRIGGER incident_day_counts_recategorise AFTER UPDATE ON incident_categories "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION incident_day_counts_recategorise()"
    )
    # The backfill.
    op.execute("SELECT incident_day_counts_rebuild()")


def downgrade() -> None:
    op.execute("DROP TRIGGER incident_day_counts_recategorise ON incident_categories")
    for name in (*_REFERENCING, "truncate"):
        op.execute(f"DROP TRIGGER incident_day_counts_{name} ON incidents")
    for function in (
        "incident_day_counts_recategorise()",
        "incident_day_counts_truncate()",
        "incident_day_counts_change()",
        "incident_day_counts_rebuild()",
        "incident_day_counts_add(incident_day_counts[])",
        "incident_day_count_key(integer, text, text, timestamptz, timestamptz)",
        "category_fire_hazard(text, boolean)",
        "incident_status_open(text)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("incident_day_counts")
