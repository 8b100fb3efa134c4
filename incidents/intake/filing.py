"""Report intake: validate, convert the location, route, and write the report, its first
events, photos and notification in one transaction."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local_date
from core.errors import InvalidInput, PermissionDenied
from core.raw_sql import OnConnection, OnSession, Statements
from gis.coords import parse_location, to_wgs84
from grid.access import Principal
from grid.assets import NEARBY_RADIUS_M, parse_asset_code
from grid.place import BUILDING_NEAR_M, building_params, nearest_building_sql
from grid.roles import STAFF_ROLES
from incidents.asset_categories import asset_kinds_for
from incidents.categories import check_answers, check_min_content
from incidents.channels import STAFF_CHANNELS
from incidents.handling.workdays import SeverityTier, WorkCalendar, deadline
from incidents.intake.duplicates import NEARBY_SQL, as_duplicate, nearby_params
from incidents.intake.evidence import photo_rows
from incidents.intake.photos import Photo
from incidents.intake.routing import outside_service_area, route_params, route_sql
from incidents.intake.schemas import ReportIn, Submission, WrittenRows
from incidents.intake.tracking import new_secret, new_tracking_number, secret_hash
from incidents.status import Status, sql_value
from incidents.timeline import event_rows, manager_params, managers_of, notification_rows

# A report filed by pin alone takes the address of the nearest building within this many
# metres (a pin on the pavement outside still names the building; one in a park none):
# the address the report page confirmed (grid/place.py).
ADDRESS_RADIUS_M = BUILDING_NEAR_M
# A report naming a city asset must be this close to it (the picker offers this radius).
ASSET_RADIUS_M = NEARBY_RADIUS_M
# Categories change only when `gridgov db upgrade` syncs them; a process reads them again
# after this many seconds rather than once per report.
CATEGORY_TTL_S = 60.0
EMERGENCY_INSTRUCTION = {
    "zh-Hans": "火情紧急！请立即拨打 119 火警电话，并迅速撤离到安全地带。",
    "en": "This is an emergency: call 119 (fire) now and get to a safe place.",
}


@dataclass(frozen=True)
class IntakeCategory:
    """What intake needs to know about a category."""

    code: str
    tier: str
    questions: list[dict[str, Any]]
    duplicate_radius_m: int
    is_emergency: bool


@dataclass(frozen=True)
class RetryKey:
    """A client's Idempotency-Key: the answer to the submission is stored under (scope,
    key) with the request's fingerprint, in the statement that stores the submission."""

    scope: str
    key: str
    fingerprint: str


class RetryKeyTaken(Exception):
    """The key already holds an answer (or a racing request with it just committed one):
    roll this submission back and replay that answer."""


def _retry_params(retry: RetryKey | None, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "retry_key": retry and retry.key,
        "retry_scope": retry and retry.scope,
        "retry_hash": retry and retry.fingerprint,
        "answer": json.dumps(answer, ensure_ascii=False),
    }


_ACTIVE_CATEGORIES = text("""
    SELECT code, tier, questions, duplicate_radius_m, is_emergency
    FROM incident_categories WHERE active
""")


@dataclass
class CategoryCache:
    """The active categories, read once every CATEGORY_TTL_S seconds per process."""

    ttl_s: float = CATEGORY_TTL_S
    _by_code: dict[str, IntakeCategory] = field(default_factory=dict)
    _expires: float = -math.inf

    async def get(self, session: AsyncSession | Statements, code: str) -> IntakeCategory:
        """An active category, or a 422 naming the field."""
        if time.monotonic() >= self._expires:
            run = OnSession(session) if isinstance(session, AsyncSession) else session
            rows = await run.all(_ACTIVE_CATEGORIES, {})
            self._by_code = {
                row["code"]: IntakeCategory(
                    row["code"],
                    row["tier"],
                    row["questions"],
                    row["duplicate_radius_m"],
                    row["is_emergency"],
                )
                for row in rows
            }
            self._expires = time.monotonic() + self.ttl_s
        category = self._by_code.get(code)
        if category is None:
            raise InvalidInput(f"no category {code!r}", f"没有类别 {code}", field="category")
        return category


@dataclass(frozen=True)
class IntakeContext:
    """Configuration intake works with."""

    calendar: WorkCalendar
    tiers: dict[str, SeverityTier]
    secret_key: str
    tolerance_m: float
    categories: CategoryCache = field(default_factory=CategoryCache)


