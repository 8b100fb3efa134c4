"""What intake records beside the incident: idempotency records, emergency referrals, fire
damage declarations, Open311 requests and clients, 12345 hotline work orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from grid.models import _in_list
from incidents.models.reports import point_geometry


class IdempotencyRecord(Base):
    """A request made with an Idempotency-Key: its body's hash and the answer given, so a
    retry gets the same answer and a different body under the same key is refused."""

    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()


class EmergencyReferral(Base):
    """A fire burning now: the reporter was told to call 119; recorded, not routed."""

    __tablename__ = "emergency_referrals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_categories.code"))
    location: Mapped[WKBElement | None] = mapped_column(point_geometry())
    description: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = created_at_column()


class DamageDeclaration(Base):
    """A fire damage declaration (火灾受损申报) for a house of the register; its incident
    carries routing, state and timeline, this row the figures."""

    __tablename__ = "damage_declarations"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id", ondelete="RESTRICT"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL")
    )
    fire_date: Mapped[date] = mapped_column(Date)
    what_burned: Mapped[str] = mapped_column(Text)
    estimated_loss: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    verified_loss: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    __table_args__ = (
        CheckConstraint("estimated_loss >= 0", name="estimated_loss"),
        CheckConstraint("verified_loss IS NULL OR verified_loss >= 0", name="verified_loss"),
        Index("ix_damage_declarations_house_id", "house_id"),
    )


class Open311Client(Base):
    """A trusted Open311 client: its API key kept only as a SHA-256 and a prefix to
    recognise it by; revoked keys stay, so requests keep pointing at their client."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Open311Request(Base):
    """What a report filed over Open311 carries beyond a web report: the client, the
    media URL (stored, never fetched) and contact details (never public)."""

    __tablename__ = "open311_requests"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_clients.id", ondelete="RESTRICT")
    )
    media_url: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(254))
    device_id: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[str | None] = mapped_column(String(100))
    # attribute[...] fields the category does not ask for, kept as sent (never public).
    extra_attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        Index(
            "ix_open311_requests_client_id",
            "client_id",
            postgresql_where=text("client_id IS NOT NULL"),
        ),
    )


# 12345 request types (诉求类型): 咨询, 求助, 投诉, 举报, 建议 (labels in hotline_mapping).
HOTLINE_REQUEST_TYPES = ["inquiry", "help", "complaint", "tip_off", "suggestion"]


class HotlineOrder(Base):
    """A 12345 hotline work order (工单) filed as an incident: its number (unique, so a file
    sent twice files nothing twice), when 12345 took the call, its time limit and category
    as sent, its request type and first-contact deadline (首次联系), keyed hashes of each
    field sent (to spot a re-sent order that changed without keeping the caller's data a
    second time) and what was last exported back."""

    __tablename__ = "hotline_orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    category_sent: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_limit: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # NULL: the order did not say (and the mapping has no default).
    request_type: Mapped[str | None] = mapped_column(String(16))
    # NULL only for orders imported before first contact was tracked.
    first_contact_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    field_hashes: Mapped[dict[str, str]] = mapped_column(JSONB)
    imported_at: Mapped[datetime] = created_at_column()
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exported_hash: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_hotline_orders_received_at", "received_at"),
        CheckConstraint(
            "request_type IS NULL OR " + _in_list("request_type", HOTLINE_REQUEST_TYPES),
            name="request_type",
        ),
    )
