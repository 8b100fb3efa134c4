"""Followers of a report (我也遇到: an account or a phone, once each per report) and area
alerts (an account following a community or a cell, by inbox or SMS); SMS deliveries name
the follower or alert they go to, so one outbox message may reach several phones

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_followers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "num_nonnulls(user_id, phone) = 1", name=op.f("ck_incident_followers_one_way_to_reach")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            ondelete="CASCADE",
            name=op.f("fk_incident_followers_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_incident_followers_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_followers")),
        sa.UniqueConstraint(
            "incident_id", "user_id", name=op.f("uq_incident_followers_incident_id_user_id")
        ),
        sa.UniqueConstraint(
            "incident_id", "phone", name=op.f("uq_incident_followers_incident_id_phone")
        ),
    )
    op.create_index("ix_incident_followers_user_id", "incident_followers", ["user_id"])
    op.create_table(
        "area_alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("cell_code", sa.String(15), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "num_nonnulls(region_id, cell_code) = 1", name=op.f("ck_area_alerts_one_place")
        ),
        sa.CheckConstraint("channel IN ('inbox', 'sms')", name=op.f("ck_area_alerts_channel")),
        sa.CheckConstraint(
            "(channel = 'sms') = (phone IS NOT NULL)", name=op.f("ck_area_alerts_phone_for_sms")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_area_alerts_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            ondelete="CASCADE",
            name=op.f("fk_area_alerts_region_id_regions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_alerts")),
    )
    op.create_index(
        "uq_area_alerts_user_place",
        "area_alerts",
        ["user_id", "region_id", "cell_code"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_index("ix_area_alerts_region_id", "area_alerts", ["region_id"])
    op.create_index("ix_area_alerts_cell_code", "area_alerts", ["cell_code"])
    op.add_column("sms_deliveries", sa.Column("follower_id", sa.BigInteger(), nullable=True))
    op.add_column("sms_deliveries", sa.Column("alert_id", sa.BigInteger(), nullable=True))
    # The words of a follower's or an alert's message (public fields only, never a phone);
    # none for the reporter's, which the gateway's template words when sending.
    op.add_column("sms_deliveries", sa.Column("body", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_sms_deliveries_follower_id_incident_followers"),
        "sms_deliveries",
        "incident_followers",
        ["follower_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_sms_deliveries_alert_id_area_alerts"),
        "sms_deliveries",
        "area_alerts",
        ["alert_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_check_constraint(
        op.f("ck_sms_deliveries_one_recipient"),
        "sms_deliveries",
        "num_nonnulls(follower_id, alert_id) <= 1",
    )
    op.drop_constraint("uq_sms_deliveries_outbox_id", "sms_deliveries", type_="unique")
    op.create_index(
        "uq_sms_deliveries_recipient",
        "sms_deliveries",
        ["outbox_id", "follower_id", "alert_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.execute("DELETE FROM sms_deliveries WHERE follower_id IS NOT NULL OR alert_id IS NOT NULL")
    op.drop_index("uq_sms_deliveries_recipient", table_name="sms_deliveries")
    op.create_unique_constraint("uq_sms_deliveries_outbox_id", "sms_deliveries", ["outbox_id"])
    op.drop_constraint(op.f("ck_sms_deliveries_one_recipient"), "sms_deliveries", type_="check")
    op.drop_column("sms_deliveries", "body")
    op.drop_column("sms_deliveries", "alert_id")
    op.drop_column("sms_deliveries", "follower_id")
    op.drop_index("ix_area_alerts_cell_code", table_name="area_alerts")
    op.drop_index("ix_area_alerts_region_id", table_name="area_alerts")
    op.drop_index("uq_area_alerts_user_place", table_name="area_alerts")
    op.drop_table("area_alerts")
    op.drop_index("ix_incident_followers_user_id", table_name="incident_followers")
    op.drop_table("incident_followers")
