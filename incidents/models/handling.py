"""What handling records beside the incident: check-ins, extension requests, patrol
visits and their photos."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from incidents.models.reports import point_geometry


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


class CheckIn(Base):
    """A worker's on-site check-in at an incident: where they were and how far away."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    location: Mapped[WKBElement] = mapped_column(point_geometry())
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
    location: Mapped[WKBElement | None] = mapped_column(point_geometry())
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
