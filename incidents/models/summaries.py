"""Counts kept by the database from the incidents, which Python only reads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


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
            "status",
            "fire_hazard",
            "created_on",
            "due_at",
            postgresql_include=["incidents"],
        ),
    )
