"""ORM models of the people register: houses, households, people and their moves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, created_at_column
from grid.models import _in_list

VULNERABILITY_TAGS = ["elderly_alone", "disability", "bedridden", "child", "chronic_illness"]
# For request validation: a query parameter naming one of the tags.
VulnerabilityTag = Literal[tuple(VULNERABILITY_TAGS)]  # type: ignore[valid-type]
HOUSEHOLD_KINDS = ["registered", "migrant"]
GENDERS = ["male", "female", "unknown"]


class House(Base):
    """A dwelling unit (房) in a building: floor, unit number, area, rental flag."""

    __tablename__ = "houses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    floor: Mapped[int] = mapped_column(SmallInteger)
    unit_number: Mapped[str] = mapped_column(String(32))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    is_rental: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    landlord_name: Mapped[str | None] = mapped_column(String(100))
    landlord_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("floor BETWEEN -10 AND 200", name="floor"),
        CheckConstraint("area_m2 IS NULL OR area_m2 > 0", name="area_positive"),
        # A unit number names one dwelling within its building (re-imports match on it).
        UniqueConstraint("building_id", "unit_number"),
    )


class Household(Base):
    """A household (户) living in a house: registered (户籍) or migrant (流动)."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("kind", HOUSEHOLD_KINDS), name="kind"),
        Index("ix_households_house_id", "house_id"),
    )


class Person(Base):
    """A person (人) in a household. The ID number is kept only as a keyed hash plus its
    last four characters, so it can be matched but never read back."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL")
    )
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(8), server_default=text("'unknown'"))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_last4: Mapped[str | None] = mapped_column(String(4))
    vulnerability_tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("gender", GENDERS), name="gender"),
        CheckConstraint(
            "vulnerability_tags <@ ARRAY["
            + ", ".join(f"'{t}'" for t in VULNERABILITY_TAGS)
            + "]::varchar[]",
            name="vulnerability_tags",
        ),
        Index("ix_people_household_id", "household_id"),
        Index("ix_people_vulnerability_tags", "vulnerability_tags", postgresql_using="gin"),
        Index(
            "ix_people_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )


class Residence(Base):
    """A move-in / move-out record: who lived in which household's house, and when."""

    __tablename__ = "residences"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    moved_in: Mapped[date] = mapped_column(Date)
    moved_out: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("moved_out IS NULL OR moved_out >= moved_in", name="dates"),
        Index("ix_residences_person_id", "person_id"),
        Index("ix_residences_household_id", "household_id"),
    )
