"""Handling and 好差评: ratings, rectification work orders, rating flags and appeals,
extension requests, check-ins, patrol visits; buildings' year built

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 20:52:21.285730
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


KINDS_BEFORE = (
    "kind IN ('created', 'transition', 'assignment', 'note', 'escalation', "
    "'reminder', 'photo', 'merge')"
)
KINDS_NOW = (
    "kind IN ('created', 'transition', 'assignment', 'note', 'escalation', "
    "'reminder', 'photo', 'merge', 'check_in', 'extension', 'rating', 'work_order')"
)


def upgrade() -> None:
    op.create_geospatial_table(
        "patrol_visits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("hazards_found", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "visited_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("hazards_found >= 0", name=op.f("ck_patrol_visits_hazards_found")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_patrol_visits_building_id_buildings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patrol_visits_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_visits")),
    )
    op.create_index(
        "ix_patrol_visits_building_id", "patrol_visits", ["building_id", "visited_at"], unique=False
    )
    op.create_index(
        "ix_patrol_visits_user_id", "patrol_visits", ["user_id", "visited_at"], unique=False
    )
    op.create_geospatial_table(
        "check_ins",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("on_site", sa.Boolean(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_check_ins_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_check_ins_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
    )
    op.create_index("ix_check_ins_incident_id", "check_ins", ["incident_id"], unique=False)
    op.create_table(
        "extension_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status", sa.String(length=12), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'granted', 'refused')", name=op.f("ck_extension_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_extension_requests_decided_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_extension_requests_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_extension_requests_requested_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension_requests")),
    )
    op.create_index(
        "uq_extension_requests_pending",
        "extension_requests",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("work_order_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("overall", sa.SmallInteger(), nullable=False),
        sa.Column("timeliness", sa.SmallInteger(), nullable=True),
        sa.Column("convenience", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("defaulted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("excluded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'rectification') = (work_order_id IS NOT NULL)",
            name=op.f("ck_ratings_rectification_has_work_order"),
        ),
        sa.CheckConstraint(
            "channel IN ('account', 'secret', 'phone', 'terminal', 'default')",
            name=op.f("ck_ratings_channel"),
        ),
        sa.CheckConstraint("kind IN ('handling', 'rectification')", name=op.f("ck_ratings_kind")),
        sa.CheckConstraint(
            "convenience IS NULL OR convenience BETWEEN 1 AND 5",
            name=op.f("ck_ratings_convenience"),
        ),
        sa.CheckConstraint("overall BETWEEN 1 AND 5", name=op.f("ck_ratings_overall")),
        sa.CheckConstraint(
            "timeliness IS NULL OR timeliness BETWEEN 1 AND 5", name=op.f("ck_ratings_timeliness")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_ratings_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["users.id"], name=op.f("fk_ratings_rater_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_ratings_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    op.create_index(
        "uq_ratings_handling",
        "ratings",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'handling'"),
    )
    op.create_index(
        "uq_ratings_rectification",
        "ratings",
        ["work_order_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'rectification'"),
    )
    op.create_table(
        "rating_appeals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rating_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status", sa.String(length=12), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'upheld', 'rejected')", name=op.f("ck_rating_appeals_status")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_rating_appeals_decided_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name=op.f("fk_rating_appeals_rating_id_ratings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_appeals")),
    )
    op.create_index("ix_rating_appeals_rating_id", "rating_appeals", ["rating_id"], unique=False)
    op.create_table(
        "rating_flags",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rating_id", sa.BigInteger(), nullable=False),
        sa.Column("flagged_by_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status", sa.String(length=12), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'dismissed')", name=op.f("ck_rating_flags_status")
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> flagged_by_id",
            name=op.f("ck_rating_flags_second_manager"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_rating_flags_decided_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["flagged_by_id"],
            ["users.id"],
            name=op.f("fk_rating_flags_flagged_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name=op.f("fk_rating_flags_rating_id_ratings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_flags")),
    )
    op.create_index(
        "uq_rating_flags_pending",
        "rating_flags",
        ["rating_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("rating_id", sa.BigInteger(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), server_default=sa.text("'open'"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revisited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revisited_by_id", sa.Integer(), nullable=True),
        sa.Column("contact_method", sa.String(length=8), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("actions_taken", sa.Text(), nullable=True),
        sa.Column(
            "escalation_level", sa.SmallInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "contact_method IS NULL OR contact_method IN ('phone', 'visit', 'wechat', 'sms')",
            name=op.f("ck_work_orders_contact_method"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'revisited', 'closed')", name=op.f("ck_work_orders_status")
        ),
        sa.CheckConstraint(
            "(revisited_at IS NULL) = (outcome IS NULL) AND (revisited_at IS NULL) = (contact_method IS NULL) AND (revisited_at IS NULL) = (actions_taken IS NULL)",
            name=op.f("ck_work_orders_revisit_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_work_orders_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_work_orders_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name=op.f("fk_work_orders_rating_id_ratings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revisited_by_id"],
            ["users.id"],
            name=op.f("fk_work_orders_revisited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_work_orders_rating_id")),
    )
    op.create_index(
        "ix_work_orders_assignee_open",
        "work_orders",
        ["assignee_id", "due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_work_orders_incident_id", "work_orders", ["incident_id"], unique=False)
    # ratings and work_orders point at each other: this side is added once both exist.
    op.create_foreign_key(
        op.f("fk_ratings_work_order_id_work_orders"),
        "ratings",
        "work_orders",
        ["work_order_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.add_column("buildings", sa.Column("built_year", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_buildings_built_year"),
        "buildings",
        "built_year IS NULL OR built_year BETWEEN 1800 AND 2100",
    )
    op.drop_constraint(op.f("ck_incident_events_kind"), "incident_events", type_="check")
    op.create_check_constraint(op.f("ck_incident_events_kind"), "incident_events", KINDS_NOW)


def downgrade() -> None:
    op.execute(
        "DELETE FROM incident_events WHERE kind IN "
        "('check_in', 'extension', 'rating', 'work_order')"
    )
    op.drop_constraint(op.f("ck_incident_events_kind"), "incident_events", type_="check")
    op.create_check_constraint(op.f("ck_incident_events_kind"), "incident_events", KINDS_BEFORE)
    op.drop_constraint(op.f("fk_ratings_work_order_id_work_orders"), "ratings", type_="foreignkey")
    op.drop_column("buildings", "built_year")
    op.drop_index("ix_work_orders_incident_id", table_name="work_orders")
    op.drop_index(
        "ix_work_orders_assignee_open",
        table_name="work_orders",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("work_orders")
    op.drop_index(
        "uq_rating_flags_pending",
        table_name="rating_flags",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("rating_flags")
    op.drop_index("ix_rating_appeals_rating_id", table_name="rating_appeals")
    op.drop_table("rating_appeals")
    op.drop_index(
        "uq_ratings_rectification",
        table_name="ratings",
        postgresql_where=sa.text("kind = 'rectification'"),
    )
    op.drop_index(
        "uq_ratings_handling", table_name="ratings", postgresql_where=sa.text("kind = 'handling'")
    )
    op.drop_table("ratings")
    op.drop_index(
        "uq_extension_requests_pending",
        table_name="extension_requests",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("extension_requests")
    op.drop_index("ix_check_ins_incident_id", table_name="check_ins")
    op.drop_geospatial_table("check_ins")
    op.drop_index("ix_patrol_visits_user_id", table_name="patrol_visits")
    op.drop_index("ix_patrol_visits_building_id", table_name="patrol_visits")
    op.drop_geospatial_table("patrol_visits")
