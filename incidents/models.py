"""ORM models of hazard reports: categories, incidents, their events and photos,
idempotency records, the notification outbox, inboxes, webhooks, emergency referrals and
fire damage declarations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID
from grid.models import _in_list

TIERS = ["red", "yellow", "blue"]
PRECISIONS = ["exact", "building", "cell"]
STATUSES = [
    "submitted",
    "assigned",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
    "transferred",
    "reopened",
    "emergency_referral",
]
# How a report came in. The last three are staff filing for a resident: one who phoned
# the worker or the community office, one who walked in, a neighbour who cannot (elderly,
# no phone); 'hotline' is a 12345 work order, 'patrol' a hazard a worker found.
REPORT_CHANNELS = (
    "web",
    "app",
    "hotline",
    "patrol",
    "terminal",
    "wechat",
    "phone",
    "walk_in",
    "on_behalf",
)
# Open311 requests are filed through their own endpoint, never chosen on a report form.
CHANNELS = [*REPORT_CHANNELS, "open311"]
ROUTING_RULES = [
    "inside",
    "nearest",
    "community_queue",
    "street_queue",
    "district_queue",
    "city_queue",
    "outside",
]
RESPONSIBLE_LEVELS = [
    "primary",
    "backup",
    "community_manager",
    "street_manager",
    "district_manager",
    "queue",
]
EVENT_KINDS = [
    "created",
    "transition",
    "assignment",
    "note",
    "escalation",
    "reminder",
    "photo",
    "merge",
    "check_in",
    "extension",
    "rating",
    "work_order",
    "review",
]
# Staff review of a report's text before publication ('none': there is no text).
TEXT_REVIEW_STATES = ["none", "pending", "approved", "rejected"]


def _point() -> Geometry:
    return Geometry("POINT", srid=STORAGE_SRID, spatial_index=False)


class Category(Base):
    """A kind of hazard or issue: labels, severity tier, questions, duplicate radius and how
    precisely its location may be shown in public."""

    __tablename__ = "incident_categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_code: Mapped[str] = mapped_column(String(32))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(8))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'"))
    duplicate_radius_m: Mapped[int] = mapped_column(SmallInteger, server_default=text("50"))
    public_precision: Mapped[str] = mapped_column(String(8), server_default=text("'building'"))
    is_emergency: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    sort_order: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        CheckConstraint(_in_list("tier", TIERS), name="tier"),
        CheckConstraint(_in_list("public_precision", PRECISIONS), name="public_precision"),
        CheckConstraint("duplicate_radius_m BETWEEN 0 AND 5000", name="duplicate_radius"),
    )


class Incident(Base):
    """A report: where, what, who reported it, where routing sent it, and its deadlines.
    `version` grows with every change, so two concurrent updates cannot both win."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(20), unique=True)
    # A keyed hash of the secret given to the reporter for rating; never the secret.
    secret_hash: Mapped[str] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_categories.code"))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    location: Mapped[WKBElement] = mapped_column(_point())
    # The public place (coarsened per category) in Web Mercator for vector tiles; kept by
    # the trigger incidents_public_point_3857 (migration 0009), never written by Python.
    public_point_3857: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=WEB_MERCATOR_SRID, spatial_index=False)
    )
    # What the client sent, before conversion to WGS84 (evidence for disputes).
    input_lon: Mapped[float] = mapped_column(Float)
    input_lat: Mapped[float] = mapped_column(Float)
    input_system: Mapped[str] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    # The city asset (部件) the report is about, picked near the pin (grid/assets.py).
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("city_assets.id", ondelete="SET NULL"))
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id", ondelete="SET NULL"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    routing_rule: Mapped[str] = mapped_column(String(20))
    responsible_level: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    channel: Mapped[str] = mapped_column(String(12))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL")
    )
    accept_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    escalation_level: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    # Set when retention (incidents/retention.py) removed the personal data of a closed report.
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Publication (incidents/publication/review.py): the trigger incidents_text_review (migration
    # 0010) sets the state on insert and when the description changes; public pages show
    # only published_description, the approved and redacted text.
    text_review: Mapped[str] = mapped_column(String(10), server_default=text("'pending'"))
    published_description: Mapped[str | None] = mapped_column(Text)
    text_reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    text_reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in_list("status", STATUSES), name="status"),
        CheckConstraint(_in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(_in_list("routing_rule", ROUTING_RULES), name="routing_rule"),
        CheckConstraint(
            _in_list("responsible_level", RESPONSIBLE_LEVELS), name="responsible_level"
        ),
        CheckConstraint("input_system IN ('wgs84', 'gcj02', 'bd09')", name="input_system"),
        CheckConstraint(_in_list("text_review", TEXT_REVIEW_STATES), name="text_review"),
        CheckConstraint(
            "(text_review = 'approved') = (published_description IS NOT NULL)",
            name="published_when_approved",
        ),
        Index(
            "ix_incidents_text_review_pending",
            "region_id",
            "id",
            postgresql_where=text("text_review = 'pending'"),
        ),
        Index("ix_incidents_location", "location", postgresql_using="gist"),
        Index("ix_incidents_public_point_3857", "public_point_3857", postgresql_using="gist"),
        # What the public map's detail tiles read: open, and closed, shown incidents (0013).
        Index(
            "ix_incidents_public_point_open",
            "public_point_3857",
            postgresql_using="gist",
            postgresql_where=text("closed_at IS NULL AND status NOT IN ('rejected', 'duplicate')"),
        ),
        Index(
            "ix_incidents_public_point_closed",
            "public_point_3857",
            "closed_at",
            postgresql_using="gist",
            postgresql_where=text(
                "closed_at IS NOT NULL AND status NOT IN ('rejected', 'duplicate')"
            ),
        ),
        Index(
            "ix_incidents_assignee_open",
            "assignee_id",
            "resolve_due_at",
            postgresql_where=text("status IN ('assigned', 'accepted', 'in_progress', 'reopened')"),
        ),
        Index("ix_incidents_cell_id", "cell_id"),
        Index("ix_incidents_region_id", "region_id"),
        Index("ix_incidents_status_created", "status", "created_at"),
        Index("ix_incidents_created_at", "created_at"),
        Index(
            "ix_incidents_building_id",
            "building_id",
            postgresql_where=text("building_id IS NOT NULL"),
        ),
        Index("ix_incidents_asset_id", "asset_id", postgresql_where=text("asset_id IS NOT NULL")),
    )


