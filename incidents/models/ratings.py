"""Ratings (好差评), the rectification work orders they open, flags and appeals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from grid.models import _in_list
from incidents.channels import RatingChannel

RATING_KINDS = ["handling", "rectification"]
RATING_CHANNELS = [c.value for c in RatingChannel]
CONTACT_METHODS = ["phone", "visit", "wechat", "sms"]


def _score(column: str) -> str:
    return f"{column} IS NULL OR {column} BETWEEN 1 AND 5"


class Rating(Base):
    """好差评: the reporter's rating of the handling (or of a rectification), given once.
    An excluded rating leaves the statistics but stays in the history."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE", use_alter=True)
    )
    kind: Mapped[str] = mapped_column(String(16))
    overall: Mapped[int] = mapped_column(SmallInteger)
    timeliness: Mapped[int | None] = mapped_column(SmallInteger)
    convenience: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(12))
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    defaulted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    excluded: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("kind", RATING_KINDS), name="kind"),
        CheckConstraint(_in_list("channel", RATING_CHANNELS), name="channel"),
        CheckConstraint("overall BETWEEN 1 AND 5", name="overall"),
        CheckConstraint(_score("timeliness"), name="timeliness"),
        CheckConstraint(_score("convenience"), name="convenience"),
        CheckConstraint(
            "(kind = 'rectification') = (work_order_id IS NOT NULL)",
            name="rectification_has_work_order",
        ),
        # Rated once: one handling rating per report, one re-rating per work order.
        Index(
            "uq_ratings_handling",
            "incident_id",
            unique=True,
            postgresql_where=text("kind = 'handling'"),
        ),
        Index(
            "uq_ratings_rectification",
            "work_order_id",
            unique=True,
            postgresql_where=text("kind = 'rectification'"),
        ),
    )


class WorkOrder(Base):
    """A rectification work order (整改工单) opened by a bad rating: assigned up the
    handler's chain, revisited by a deadline, re-rated by the reporter."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), server_default=text("'open'"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revisited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revisited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contact_method: Mapped[str | None] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(Text)
    actions_taken: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("status IN ('open', 'revisited', 'closed')", name="status"),
        CheckConstraint(
            "contact_method IS NULL OR " + _in_list("contact_method", CONTACT_METHODS),
            name="contact_method",
        ),
        # A revisit is recorded whole or not at all.
        CheckConstraint(
            "(revisited_at IS NULL) = (outcome IS NULL) AND "
            "(revisited_at IS NULL) = (contact_method IS NULL) AND "
            "(revisited_at IS NULL) = (actions_taken IS NULL)",
            name="revisit_complete",
        ),
        UniqueConstraint("rating_id"),
        Index(
            "ix_work_orders_assignee_open",
            "assignee_id",
            "due_at",
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_work_orders_incident_id", "incident_id"),
    )


class RatingFlag(Base):
    """A manager's flag on a false or malicious rating; a second manager confirms it
    (the rating is then excluded) or dismisses it."""

    __tablename__ = "rating_flags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    flagged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed', 'dismissed')", name="status"),
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> flagged_by_id", name="second_manager"
        ),
        Index(
            "uq_rating_flags_pending",
            "rating_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )


class RatingAppeal(Base):
    """The rater's appeal against an excluded rating, and its decision."""

    __tablename__ = "rating_appeals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name="status"),
        Index("ix_rating_appeals_rating_id", "rating_id"),
    )
