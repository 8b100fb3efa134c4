"""Open311 GeoReport v2, read side: categories as services and service definitions, the
incident lifecycle as open/closed with notes, and service requests as the public may see
them (the public point, no contact data, free text only once published)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import CHINA_TZ
from core.errors import InvalidInput, NotFound
from gis.geometry import BBox, BBoxError
from incidents.categories import Question, category_spec
from incidents.handling.workdays import DeadlineRule, SeverityTier
from incidents.status import OPEN, TERMINAL, Status

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Categories filed elsewhere: a fire damage declaration needs a house of the register.
UNLISTED_GROUPS = ("declaration",)
# Open311 knows open and closed. A resolved report is still open: it can be sent back
# until someone other than the handler verifies and closes it.
OPEN_STATUSES = OPEN | {Status.RESOLVED}
CLOSED_STATUSES = TERMINAL
MAX_PAGE_SIZE = 1000  # the spec's default query limit
MAX_SPAN = timedelta(days=90)  # the spec's longest start_date..end_date range
MAX_IDS = 200
TRACKING_NUMBER = re.compile(r"^[0-9]{6}-[0-9A-Z]{8}$")
SERVICE_CODE = re.compile(r"^[a-z]+\.[a-z_]+$")
# Web Mercator ends short of the poles (the public point is kept in EPSG:3857).
_MERCATOR_MAX_LAT = 85.05

GROUP_LABELS = {"fire": ("消防安全", "Fire safety"), "community": ("社区环境", "Community")}
TIER_LABELS = {"red": ("红色", "Red"), "yellow": ("黄色", "Yellow"), "blue": ("蓝色", "Blue")}
STATUS_NOTES = {
    "submitted": ("已受理，等待分派", "Received; waiting to be assigned"),
    "assigned": ("已分派给责任人", "Assigned to the person responsible"),
    "accepted": ("责任人已签收", "Accepted by the person responsible"),
    "in_progress": ("正在处理", "Being handled"),
    "transferred": ("正在转办", "Being passed to the right place"),
    "reopened": ("已重新打开，继续处理", "Reopened; being handled again"),
    "resolved": ("已处理，等待核查", "Handled; waiting to be verified"),
    "closed": ("已核查办结", "Verified and closed"),
    "rejected": ("经核实不予受理", "Not taken up after checking"),
    "duplicate": (
        "与 {follows} 为同一问题，请关注该上报",
        "The same issue as {follows}; follow that one",
    ),
    "emergency_referral": ("已转 119 处置", "Handed to the 119 fire service"),
}


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language == "en" else pair[0]


def _rule_text(rule: DeadlineRule, language: str) -> str:
    units = {
        "m": ("分钟", "minutes"),
        "h": ("小时", "hours"),
        "wd": ("个工作日", "working days"),
        "wh": ("个工作时", "working hours"),
    }
    zh, en = units[rule.unit]
    return f"{rule.amount} {en}" if language == "en" else f"{rule.amount} {zh}"


def tier_description(tier: SeverityTier | None, name: str, language: str) -> str:
    """The deadlines a category's tier sets, in words."""
    label = _pick(TIER_LABELS.get(name, (name, name)), language)
    if tier is None:
        return label
    accept, resolve = _rule_text(tier.accept, language), _rule_text(tier.resolve, language)
    if language == "en":
        return f"{label} tier: accepted within {accept}, handled within {resolve}"
    return f"{label}等级：{accept}内签收，{resolve}内办结"


_SERVICES = text("""
    SELECT code, group_code, label_zh, label_en, tier, questions
    FROM incident_categories
    WHERE active AND NOT is_emergency AND group_code <> ALL(:unlisted)
    ORDER BY sort_order, code
""")


async def list_services(
    session: AsyncSession, tiers: dict[str, SeverityTier], language: str
) -> list[dict[str, Any]]:
    """Active categories as Open311 services, fire hazards first. A fire burning now is
    not listed (Open311 is for non-emergencies: call 119), nor are declarations."""
    rows = await session.execute(_SERVICES, {"unlisted": list(UNLISTED_GROUPS)})
    services = []
    for code, group, zh, en, tier, questions in rows:
        group_zh, group_en = GROUP_LABELS.get(group, (group, group))
        # The national classification (GB/T 30428.2) and GB 35181's flag ride in keywords,
        # so city systems can map services onto their own case classes.
        spec = category_spec(code)
        standard = [spec.standard.label()] if spec and spec.standard else []
        if spec and spec.major_fire_hazard:
            standard.append("GB 35181-2025 重大火灾隐患判定")
        services.append(
            {
                "service_code": code,
                "service_name": en if language == "en" else zh,
                "description": tier_description(tiers.get(tier), tier, language),
                "metadata": bool(questions),
                "type": "realtime",  # routed in the same transaction: the id comes at once
                "keywords": ", ".join(dict.fromkeys([zh, en, group_zh, group_en, *standard])),
                "group": group_en if language == "en" else group_zh,
            }
        )
    return services


