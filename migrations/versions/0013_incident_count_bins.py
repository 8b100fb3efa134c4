"""Pre-aggregated incident counts for low-zoom tiles, and partial indexes for the others

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sql import load

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# incident_tile_bins counts the incidents shown on the public map by the web-mercator
# tile holding their public point at zooms 16, 17 and 18 (squares of ~611, ~306 and
# ~153 m), their status and the China day they were closed ('infinity' while open). A
# count tile of zoom z draws one cluster per tile of zoom z + 4 (a sixteenth of its side),
# so it sums the bins of zoom z + 4 (zooms 12-14; lower zooms fold zoom-16 bins) instead
# of grouping every incident: it reads at most 256 bins per status and day. The closing
# day is a key because a closed incident leaves the map RECENTLY_CLOSED_DAYS after that
# day: the reader picks the days still shown, so the counts stay right as days pass with
# no refresh job. Rejected and duplicate reports are never shown, so never counted.
#
# Statement-level AFTER triggers with transition tables keep the bins in the same
# transaction as the change: one aggregated upsert per statement (a COPY of a million
# rows is one upsert, not a million), written in key order so two statements never lock
# the same bins in opposite orders. A bin that drops to zero is deleted.
_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}

# The detail tiles (zoom 15 and up) read open and recently closed incidents apart, each
# from a GiST index holding only the incidents it may show; the whole-table index of
# 0009 would walk every closed report of the area too.
_SHOWN = "status NOT IN ('rejected', 'duplicate')"


def upgrade() -> None:
    op.create_table(
        "incident_tile_bins",
        sa.Column("zoom", sa.SmallInteger(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("quadkey", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        # Covering: a tile's read is an index-only scan, not a heap page per bin.
        sa.PrimaryKeyConstraint(
            "zoom",
            "closed_on",
            "quadkey",
            "status",
            name="pk_incident_tile_bins",
            postgresql_include=["x", "y", "incidents"],
        ),
    )
    # Vacuumed often (it is small and every report updates it), so the visibility map
    # stays fresh enough for those index-only scans.
    op.execute(
        "ALTER TABLE incident_tile_bins SET (autovacuum_vacuum_scale_factor = 0.01, "
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)"
    )
    # tile_morton, incident_tile_bin_keys, the four trigger functions and the rebuild.
    op.execute(load("incident_count_bins"))
    for name, referencing in _REFERENCING.items():
        op.execute(
            f"CREATE TRIGGER incident_tile_bins_{name} AFTER {name.upper()} ON incidents "
            f"{referencing} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION incident_tile_bins_{name}()"
        )
    op.execute(
        "CREATE TRIGGER incident_tile_bins_truncate AFTER TRUNCATE ON incidents "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_tile_bins_truncate()"
    )
    # The backfill.
    op.execute("SELECT incident_tile_bins_rebuild()")

    op.create_index(
        "ix_incidents_public_point_open",
        "incidents",
        ["public_point_3857"],
        postgresql_using="gist",
        postgresql_where=sa.text(f"closed_at IS NULL AND {_SHOWN}"),
    )
    op.create_index(
        "ix_incidents_public_point_closed",
        "incidents",
        ["public_point_3857", "closed_at"],
        postgresql_using="gist",
        postgresql_where=sa.text(f"closed_at IS NOT NULL AND {_SHOWN}"),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_public_point_closed", table_name="incidents")
    op.drop_index("ix_incidents_public_point_open", table_name="incidents")
    for name in (*_REFERENCING, "truncate"):
        op.execute(f"DROP TRIGGER incident_tile_bins_{name} ON incidents")
        op.execute(f"DROP FUNCTION incident_tile_bins_{name}()")
    op.execute("DROP FUNCTION incident_tile_bins_rebuild()")
    op.execute("DROP FUNCTION incident_tile_bin_keys(geometry, text, timestamptz)")
    op.execute("DROP FUNCTION tile_morton(integer, integer)")
    op.drop_table("incident_tile_bins")
