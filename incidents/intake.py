"""Report intake: validate, convert the location, route, and write the report, its first
events, photos and notification in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.coords import CoordSystem, parse_location, to_wgs84
from gis.errors import InvalidInput, NotFound, PermissionDenied
from grid.access import Principal
from grid.roles import STAFF_ROLES
from incidents.categories import check_answers
from incidents.models import IncidentPhoto
from incidents.photos import Photo
from incidents.routing import Route, route_point
from incidents.tracking import new_secret, new_tracking_number, secret_hash
from incidents.workdays import SeverityTier, WorkCalendar, deadline

MAX_DESCRIPTION = 2000
OPEN_STATUSES = ("submitted", "assigned", "accepted", "in_progress", "reopened", "transferred")
# Channels through which staff file a report for someone else (a caller, a walk-in).
STAFF_CHANNELS = {"hotline", "patrol"}
EMERGENCY_INSTRUCTION = {
    "zh-Hans": "火情紧急！请立即拨打 119 火警电话，并迅速撤离到安全地带。",
    "en": "This is an emergency: call 119 (fire) now and get to a safe place.",
}


class ReportIn(BaseModel):
    """A hazard report as a client sends it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    category: str = Field(pattern=r"^[a-z]+\.[a-z_]+$", max_length=64)
    lon: float | None = Field(None, description="longitude in coord_system")
    lat: float | None = Field(None, description="latitude in coord_system")
    coord_system: CoordSystem = CoordSystem.WGS84
    building_id: int | None = Field(None, ge=1, description="a building from address search")
    address: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    answers: dict[str, Any] = Field(default_factory=dict, max_length=20)
    channel: Literal["web", "app", "hotline", "patrol", "terminal", "wechat"] = "web"
    contact_name: str | None = Field(None, max_length=50)
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")

    @field_validator("address", "description", "contact_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # NUL and other control characters cannot be stored as text (and have no place in
        # a report); line breaks and tabs can.
        if value is not None and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            raise ValueError("contains control characters")
        return value



@dataclass(frozen=True)
class Category:
    """What intake needs to know about a category."""

    code: str
    tier: str
    questions: list[dict[str, Any]]
    duplicate_radius_m: int
    is_emergency: bool


@dataclass
class Submission:
    """The answer to a reporter: what they need to follow and rate the report, and
    likely duplicates nearby; never the worker's personal data."""

    tracking_number: str
    secret: str
    status: str
    category: str
    cell_code: str | None
    routing_rule: str
    accept_due_at: str | None
    resolve_due_at: str | None
    likely_duplicates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class IntakeContext:
    """Configuration intake works with."""

    calendar: WorkCalendar
    tiers: dict[str, SeverityTier]
    secret_key: str
    tolerance_m: float


async def load_category(session: AsyncSession, code: str) -> Category:
    """An active category, or a 422 naming the field."""
    row = (await session.execute(text("""
        SELECT code, tier, questions, duplicate_radius_m, is_emergency
        FROM incident_categories WHERE code = :code AND active
    """), {"code": code})).first()
    if row is None:
        raise InvalidInput(f"no category {code!r}", f"没有类别 {code}", field="category")
    return Category(*row)


async def record_emergency(
    session: AsyncSession, category: Category, data: ReportIn, lonlat: tuple[float, float] | None
) -> dict[str, Any]:
    """A fire burning now: recorded as an emergency referral; the answer says call 119."""
    referral_id = (await session.execute(text("""
        INSERT INTO emergency_referrals (category_code, location, description, channel)
        VALUES (:c, CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                    ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :d, :ch)
        RETURNING id
    """), {"c": category.code, "lon": lonlat and lonlat[0], "lat": lonlat and lonlat[1],
           "d": data.description, "ch": data.channel})).scalar_one()
    return {"emergency": True, "call": "119", "referral_id": referral_id,
            "instruction": EMERGENCY_INSTRUCTION}


async def _building_point(session: AsyncSession, building_id: int) -> tuple[float, float]:
    row = (await session.execute(text("""
        SELECT ST_X(p), ST_Y(p) FROM buildings, ST_PointOnSurface(footprint) AS p
        WHERE id = :id
    """), {"id": building_id})).first()
    if row is None:
        raise InvalidInput(f"no building {building_id}", f"没有楼栋 {building_id}",
                           field="building_id")
    return row[0], row[1]


async def _location(session: AsyncSession, data: ReportIn) -> tuple[float, float]:
    """The report's WGS84 point: the given coordinates converted, else the building's."""
    if (data.lon is None) != (data.lat is None):
        missing = "lat" if data.lat is None else "lon"
        raise InvalidInput(f"{missing} is required with the other coordinate",
                           "经纬度需同时提供", field=missing)
    if data.lon is None or data.lat is None:
        if data.building_id is None:
            raise InvalidInput("give a location (lon and lat) or a building_id",
                               "请提供位置（经纬度）或选择楼栋", field="lon")
        return await _building_point(session, data.building_id)
    lon, lat = parse_location(data.lon, data.lat, data.coord_system)
    return to_wgs84(lon, lat, data.coord_system)


def _check_channel(data: ReportIn, reporter: Principal | None) -> None:
    if data.channel in STAFF_CHANNELS and (reporter is None or reporter.role not in STAFF_ROLES):
        raise PermissionDenied(f"only staff report through the {data.channel} channel",
                               "只有工作人员可使用该渠道上报", field="channel")


async def likely_duplicates(
    session: AsyncSession, category: Category, lon: float, lat: float, limit: int = 5
) -> list[dict[str, Any]]:
    """Open reports of the same category within the category's duplicate radius."""
    if category.duplicate_radius_m <= 0:
        return []
    rows = await session.execute(text("""
        SELECT tracking_number, status, round(ST_Distance(location::geography, pt::geography))
        FROM incidents, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt
        WHERE category_code = :c AND status = ANY(:open)
          AND ST_DWithin(location::geography, pt::geography, :r)
        ORDER BY 3, created_at LIMIT :limit
    """), {"lon": lon, "lat": lat, "c": category.code, "open": list(OPEN_STATUSES),
           "r": category.duplicate_radius_m, "limit": limit})
    return [{"tracking_number": t, "status": s, "distance_m": float(d)} for t, s, d in rows]


# Every write of a new report in one round trip: the incident, its 'created' event (and
# 'assignment' when routing found someone), and the notification in the outbox. Queue
# notifications go to the managers of the queue's region.
_INSERT = text("""
WITH region AS (
    SELECT id FROM regions WHERE code = :region_code
), incident AS (
    INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
        input_lon, input_lat, input_system, address, building_id, cell_id, region_id,
        assignee_id, routing_rule, responsible_level, description, answers, channel,
        reporter_id, reporter_name, reporter_phone, accept_due_at, resolve_due_at,
        created_at, updated_at)
    VALUES (:tracking_number, :secret_hash, :category, :status,
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :input_lon, :input_lat, :input_system,
        :address, :building_id, :cell_id, (SELECT id FROM region), :assignee_id, :rule,
        :level, :description, CAST(:answers AS jsonb), :channel, :reporter_id,
        :reporter_name, :reporter_phone, :accept_due_at, :resolve_due_at, :now, :now)
    RETURNING id
), created AS (
    INSERT INTO incident_events (incident_id, kind, actor_id, actor_role, to_status, data, at)
    SELECT id, 'created', :reporter_id, :actor_role, 'submitted',
           jsonb_build_object('channel', :channel), :now FROM incident
    RETURNING id
), assigned AS (
    INSERT INTO incident_events (incident_id, kind, actor_role, from_status, to_status,
                                 data, at)
    SELECT incident.id, 'assignment', 'system', 'submitted', 'assigned',
           jsonb_build_object('rule', :rule, 'level', :level), :now
    -- Reading `created` makes that insert run first, so event ids follow the timeline.
    FROM incident, created WHERE CAST(:assignee_id AS integer) IS NOT NULL
), notified AS (
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    SELECT CASE WHEN CAST(:assignee_id AS integer) IS NULL THEN 'incident.queued'
                ELSE 'incident.assigned' END,
           incident.id,
           CASE WHEN CAST(:assignee_id AS integer) IS NOT NULL
                THEN ARRAY[CAST(:assignee_id AS integer)]
                ELSE ARRAY(SELECT u.id FROM users u JOIN region ON u.region_id = region.id
                           WHERE u.is_active AND u.role IN
                             ('community_manager', 'street_manager', 'district_manager'))
           END,
           jsonb_build_object('tracking_number', :tracking_number, 'category', :category,
                              'resolve_due_at', CAST(:resolve_due_at_text AS text)),
           :now
    FROM incident
)
SELECT id FROM incident
""")


def _deadlines(ctx: IntakeContext, tier: str, now: datetime) -> tuple[datetime, datetime]:
    rules = ctx.tiers[tier]
    return (deadline(now, rules.accept, ctx.calendar),
            deadline(now, rules.resolve, ctx.calendar))


async def submit_report(
    session: AsyncSession, ctx: IntakeContext, data: ReportIn, photos: list[Photo],
    reporter: Principal | None, now: datetime,
) -> Submission | dict[str, Any]:
    """Validate, route and store a report inside the caller's transaction (the caller
    commits); an emergency category gets the call-119 answer instead."""
    _check_channel(data, reporter)
    category = await load_category(session, data.category)
    if category.is_emergency:
        # Never hold up an emergency over a bad pin: record it with whatever place we have.
        try:
            lonlat = await _location(session, data)
        except InvalidInput:
            lonlat = None
        return await record_emergency(session, category, data, lonlat)
    answers = check_answers(category.questions, data.answers)
    lon, lat = await _location(session, data)
    route: Route = await route_point(session, lon, lat, now.date(), ctx.tolerance_m)
    accept_due, resolve_due = _deadlines(ctx, category.tier, now)
    duplicates = await likely_duplicates(session, category, lon, lat)
    tracking_number, secret = new_tracking_number(now), new_secret()
    status = "assigned" if route.assignee_id is not None else "submitted"
    incident_id = (await session.execute(_INSERT, {
        "tracking_number": tracking_number, "secret_hash": secret_hash(secret, ctx.secret_key),
        "category": category.code, "status": status, "lon": lon, "lat": lat,
        "input_lon": data.lon if data.lon is not None else lon,
        "input_lat": data.lat if data.lat is not None else lat,
        "input_system": data.coord_system.value if data.lon is not None else "wgs84",
        "address": data.address, "building_id": data.building_id, "cell_id": route.cell_id,
        "region_code": route.region_code, "assignee_id": route.assignee_id,
        "rule": route.rule, "level": route.level, "description": data.description,
        "answers": json.dumps(answers, ensure_ascii=False), "channel": data.channel,
        "reporter_id": reporter and reporter.id,
        "actor_role": reporter.role.value if reporter else "reporter",
        "reporter_name": data.contact_name, "reporter_phone": data.contact_phone,
        "accept_due_at": accept_due, "resolve_due_at": resolve_due,
        "resolve_due_at_text": resolve_due.isoformat(), "now": now,
    })).scalar_one()
    if photos:
        session.add_all(_photo_rows(incident_id, photos))
        await session.flush()
    return Submission(
        tracking_number, secret, status, category.code, route.cell_code, route.rule,
        accept_due.isoformat(), resolve_due.isoformat(), duplicates,
    )


def _photo_rows(incident_id: int, photos: list[Photo]) -> list[IncidentPhoto]:
    return [
        IncidentPhoto(incident_id=incident_id, sha256=p.sha256, media_type=p.media_type,
                      width=p.width, height=p.height, original=p.original,
                      public_copy=p.public, thumbnail=p.thumbnail, taken_at=p.taken_at)
        for p in photos
    ]


async def find_incident_id(session: AsyncSession, tracking_number: str) -> int:
    """The id behind a tracking number, or 404."""
    found = (await session.execute(text(
        "SELECT id FROM incidents WHERE tracking_number = :t"), {"t": tracking_number})).scalar()
    if found is None:
        raise NotFound(f"no report {tracking_number}", f"未找到编号为 {tracking_number} 的上报")
    return found