# The referral and, with an Idempotency-Key, its answer (see _WRITE's `remembered`).
_EMERGENCY = text("""
WITH referral AS (
    INSERT INTO emergency_referrals (category_code, location, description, channel)
    VALUES (:c, CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :d, :ch)
    RETURNING id
), remembered AS (
    INSERT INTO idempotency_records (key, scope, request_hash, status_code, response)
    SELECT CAST(:retry_key AS varchar), :retry_scope, :retry_hash, 200,
           CAST(:answer AS jsonb) || jsonb_build_object('referral_id', referral.id)
    FROM referral
    WHERE CAST(:retry_key AS varchar) IS NOT NULL
    ON CONFLICT (key, scope) DO NOTHING
    RETURNING true
)
SELECT referral.id, EXISTS (SELECT FROM remembered) AS remembered FROM referral
""")


async def record_emergency(
    run: Statements,
    category: IntakeCategory,
    data: ReportIn,
    lonlat: tuple[float, float] | None,
    retry: RetryKey | None = None,
) -> dict[str, Any]:
    """A fire burning now: recorded as an emergency referral; the answer says call 119."""
    answer: dict[str, Any] = {
        "emergency": True,
        "call": "119",
        "instruction": EMERGENCY_INSTRUCTION,
    }
    row = await run.first(
        _EMERGENCY,
        {
            "c": category.code,
            "lon": lonlat and lonlat[0],
            "lat": lonlat and lonlat[1],
            "d": data.description,
            "ch": data.channel,
            **_retry_params(retry, answer),
        },
    )
    assert row is not None  # the statement always inserts the referral
    if retry is not None and not row["remembered"]:
        raise RetryKeyTaken()
    return {
        "emergency": True,
        "call": "119",
        "referral_id": row["id"],
        "instruction": EMERGENCY_INSTRUCTION,
    }


_BUILDING_POINT = text("""
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM buildings, ST_PointOnSurface(footprint) AS p
    WHERE id = :id
""")


async def _building_point(run: Statements, building_id: int) -> tuple[float, float]:
    row = await run.first(_BUILDING_POINT, {"id": building_id})
    if row is None:
        raise InvalidInput(
            f"no building {building_id}", f"没有楼栋 {building_id}", field="building_id"
        )
    return row["lon"], row["lat"]


async def _location(run: Statements, data: ReportIn) -> tuple[float, float]:
    """The report's WGS84 point: the given coordinates converted, else the building's."""
    if (data.lon is None) != (data.lat is None):
        missing = "lat" if data.lat is None else "lon"
        raise InvalidInput(
            f"{missing} is required with the other coordinate", "经纬度需同时提供", field=missing
        )
    if data.lon is None or data.lat is None:
        if data.building_id is None:
            raise InvalidInput(
                "give a location (lon and lat) or a building_id",
                "请提供位置（经纬度）或选择楼栋",
                field="lon",
            )
        return await _building_point(run, data.building_id)
    lon, lat = parse_location(data.lon, data.lat, data.coord_system)
    return to_wgs84(lon, lat, data.coord_system)


def _check_channel(data: ReportIn, reporter: Principal | None) -> None:
    if data.channel in STAFF_CHANNELS and (reporter is None or reporter.role not in STAFF_ROLES):
        raise PermissionDenied(
            f"only staff report through the {data.channel} channel",
            "只有工作人员可使用该渠道上报",
            field="channel",
        )


# The report's first timeline events (public: the reporter sees them) and its notification,
# written by the intake statement below; each returns the id it wrote.
_CREATED = event_rows(
    "created",
    rows="FROM incident",
    incident_id="id",
    actor_id=":reporter_id",
    actor_role=":actor_role",
    public=True,
    to_status=Status.SUBMITTED,
    data="jsonb_build_object('channel', :channel)",
    returning=True,
)
_ASSIGNED = event_rows(
    "assignment",
    # Reading `created` makes that insert run first, so event ids follow the timeline.
    rows="FROM incident, created WHERE incident.assignee_id IS NOT NULL",
    incident_id="incident.id",
    public=True,
    from_status=Status.SUBMITTED,
    to_status=Status.ASSIGNED,
    data="""jsonb_build_object('rule', incident.routing_rule,
                               'level', incident.responsible_level)""",
    returning=True,
)
# The assignee, or (a queued report) the managers of the report's region.
_NOTIFIED = notification_rows(
    topic_sql="""CASE WHEN incident.assignee_id IS NULL THEN 'incident.queued'
                      ELSE 'incident.assigned' END""",
    rows="FROM incident",
    incident_id="incident.id",
    recipients=f"""CASE WHEN incident.assignee_id IS NOT NULL THEN ARRAY[incident.assignee_id]
                        ELSE ARRAY({managers_of("incident.region_id")}) END""",
    payload="""jsonb_build_object('tracking_number', :tracking_number, 'category', :category,
                                  'resolve_due_at', CAST(:resolve_due_at_text AS text))""",
    returning=True,
)

