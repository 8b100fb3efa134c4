"""Drop the outbox's NOTIFY trigger: delivery workers poll the pending-message index instead

A NOTIFY sent from a report's transaction takes PostgreSQL's one cluster-wide notify lock
from its commit through the WAL flush, so every notifying commit in the cluster queues
behind the last one (77-85% of backends waited on it at 16-32 clients; issue 19). Workers
now look at `ix_outbox_pending` a few times a second (incidents/notify/outbox.py), which keeps
delivery well under a second without serialising intake.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")


def downgrade() -> None:
    # As migration 0006 made them.
    op.execute("""
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('gridgov_outbox', ''); RETURN NULL; END $$
    """)
    op.execute("""
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
    """)