_CATEGORY = text("""
    SELECT code, group_code, is_emergency, questions FROM incident_categories
    WHERE code = :code AND active
""")


async def service_questions(
    session: AsyncSession,
    code: str,
    *,
    field: str = "service_code",
    allow_emergency: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """A listed category's questions and whether it is an emergency; 404 naming `field`
    for a code that is not a listed service (an emergency only with allow_emergency)."""
    row = None
    if SERVICE_CODE.fullmatch(code):
        row = (await session.execute(_CATEGORY, {"code": code})).first()
    if (
        row is None
        or row.group_code in UNLISTED_GROUPS
        or (row.is_emergency and not allow_emergency)
    ):
        raise NotFound(f"no service {code!r}", f"没有服务 {code}", field=field)
    return row.questions, row.is_emergency


BOOLEAN_VALUES = [("true", "是", "Yes"), ("false", "否", "No")]


def _datatype(question: Question) -> str:
    return {
        "boolean": "singlevaluelist",
        "choice": "singlevaluelist",
        "number": "number",
        "text": "text",
    }[question.type]


def _datatype_description(question: Question, language: str) -> str | None:
    if question.type == "number":
        low, high = question.min, question.max
        if low is not None and high is not None:
            return (
                f"A number from {low:g} to {high:g}"
                if language == "en"
                else f"{low:g} 到 {high:g} 之间的数字"
            )
        return "A number" if language == "en" else "数字"
    if question.type == "text":
        return "Up to 500 characters" if language == "en" else "最多 500 字"
    return None


def _values(question: Question, language: str) -> list[dict[str, str]]:
    if question.type == "boolean":
        return [
            {"key": key, "name": en if language == "en" else zh} for key, zh, en in BOOLEAN_VALUES
        ]
    return [
        {"key": c.value, "name": c.label_en if language == "en" else c.label_zh}
        for c in question.choices
    ]


def attribute(question: Question, order: int, language: str) -> dict[str, Any]:
    """One category question as an Open311 attribute (yes/no and choices are lists)."""
    datatype = _datatype(question)
    described = {
        "variable": True,
        "code": question.key,
        "datatype": datatype,
        "required": question.required,
        "datatype_description": _datatype_description(question, language),
        "order": order,
        "description": question.label_en if language == "en" else question.label_zh,
    }
    if datatype.endswith("valuelist"):
        described["values"] = _values(question, language)
    return described


async def service_definition(session: AsyncSession, code: str, language: str) -> dict[str, Any]:
    """A listed service's questions as attributes, in the order the form asks them."""
    questions, _ = await service_questions(session, code)
    return {
        "service_code": code,
        "attributes": [
            attribute(Question.model_validate(q), i, language)
            for i, q in enumerate(questions, start=1)
        ],
    }


@dataclass(frozen=True)
class RequestQuery:
    """GET requests, parsed: either tracking numbers (which override every other
    filter, as the spec says) or the filters and a page."""

    ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None
    bbox: BBox | None = None
    page: int = 1
    page_size: int = MAX_PAGE_SIZE


def param_value(value: str | None) -> str | None:
    """A parameter's value, stripped; None when missing or empty (the spec's "Optional":
    an empty parameter is the same as a missing one)."""
    return value.strip() if value is not None and value.strip() else None


def _list(value: str | None) -> list[str] | None:
    value = param_value(value)
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def parse_w3_datetime(value: str | None, field: str) -> datetime | None:
    """A W3C datetime with its zone (2010-01-01T00:00:00Z or +08:00), as the spec asks."""
    value = param_value(value)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"expected a W3C datetime such as 2026-01-01T00:00:00+08:00, got {value!r}",
            "应为 W3C 时间格式，如 2026-01-01T00:00:00+08:00",
            field=field,
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            "include the time zone (Z or +08:00)", "请注明时区（Z 或 +08:00）", field=field
        )
    return moment


def _whole_number(value: str | None, field: str, default: int, high: int) -> int:
    value = param_value(value)
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise InvalidInput(
            f"expected a whole number from 1 to {high}", f"应为 1 到 {high} 之间的整数", field=field
        )
    return int(value)


def _date_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The spec's defaults: the 90 days up to now, or 90 days from the one end given."""
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise InvalidInput(
            "end_date is before start_date", "结束时间早于开始时间", field="end_date"
        )
    if end - start > MAX_SPAN:
        raise InvalidInput(
            "start_date to end_date may span at most 90 days",
            "查询时间范围最多 90 天",
            field="end_date",
        )
    return start, end