# Whether the report may be written: inside the service area and, naming an asset, one
# that fits. Otherwise nothing is written (submit_report refuses the point or the asset).
_ACCEPTED = """route.in_service_area
      AND (CAST(:asset_code AS text) IS NULL OR EXISTS (SELECT FROM chosen_asset))"""
_FIRST_STATUS = f"""CASE WHEN route.assignee_id IS NULL THEN {sql_value(Status.SUBMITTED)}
             ELSE {sql_value(Status.ASSIGNED)} END"""

# A new report in one round trip, atomic on its own (no BEGIN/COMMIT needed): its route
# (incidents.intake.routing), the likely duplicates (read before the insert: the
# statement's snapshot does not hold the new report), with an Idempotency-Key the answer
# to the reporter, the incident, its 'created' event (and 'assignment' when routing found
# someone) and the notification in the outbox (queue notifications go to the managers of
# the queue's region); it returns the ids of the rows it wrote.
_WRITE = f"""
remembered AS (
    -- The answer as submit_report builds it (:answer holds the parts known beforehand),
    -- stored first: on a conflict the insert waits for the transaction holding the key
    -- and stores nothing when that one commits, and then the report is not written
    -- either (RetryKeyTaken), so a retry never files a second report, even committed
    -- statement by statement.
    INSERT INTO idempotency_records (key, scope, request_hash, status_code, response)
    SELECT CAST(:retry_key AS varchar), :retry_scope, :retry_hash, 201,
           CAST(:answer AS jsonb) || jsonb_build_object(
               'status', {_FIRST_STATUS}, 'cell_code', route.cell_code,
               'routing_rule', route.rule,
               'likely_duplicates', COALESCE((
                   SELECT jsonb_agg(jsonb_build_object(
                              'tracking_number', tracking_number, 'status', status)
                          ORDER BY distance_m, created_at)
                   FROM nearby), '[]'))
    FROM route
    WHERE CAST(:retry_key AS varchar) IS NOT NULL AND {_ACCEPTED}
    ON CONFLICT (key, scope) DO NOTHING
    RETURNING true
), incident AS (
    INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
        input_lon, input_lat, input_system, address, building_id, cell_id, region_id,
        assignee_id, routing_rule, responsible_level, description, answers, channel,
        reporter_id, reporter_name, reporter_phone, accept_due_at, resolve_due_at,
        created_at, updated_at, asset_id)
    SELECT :tracking_number, :secret_hash, :category, {_FIRST_STATUS},
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :input_lon, :input_lat, :input_system,
        COALESCE(CAST(:address AS text), nearest_address.address), :building_id, route.cell_id,
        (SELECT id FROM regions WHERE code = route.region_code), route.assignee_id,
        route.rule, route.level, :description, CAST(:answers AS jsonb), :channel,
        :reporter_id, :reporter_name, :reporter_phone, :accept_due_at, :resolve_due_at,
        :now, :now, (SELECT id FROM chosen_asset)
    FROM route LEFT JOIN nearest_address ON true
    WHERE {_ACCEPTED}
      AND (CAST(:retry_key AS varchar) IS NULL OR EXISTS (SELECT FROM remembered))
    RETURNING id, status, region_id, assignee_id, routing_rule, responsible_level
), created AS (
{_CREATED}
), assigned AS (
{_ASSIGNED}
), notified AS (
{_NOTIFIED}
)
SELECT incident.id, incident.status, incident.routing_rule AS rule, route.cell_code,
       {_ACCEPTED} AS accepted,
       -- The ids of what was written, for the caller (WrittenRows): never a currval.
       ARRAY(SELECT id FROM created UNION ALL SELECT id FROM assigned ORDER BY id)
           AS event_ids,
       (SELECT id FROM notified) AS outbox_id,
       EXISTS (SELECT FROM remembered) AS remembered,
       ARRAY(SELECT tracking_number FROM nearby ORDER BY distance_m, created_at)
           AS duplicate_numbers,
       ARRAY(SELECT status FROM nearby ORDER BY distance_m, created_at)
           AS duplicate_statuses
FROM route LEFT JOIN incident ON true
"""


