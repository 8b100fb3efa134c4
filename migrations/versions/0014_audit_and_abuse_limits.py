"""Append-only audit log, shared rate-limit counters, the ban list, anonymisation mark

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.sql import load

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows are never changed or removed: the triggers refuse UPDATE, DELETE and TRUNCATE for
# every role, the application's included (a REVOKE alone does not bind a table's owner).
# Only disabling the triggers, which takes the table's owner or a superuser, gets round it.
_APPEND_ONLY = """
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
"""

# Every state change is audited by the database itself, whichever code path made it:
# an incident's status step (its event row), a work order's status, an account's role,
# area or activation.
_STATE_CHANGES = """
CREATE TRIGGER incident_events_audit AFTER INSERT ON incident_events
    FOR EACH ROW EXECUTE FUNCTION audit_incident_event();
CREATE TRIGGER work_orders_audit AFTER INSERT OR UPDATE OF status ON work_orders
    FOR EACH ROW EXECUTE FUNCTION audit_work_order_status();
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OF role, region_id, is_active ON users
    FOR EACH ROW EXECUTE FUNCTION audit_account_change();
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("action", sa.String(32), nullable=False),
        # No foreign key: deleting an account must not rewrite (or be blocked by) history.
        sa.Column("actor_id", sa.Integer()),
        sa.Column("actor_name", sa.String(100)),
        sa.Column("actor_role", sa.String(32)),
        sa.Column("ip", postgresql.INET()),
        sa.Column("subject_type", sa.String(32)),
        sa.Column("subject_id", sa.String(64)),
        sa.Column("detail", postgresql.JSONB(), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action_id", "audit_log", ["action", "id"])
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id", "id"])
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_type", "subject_id", "id"])
    op.execute(load("audit_log_append_only"))
    op.execute(_APPEND_ONLY)
    for function in ("audit_incident_event", "audit_work_order_status", "audit_account_change"):
        op.execute(load(function))
    op.execute(_STATE_CHANGES)
    op.add_column("incidents", sa.Column("anonymised_at", sa.DateTime(timezone=True)))

    # Fixed-window counters shared by every worker process. UNLOGGED: a crash may reset
    # them, which only forgives some requests, and it spares the WAL a write per request.
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_counters")),
        prefixes=["UNLOGGED"],
    )
    op.create_table(
        "access_bans",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("network", postgresql.CIDR()),
        sa.Column("user_id", sa.Integer()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "(network IS NULL) <> (user_id IS NULL)", name=op.f("ck_access_bans_one_target")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_access_bans_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_access_bans_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_bans")),
    )


def downgrade() -> None:
    op.drop_table("access_bans")
    op.drop_table("rate_limit_counters")
    op.execute("DROP TRIGGER users_audit ON users")
    op.execute("DROP TRIGGER work_orders_audit ON work_orders")
    op.execute("DROP TRIGGER incident_events_audit ON incident_events")
    op.execute(
        "DROP FUNCTION audit_account_change(), audit_work_order_status(), audit_incident_event()"
    )
    op.drop_table("audit_log")
    op.drop_column("incidents", "anonymised_at")
    op.execute("DROP FUNCTION audit_log_append_only()")
