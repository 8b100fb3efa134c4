"""ORM models of the register: regions, grid cells, accounts, assignments, buildings."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
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
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from core.orm import Base, created_at_column
from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID
from grid.assets import ASSET_KINDS, ASSET_SOURCES, ASSET_STATUSES, CODE_PATTERN
from grid.roles import Role
from grid.sql_fragments import cell_in_force


def _in_list(column: str, values: list[str]) -> str:
    """SQL text for a CHECK that a column holds one of a fixed list (literals, not input)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


REGION_LEVELS = ["city", "district", "street", "community"]
BUILDING_USES = ["residential", "commercial", "office", "industrial", "public", "mixed", "other"]
ASSIGNMENT_KINDS = ["primary", "backup"]


def _multipolygon() -> Geometry:
    # Spatial indexes are declared explicitly in __table_args__ so that the
    # migration and the models name them the same way (see the drift test).
    return Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)


def _mercator_copy(column: str) -> Mapped[WKBElement | None]:
    """A Web-Mercator copy of a column kept by the database, so vector tiles are cut
    from an indexed column without transforming a row per request."""
    return mapped_column(
        Geometry("MULTIPOLYGON", srid=WEB_MERCATOR_SRID, spatial_index=False),
        Computed(f"ST_Transform({column}, {WEB_MERCATOR_SRID})", persisted=True),
    )


class Region(Base):
    """An administrative region: city > district > street (街道) > community (社区)."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # Materialised ancestry, e.g. "/1/4/17/": area checks become one prefix test.
    path: Mapped[str] = mapped_column(Text)
    boundary: Mapped[WKBElement] = mapped_column(_multipolygon())
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("level", REGION_LEVELS), name="level"),
        CheckConstraint("code ~ '^[0-9]{6}([0-9]{3}){0,2}$'", name="code_digits"),
        CheckConstraint("(level = 'city') = (parent_id IS NULL)", name="parent_unless_city"),
        Index("ix_regions_boundary", "boundary", postgresql_using="gist"),
        Index("ix_regions_parent_id", "parent_id"),
        Index("ix_regions_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )


VERSION_STATUSES = ["draft", "active", "retired"]


class BoundaryVersion(Base):
    """A set of grid cells loaded together: drafted or imported inactive, checked, then
    activated, replacing the active cells of the communities it covers."""

    __tablename__ = "boundary_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'draft'"))
    created_at: Mapped[datetime] = created_at_column()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(_in_list("status", VERSION_STATUSES), name="status"),)


class GridCell(Base):
    """A grid cell (网格) inside one community, with its 15-digit code. A cell belongs to
    one boundary version and is in force over [active_from, active_to)."""

    __tablename__ = "grid_cells"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(100))
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    boundary: Mapped[WKBElement] = mapped_column(_multipolygon())
    boundary_3857: Mapped[WKBElement | None] = _mercator_copy("boundary")
    active_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_digits"),
        CheckConstraint(
            "active_to IS NULL OR (active_from IS NOT NULL AND active_to >= active_from)",
            name="active_range",
        ),
        UniqueConstraint("version_id", "code", name="uq_grid_cells_version_code"),
        # One cell in force per code; drafts and retired cells may repeat it.
        Index(
            "uq_grid_cells_active_code",
            "code",
            unique=True,
            postgresql_where=text(cell_in_force("")),
        ),
        Index("ix_grid_cells_boundary", "boundary", postgresql_using="gist"),
        Index("ix_grid_cells_boundary_3857", "boundary_3857", postgresql_using="gist"),
        Index("ix_grid_cells_community_id", "community_id"),
        Index("ix_grid_cells_version_id", "version_id"),
    )

    @classmethod
    def in_force(cls) -> ColumnElement[bool]:
        """SQL: the cell is active now (activated and not retired)."""
        return cls.active_from.is_not(None) & cls.active_to.is_(None)


class User(Base):
    """An account: a resident, or staff bound to a region (grid workers also to cells)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("role", [r.value for r in Role]), name="role"),
        CheckConstraint("username = lower(username) AND length(username) >= 3", name="username"),
        CheckConstraint(
            _in_list("role", [Role.RESIDENT.value, Role.ADMIN.value]) + " OR region_id IS NOT NULL",
            name="staff_has_region",
        ),
        Index("ix_users_region_id", "region_id"),
    )