# The address of a report filed without one: the chosen building's, else the pin's
# ({nearest_building}: grid/place.py nearest_building_sql, the address the report page
# confirmed).
_NEAREST_ADDRESS = """
    SELECT address FROM (
        SELECT b.address, 0 AS rank FROM buildings b WHERE b.id = :building_id
        UNION ALL
        SELECT nearest.address, 1 FROM (
            {nearest_building}
        ) nearest
    ) found
    WHERE CAST(:address AS text) IS NULL
    ORDER BY rank
    LIMIT 1
"""


# The asset a report names: that code, of a kind the category concerns, not removed, and
# within :asset_m metres of the pin (on the spheroid; the unique code finds the row).
_CHOSEN_ASSET = """
    SELECT a.id FROM city_assets a
    WHERE a.code = CAST(:asset_code AS text) AND a.kind = ANY(CAST(:asset_kinds AS text[]))
      AND a.status <> 'removed'
      AND ST_DWithin(a.location::geography,
                     ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :asset_m)
"""


_ASSET_FITS = text(_CHOSEN_ASSET)


@lru_cache
def _intake_statement() -> TextClause:
    # Fixed text only, every value bound: the routing and the duplicate check keep their
    # one home each and run inside the write, as does the pin's address (grid/place.py).
    address = _NEAREST_ADDRESS.replace("{nearest_building}", nearest_building_sql())
    return text(
        f"WITH route AS MATERIALIZED (\n{route_sql()}\n), "
        f"nearby AS MATERIALIZED (\n{NEARBY_SQL}\n), "
        f"nearest_address AS MATERIALIZED (\n{address}\n), "
        f"chosen_asset AS MATERIALIZED (\n{_CHOSEN_ASSET}\n), {_WRITE}"
    )


def _asset_kinds(data: ReportIn, category: IntakeCategory) -> list[str]:
    """The kinds of asset this report may name; 422 naming asset_code for a bad code or
    a category that concerns no asset."""
    if data.asset_code is None:
        return []
    parse_asset_code(data.asset_code, field="asset_code")
    kinds = list(asset_kinds_for(category.code))
    if not kinds:
        raise InvalidInput(
            f"category {category.code} concerns no city asset; leave asset_code out",
            "该类别不涉及城市部件，请勿填写部件编码",
            field="asset_code",
        )
    return kinds


async def _asset_fits(
    run: Statements, data: ReportIn, kinds: list[str], lon: float, lat: float
) -> bool:
    """Whether the named asset fits (the failure path only: tells the two refusals apart)."""
    return (
        await run.first(
            _ASSET_FITS,
            {
                "asset_code": data.asset_code,
                "asset_kinds": kinds,
                "lon": lon,
                "lat": lat,
                "asset_m": ASSET_RADIUS_M,
            },
        )
        is not None
    )


def _deadlines(ctx: IntakeContext, tier: str, now: datetime) -> tuple[datetime, datetime]:
    rules = ctx.tiers[tier]
    return (deadline(now, rules.accept, ctx.calendar), deadline(now, rules.resolve, ctx.calendar))


async def submit_report(
    session: AsyncSession,
    ctx: IntakeContext,
    data: ReportIn,
    photos: list[Photo],
    reporter: Principal | None,
    now: datetime,
    retry: RetryKey | None = None,
    *,
    photo_link: bool = False,
) -> Submission | dict[str, Any]:
    """Validate, route and store a report inside the caller's transaction (the caller
    commits); an emergency category gets the call-119 answer instead. With `retry` the
    answer is stored under its key; RetryKeyTaken when the key holds one already.
    `photo_link`: the report links a photo elsewhere (Open311 media_url)."""
    result = await _file(
        OnSession(session), ctx, data, len(photos), reporter, now, retry, photo_link=photo_link
    )
    if photos and isinstance(result, Submission):
        session.add_all(photo_rows(result.rows.incident_id, photos))
        await session.flush()
    return result


