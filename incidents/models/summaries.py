"""What the coverage map's region levels read: counts kept by the database from the
incidents (Python only reads them), and an index on the incidents beside them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base
from incidents.models.reports import Incident


class IncidentDayCount(Base):
    """How many incidents one region holds per status, fire-hazard kind, China day of
    report and, while open, resolve deadline ('infinity' once finished): what the coverage
    map's region levels sum. Kept by statement triggers on incidents (migration 0026)."""

    __tablename__ = "incident_day_counts"

    # The report's region (its cell's community, or the queue that took it); 0: none.
    region_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    fire_hazard: Mapped[bool] = mapped_column(Boolean)
    created_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    incidents: Mapped[int] = mapped_column(Integer)

    # No CHECK (incidents >= 0): an upsert's negative delta is checked as a new row first.
    __table_args__ = (
        PrimaryKeyConstraint(
            "region_id",
            "fire_hazard",
            "created_on",
            "status",
            "due_at",
            postgresql_include=["incidents"],
        ),
        Index(
            "ix_incident_day_counts_status",
            "region_id",
            "status",
            postgresql_include=["due_at", "incidents"],
        ),
    )


class IncidentRatingDayCount(Base):
    """How many valid handling ratings (and satisfied ones, overall 4-5) the reports of one
    region and China day of report have: what the coverage map's region levels sum. Kept
    by triggers on ratings and incidents (migration 0028)."""

    __tablename__ = "incident_rating_day_counts"

    # The rated report's region; 0: none.
    region_id: Mapped[int] = mapped_column(Integer)
    created_on: Mapped[date] = mapped_column(Date)
    ratings: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        PrimaryKeyConstraint(
            "region_id", "created_on", postgresql_include=["ratings", "satisfied"]
        ),
    )


# What the coverage map's region levels read row by row beside the counts (migration
# 0027): the reports of the recent windows by region and time, with the columns the
# median response time and the ratings read, so the read needs no heap page per report.
Index(
    "ix_incidents_region_created",
    Incident.region_id,
    Incident.created_at,
    postgresql_include=["status", "accepted_at", "id"],
)