def parse_request_query(params: dict[str, str | None], now: datetime) -> RequestQuery:
    """GET requests' parameters checked; 400 naming the field for anything unusable."""
    ids = _list(params.get("service_request_id"))
    if ids is not None:
        if len(ids) > MAX_IDS or not all(TRACKING_NUMBER.fullmatch(i) for i in ids):
            raise InvalidInput(
                f"expected up to {MAX_IDS} comma-separated ids such as 261124-0A1B2C3D",
                f"应为以逗号分隔的编号（最多 {MAX_IDS} 个）",
                field="service_request_id",
            )
        return RequestQuery(ids=ids)
    codes = _list(params.get("service_code"))
    if codes is not None and not all(SERVICE_CODE.fullmatch(c) for c in codes):
        raise InvalidInput(
            "expected service codes such as fire.blocked_exit",
            "服务代码格式有误",
            field="service_code",
        )
    statuses = _list(params.get("status"))
    if statuses is not None and not set(statuses) <= {"open", "closed"}:
        raise InvalidInput(
            "status is open, closed or both (comma-separated)",
            "状态应为 open 或 closed",
            field="status",
        )
    bbox = None
    if (box := param_value(params.get("bbox"))) is not None:
        try:
            bbox = BBox.parse(box)
        except BBoxError as exc:
            raise InvalidInput(
                str(exc), "范围应为 最小经度,最小纬度,最大经度,最大纬度", field="bbox"
            ) from None
    start, end = _date_range(
        parse_w3_datetime(params.get("start_date"), "start_date"),
        parse_w3_datetime(params.get("end_date"), "end_date"),
        now,
    )
    wanted = None
    if statuses is not None:
        wanted = sorted(
            (OPEN_STATUSES if "open" in statuses else frozenset())
            | (CLOSED_STATUSES if "closed" in statuses else frozenset())
        )
    return RequestQuery(
        service_codes=codes,
        start=start,
        end=end,
        statuses=wanted,
        bbox=bbox,
        page=_whole_number(params.get("page"), "page", 1, 100_000),
        page_size=_whole_number(params.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    )


def parse_flag(value: str | None, field: str) -> bool:
    """A true/false parameter (missing or empty is false)."""
    value = param_value(value)
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise InvalidInput("expected true or false", "应为 true 或 false", field=field)


# Every request with what any view of it may show; which parts reach the caller is
# decided in request_view. The place is the public point the trigger keeps (coarsened per
# category, see incidents/publication/views.py), never the pin; a building's address is shown only
# where the category shows the building anyway.
_REQUESTS = """
    SELECT i.id, i.tracking_number, i.status, i.category_code, k.label_zh, k.label_en,
           i.created_at, i.updated_at, i.closed_at, i.accept_due_at, i.resolve_due_at,
           i.responsible_level, i.escalation_level, i.channel, c.code AS cell_code,
           r.name AS region_name, f.tracking_number AS follows,
           round(ST_X(pt)::numeric, 6)::float8 AS lon, round(ST_Y(pt)::numeric, 6)::float8 AS lat,
           CASE WHEN k.public_precision <> 'cell' THEN b.address END AS building_address,
           CASE WHEN k.public_precision <> 'cell' THEN b.id END AS building_id,
           i.description, i.published_description, o.client_id, o.media_url,
           g.id IS NOT NULL AS rated, g.overall, g.timeliness, g.convenience, g.defaulted,
           g.excluded
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    CROSS JOIN LATERAL (SELECT ST_Transform(i.public_point_3857, 4326) AS pt) AS p
    LEFT JOIN grid_cells c ON c.id = i.cell_id
    LEFT JOIN regions r ON r.id = i.region_id
    LEFT JOIN buildings b ON b.id = i.building_id
    LEFT JOIN incidents f ON f.id = i.duplicate_of_id
    LEFT JOIN open311_requests o ON o.incident_id = i.id
    LEFT JOIN ratings g ON g.incident_id = i.id AND g.kind = 'handling'
"""
# Filters are fixed text chosen by which parameters are present; every value is bound.
# The bbox literal is transformed into the column's SRID, never the column, so the GiST
# index on public_point_3857 answers it.
_FILTERS = {
    "ids": "i.tracking_number = ANY(:ids)",
    "codes": "i.category_code = ANY(:codes)",
    "range": "i.created_at >= :start AND i.created_at <= :end",
    "statuses": "i.status = ANY(:statuses)",
    "bbox": "i.public_point_3857 && ST_Transform(ST_MakeEnvelope(:w, :s, :e, :n, 4326), 3857)",
}
_ORDER = " ORDER BY i.created_at DESC, i.id DESC LIMIT :limit OFFSET :offset"


async def find_requests(session: AsyncSession, query: RequestQuery) -> list[dict[str, Any]]:
    """The requests a query asks for, newest first, one page."""
    params: dict[str, Any] = {
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    used = []
    if query.ids is not None:
        used.append("ids")
        params.update(ids=query.ids, limit=len(query.ids), offset=0)
    else:
        used.append("range")
        params.update(start=query.start, end=query.end)
        if query.service_codes is not None:
            used.append("codes")
            params["codes"] = query.service_codes
        if query.statuses is not None:
            used.append("statuses")
            params["statuses"] = query.statuses
        if query.bbox is not None:
            used.append("bbox")
            box = query.bbox
            params.update(
                w=box.min_lon,
                s=max(box.min_lat, -_MERCATOR_MAX_LAT),
                e=box.max_lon,
                n=min(box.max_lat, _MERCATOR_MAX_LAT),
            )
    where = " WHERE " + " AND ".join(_FILTERS[name] for name in used)
    rows = await session.execute(text(_REQUESTS + where + _ORDER), params)
    return [dict(row) for row in rows.mappings()]


async def find_request(
    session: AsyncSession, tracking_number: str, field: str = "service_request_id"
) -> dict[str, Any]:
    """One request by its id (the tracking number); 404 naming `field` when none."""
    rows = []
    if TRACKING_NUMBER.fullmatch(tracking_number):
        rows = await find_requests(session, RequestQuery(ids=[tracking_number]))
    if not rows:
        raise NotFound(
            f"no service request {tracking_number}",
            f"未找到编号为 {tracking_number} 的上报",
            field=field,
        )
    return rows[0]


def w3(moment: datetime | None) -> str | None:
    """A W3C datetime in China time (the spec requires the zone)."""
    return moment and moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def published_description(row: dict[str, Any]) -> str | None:
    """The report's own words as the public may read them: the text a manager approved,
    phone and ID numbers masked (incidents/publication/review.py); none before that."""
    return row["published_description"]


def published_media_url(row: dict[str, Any]) -> str | None:
    """The reporter's media URL as the public may see it: never, since publication review
    approves text and uploaded photos, not links to other hosts."""
    return None


def status_notes(row: dict[str, Any], language: str) -> str:
    """A fixed note on the status (never a staff note: those may name people)."""
    note = _pick(STATUS_NOTES[row["status"]], language)
    return note.format(follows=row["follows"] or "")


def _rating(row: dict[str, Any], own: bool) -> dict[str, Any]:
    # Whether it was rated is public; the scores only go to the client that filed the
    # report (it speaks for the reporter): one score published next to a place tells the
    # handler how a known reporter rated, which statistics.py suppresses for that reason.
    rating: dict[str, Any] = {"rated": row["rated"]}
    if own and row["rated"]:
        rating.update(
            overall=row["overall"],
            timeliness=row["timeliness"],
            convenience=row["convenience"],
            defaulted=row["defaulted"],
            excluded=row["excluded"],
        )
    return rating


def extended_attributes(row: dict[str, Any], now: datetime, own: bool) -> dict[str, Any]:
    """The `extensions=true` fields: assignment level, deadlines, rating."""
    overdue = (
        row["status"] in OPEN_STATUSES
        and row["status"] != "resolved"
        and row["resolve_due_at"] is not None
        and row["resolve_due_at"] < now
    )
    return {
        "channel": row["channel"],
        "cell_code": row["cell_code"],
        "assignment_level": row["responsible_level"],
        "escalation_level": row["escalation_level"],
        "accept_due_datetime": w3(row["accept_due_at"]),
        "resolve_due_datetime": w3(row["resolve_due_at"]),
        "overdue": overdue,
        "rating": _rating(row, own),
    }


def request_view(
    row: dict[str, Any], language: str, now: datetime, *, extensions: bool, own: bool
) -> dict[str, Any]:
    """A request as GET answers it. `own`: the caller is the client that filed it and
    gets back what it sent (description, media URL) and the rating's scores; contact
    details are never shown."""
    closed = row["status"] in CLOSED_STATUSES
    view = {
        "service_request_id": row["tracking_number"],
        "status": "closed" if closed else "open",
        "status_notes": status_notes(row, language),
        "service_name": row["label_en"] if language == "en" else row["label_zh"],
        "service_code": row["category_code"],
        "description": row["description"] if own else published_description(row),
        "agency_responsible": row["region_name"],
        "service_notice": None,
        "requested_datetime": w3(row["created_at"]),
        "updated_datetime": w3(
            row["closed_at"]
            if row["status"] == "closed" and row["closed_at"]
            else row["updated_at"]
        ),
        "expected_datetime": w3(row["resolve_due_at"]),
        "address": row["building_address"],
        "address_id": row["building_id"] and str(row["building_id"]),
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": row["media_url"] if own else published_media_url(row),
    }
    if extensions:
        view["extended_attributes"] = extended_attributes(row, now, own)
    return view
