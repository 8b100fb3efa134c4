"""Reports themselves: the vocabularies, categories, incidents, their timeline events and
photos, and the public map's tile bins."""

from __future__ import annotations

from datetime import date, datetime
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
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID
from grid.models import _in_list
from incidents.channels import Channel
from incidents.publication.public_sql import PUBLIC_CLOSED_INDEX_WHERE, PUBLIC_OPEN_INDEX_WHERE
from incidents.status import WITH_WORKER, Status, sql_list

TIERS = ["red", "yellow", "blue"]
PRECISIONS = ["exact", "building", "cell"]
STATUSES = [s.value for s in Status]
CHANNELS = [c.value for c in Channel]
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


def point_geometry() -> Geometry:
    """A point in the storage CRS; the table that uses it declares its index."""
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
    location: Mapped[WKBElement] = mapped_column(point_geometry())
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
            postgresql_where=text(PUBLIC_OPEN_INDEX_WHERE),
        ),
        Index(
            "ix_incidents_public_point_closed",
            "public_point_3857",
            "closed_at",
            postgresql_using="gist",
            postgresql_where=text(PUBLIC_CLOSED_INDEX_WHERE),
        ),
        Index(
            "ix_incidents_assignee_open",
            "assignee_id",
            "resolve_due_at",
            postgresql_where=text(f"status IN {sql_list(WITH_WORKER)}"),
        ),
        Index("ix_incidents_cell_id", "cell_id"),
        # By region: ix_incidents_region_created (models/summaries.py) leads with region_id.
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