async def file_report_at_once(
    connection: asyncpg.Connection,
    ctx: IntakeContext,
    data: ReportIn,
    reporter: Principal | None,
    now: datetime,
    retry: RetryKey | None = None,
) -> Submission | dict[str, Any]:
    """submit_report for a report without photos on a raw connection outside any
    transaction: the one intake statement commits on its own (atomic, and with a key
    taken it writes nothing), so a report costs one round trip, no BEGIN or COMMIT."""
    run = OnConnection(connection)
    category = await ctx.categories.get(run, data.category)
    if category.is_emergency:
        # Two statements (the point of a building, the referral): one transaction, so a
        # taken key leaves no second referral behind.
        async with connection.transaction():
            return await _file(run, ctx, data, 0, reporter, now, retry)
    return await _file(run, ctx, data, 0, reporter, now, retry)


async def _file(
    run: Statements,
    ctx: IntakeContext,
    data: ReportIn,
    photo_count: int,
    reporter: Principal | None,
    now: datetime,
    retry: RetryKey | None,
    *,
    photo_link: bool = False,
) -> Submission | dict[str, Any]:
    _check_channel(data, reporter)
    category = await ctx.categories.get(run, data.category)
    if category.is_emergency:
        # Never hold up an emergency over a bad pin: record it with whatever place we have.
        try:
            lonlat = await _location(run, data)
        except InvalidInput:
            lonlat = None
        return await record_emergency(run, category, data, lonlat, retry)
    answers = check_answers(category.questions, data.answers)
    # Before the one write statement: a refusal here names the field, never a bare no-row.
    check_min_content(category.code, data.channel, data.description, photo_count, photo_link)
    asset_kinds = _asset_kinds(data, category)
    lon, lat = await _location(run, data)
    accept_due, resolve_due = _deadlines(ctx, category.tier, now)
    tracking_number, secret = new_tracking_number(now), new_secret()
    known = {
        "tracking_number": tracking_number,
        "secret": secret,
        "category": category.code,
        "accept_due_at": accept_due.isoformat(),
        "resolve_due_at": resolve_due.isoformat(),
    }
    row = await run.first(
        _intake_statement(),
        {
            **route_params(lon, lat, local_date(now), ctx.tolerance_m),
            **nearby_params(category, lat),
            "tracking_number": tracking_number,
            "secret_hash": secret_hash(secret, ctx.secret_key),
            "input_lon": data.lon if data.lon is not None else lon,
            "input_lat": data.lat if data.lat is not None else lat,
            "input_system": data.coord_system.value if data.lon is not None else "wgs84",
            "address": data.address,
            "building_id": data.building_id,
            **building_params(lat),
            **manager_params(),
            "description": data.description,
            "answers": json.dumps(answers, ensure_ascii=False),
            "channel": data.channel,
            "reporter_id": reporter and reporter.id,
            "actor_role": reporter.role.value if reporter else "reporter",
            "reporter_name": data.contact_name,
            "reporter_phone": data.contact_phone,
            "accept_due_at": accept_due,
            "resolve_due_at": resolve_due,
            "resolve_due_at_text": resolve_due.isoformat(),
            "now": now,
            "asset_code": data.asset_code,
            "asset_kinds": asset_kinds,
            "asset_m": ASSET_RADIUS_M,
            **_retry_params(retry, known),
        },
    )
    if row is None or not row["accepted"]:
        if data.asset_code is not None and not await _asset_fits(run, data, asset_kinds, lon, lat):
            raise InvalidInput(
                f"no {' or '.join(asset_kinds)} with code {data.asset_code} within "
                f"{ASSET_RADIUS_M:.0f} m of the report's place",
                f"报告位置 {ASSET_RADIUS_M:.0f} 米内没有编码为 {data.asset_code} 的相应部件",
                field="asset_code",
            )
        raise outside_service_area(
            "lon" if data.lon is not None else "building_id", ctx.tolerance_m
        )
    if row["id"] is None:
        # Accepted but not written: the key holds an answer already.
        raise RetryKeyTaken()
    duplicates = [
        as_duplicate(*found)
        for found in zip(row["duplicate_numbers"], row["duplicate_statuses"], strict=True)
    ]
    return Submission(
        tracking_number,
        secret,
        row["status"],
        category.code,
        row["cell_code"],
        row["rule"],
        accept_due.isoformat(),
        resolve_due.isoformat(),
        WrittenRows(row["id"], tuple(row["event_ids"]), row["outbox_id"]),
        duplicates,
    )