class IncidentEvent(Base):
    """One step of an incident's timeline: who, when, from and to which state, a note.
    `public` events are what the reporter and the public timeline show."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("kind", EVENT_KINDS), name="kind"),
        Index("ix_incident_events_incident_id", "incident_id", "id"),
    )


class IncidentPhoto(Base):
    """A photo on a report: the original for staff, a metadata-free copy and thumbnail
    for anyone else (shown in public only once approved)."""

    __tablename__ = "incident_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_events.id", ondelete="SET NULL")
    )
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original: Mapped[bytes] = mapped_column(LargeBinary)
    public_copy: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_public: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = created_at_column()
    # Who published (or withdrew) the photo, and when; NULL = not reviewed yet.
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_incident_photos_incident_id", "incident_id"),
        CheckConstraint(
            "NOT approved_public OR reviewed_at IS NOT NULL", name="published_when_reviewed"
        ),
        Index(
            "ix_incident_photos_unreviewed",
            "incident_id",
            postgresql_where=text("reviewed_at IS NULL"),
        ),
    )


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


class EmergencyReferral(Base):
    """A fire burning now: the reporter was told to call 119; recorded, not routed."""

    __tablename__ = "emergency_referrals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("incident_categories.code"))
    location: Mapped[WKBElement | None] = mapped_column(_point())
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


RATING_KINDS = ["handling", "rectification"]
RATING_CHANNELS = ["account", "secret", "phone", "terminal", "default"]
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


class ExtensionRequest(Base):
    """A worker asks for more time on a report; a manager grants or refuses it."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    requested_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'granted', 'refused')", name="status"),
        Index(
            "uq_extension_requests_pending",
            "incident_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )


class IncidentTileBin(Base):
    """How many incidents the public map shows in one web-mercator tile of a fixed zoom,
    per status and China day of closing ('infinity' while open): what low-zoom tiles sum.
    Kept by statement triggers on incidents (migration 0013), never written by Python."""

    __tablename__ = "incident_tile_bins"

    zoom: Mapped[int] = mapped_column(SmallInteger)
    closed_on: Mapped[date] = mapped_column(Date)
    # Morton code of (x, y) at `zoom`: the bins inside a coarser tile are one range.
    quadkey: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    incidents: Mapped[int] = mapped_column(Integer)

    # No CHECK (incidents >= 0): an upsert's negative delta is checked as a new row first.
    # The key covers x, y and the count, so a tile reads the bins by index only.
    __table_args__ = (
        PrimaryKeyConstraint(
            "zoom", "closed_on", "quadkey", "status", postgresql_include=["x", "y", "incidents"]
        ),
    )


class CheckIn(Base):
    """A worker's on-site check-in at an incident: where they were and how far away."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    location: Mapped[WKBElement] = mapped_column(_point())
    distance_m: Mapped[float] = mapped_column(Float)
    on_site: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = created_at_column()

    __table_args__ = (Index("ix_check_ins_incident_id", "incident_id"),)


class PatrolVisit(Base):
    """A worker's visit to a building on patrol (feeds patrol coverage per cell)."""

    __tablename__ = "patrol_visits"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    location: Mapped[WKBElement | None] = mapped_column(_point())
    note: Mapped[str | None] = mapped_column(Text)
    hazards_found: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    visited_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("hazards_found >= 0", name="hazards_found"),
        Index("ix_patrol_visits_building_id", "building_id", "visited_at"),
        Index("ix_patrol_visits_user_id", "user_id", "visited_at"),
    )


class PatrolVisitPhoto(Base):
    """A photo taken on a patrol visit: evidence for staff (the original keeps its EXIF)
    and a thumbnail; never published, so there is no public copy."""

    __tablename__ = "patrol_visit_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("patrol_visits.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (Index("ix_patrol_visit_photos_visit_id", "visit_id"),)


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