class GridCellPart(Base):
    """A piece of an in-force cell's boundary (ST_Subdivide), kept by a trigger, for
    point lookups that stay fast on large or jagged cells."""

    __tablename__ = "grid_cell_parts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(15))
    part: Mapped[WKBElement] = mapped_column(
        Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=False)
    )

    __table_args__ = (
        Index("ix_grid_cell_parts_part", "part", postgresql_using="gist"),
        Index("ix_grid_cell_parts_cell_id", "cell_id"),
    )


class CellAssignment(Base):
    """A grid worker responsible for a cell over [valid_from, valid_to)."""

    __tablename__ = "cell_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("kind", ASSIGNMENT_KINDS), name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_range"),
        # At most one primary worker per cell on any day (needs btree_gist).
        ExcludeConstraint(
            ("cell_id", "="),
            (text("daterange(valid_from, valid_to)"), "&&"),
            where=text("kind = 'primary'"),
            using="gist",
            name="excl_cell_assignments_one_primary",
        ),
        Index("ix_cell_assignments_cell_id", "cell_id"),
        Index("ix_cell_assignments_user_id", "user_id"),
    )


class Building(Base):
    """A building footprint with its address, use and floors, linked to one cell."""

    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(Text)
    use: Mapped[str] = mapped_column(String(16))
    floors: Mapped[int] = mapped_column(SmallInteger)
    # Older buildings carry more fire risk (wiring, exits); unknown for many imports.
    built_year: Mapped[int | None] = mapped_column(SmallInteger)
    footprint: Mapped[WKBElement] = mapped_column(_multipolygon())
    footprint_3857: Mapped[WKBElement | None] = _mercator_copy("footprint")
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(_in_list("use", BUILDING_USES), name="use"),
        CheckConstraint("floors BETWEEN 1 AND 200", name="floors"),
        CheckConstraint(
            "built_year IS NULL OR built_year BETWEEN 1800 AND 2100", name="built_year"
        ),
        Index("ix_buildings_footprint", "footprint", postgresql_using="gist"),
        Index("ix_buildings_footprint_3857", "footprint_3857", postgresql_using="gist"),
        # INCLUDE id: the coverage map counts a cell's buildings from the index alone.
        Index("ix_buildings_cell_id", "cell_id", postgresql_include=["id"]),
        # Trigram index: fuzzy address search in Chinese (pg_trgm, C.UTF-8 ctype).
        Index(
            "ix_buildings_address_trgm",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
    )


class CityAsset(Base):
    """A city asset (城市部件): a hydrant, extinguisher cabinet, e-bike charging point,
    manhole cover or street light, with its standard 16-digit code (grid/assets.py), at a
    point, linked to the cell covering it. Public objects: no personal data."""

    __tablename__ = "city_assets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'in_service'"))
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id", ondelete="SET NULL"))
    location: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False)
    )
    location_3857: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=WEB_MERCATOR_SRID, spatial_index=False),
        Computed(f"ST_Transform(location, {WEB_MERCATOR_SRID})", persisted=True),
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"code ~ '{CODE_PATTERN}'", name="code_digits"),
        CheckConstraint(_in_list("kind", list(ASSET_KINDS)), name="kind"),
        CheckConstraint(_in_list("status", ASSET_STATUSES), name="status"),
        CheckConstraint(_in_list("source", ASSET_SOURCES), name="source"),
        UniqueConstraint("source", "external_id", name="uq_city_assets_source_external_id"),
        Index("ix_city_assets_location", "location", postgresql_using="gist"),
        Index("ix_city_assets_location_3857", "location_3857", postgresql_using="gist"),
        Index("ix_city_assets_cell_id", "cell_id"),
    )
