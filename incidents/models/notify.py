"""Notifications: the outbox, inboxes, webhooks and their deliveries, SMS deliveries,
followers of a report and area alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from grid.models import _in_list


class OutboxMessage(Base):
    """A notification written in the same transaction as the change it announces; a
    separate worker delivers it at least once (inbox, live stream, webhooks)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    recipient_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))

    __table_args__ = (
        Index("ix_outbox_pending", "id", postgresql_where=text("delivered_at IS NULL")),
    )


class InboxItem(Base):
    """A notification in a staff member's inbox; one per message and recipient, so a
    redelivered message never shows twice."""

    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id"),
        Index("ix_inbox_items_user_id", "user_id", "id"),
    )


class Webhook(Base):
    """An external receiver of notifications, signed with its own HMAC secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()


DELIVERY_STATUSES = ["pending", "delivered", "failed"]


class _Delivery:
    """The schedule of one message to one receiver, retried with backoff until it
    succeeds or gives up (incidents/notify/webhooks.py attempt_recorder records each attempt)."""

    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = created_at_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _delivery_args(table: str) -> tuple[CheckConstraint, Index]:
    """A delivery table's status check and its index of what is due."""
    return (
        CheckConstraint(_in_list("status", DELIVERY_STATUSES), name="status"),
        Index(f"ix_{table}_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


class WebhookDelivery(_Delivery, Base):
    """One message to one webhook."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))

    __table_args__ = (
        UniqueConstraint("outbox_id", "webhook_id"),
        *_delivery_args(__tablename__),
    )


class SmsDelivery(_Delivery, Base):
    """One message to a reporter's phone through the SMS gateway (incidents/notify/sms.py),
    retried until the gateway takes it; the phone is read from the incident when sending,
    never copied here."""

    __tablename__ = "sms_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))

    # A follower's or an area alert's message (else the reporter's) and its words.
    follower_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_followers.id", ondelete="CASCADE")
    )
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("area_alerts.id", ondelete="CASCADE"))
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *_delivery_args(__tablename__),
        CheckConstraint("num_nonnulls(follower_id, alert_id) <= 1", name="one_recipient"),
        # One per message and recipient: a redelivered message queues nothing more.
        Index(
            "uq_sms_deliveries_recipient",
            "outbox_id",
            "follower_id",
            "alert_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )


class IncidentFollower(Base):
    """Someone who sees the same hazard (我也遇到) and hears what the reporter hears: an
    account or a phone, once per report; never shown in public (only a count)."""

    __tablename__ = "incident_followers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("num_nonnulls(user_id, phone) = 1", name="one_way_to_reach"),
        UniqueConstraint("incident_id", "user_id"),
        UniqueConstraint("incident_id", "phone"),
        Index("ix_incident_followers_user_id", "user_id"),
    )


class AreaAlert(Base):
    """A resident following a community or a cell: new fire hazards and their results
    there, to the inbox or by SMS."""

    __tablename__ = "area_alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    # Cells are versioned; the code is what stays across boundary versions.
    cell_code: Mapped[str | None] = mapped_column(String(15))
    channel: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("num_nonnulls(region_id, cell_code) = 1", name="one_place"),
        CheckConstraint("channel IN ('inbox', 'sms')", name="channel"),
        CheckConstraint("(channel = 'sms') = (phone IS NOT NULL)", name="phone_for_sms"),
        Index(
            "uq_area_alerts_user_place",
            "user_id",
            "region_id",
            "cell_code",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_area_alerts_region_id", "region_id"),
        Index("ix_area_alerts_cell_code", "cell_code"),
    )
