"""Open311 GeoReport v2, write side: a POSTed service request read into a report and filed
through the ordinary intake (routing, duplicates, idempotency, outbox), with what Open311
carries beyond a web report kept beside it."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import CHINA_TZ
from core.errors import GridgovError, InvalidInput
from core.text_types import PlainTextOrNone
from grid.addresses import confident_address
from incidents.categories import Question
from incidents.intake.filing import IntakeContext, RetryKey, submit_report
from incidents.intake.phones import normalise_phone
from incidents.intake.schemas import ReportIn, Submission
from interop.open311.api_keys import TrustedClient
from interop.open311.georeport import param_value, service_questions

MAX_MEDIA_URL = 2000
# GeoReport v2 allows descriptions of up to 4,000 characters (the web form keeps its own).
MAX_DESCRIPTION = 4000
MAX_EXTRA_ATTRIBUTES = 20
MAX_EXTRA_VALUE = 2000
MAX_IDENTIFIER = 100
MAX_EMAIL = 254
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# intake's field names -> the Open311 parameter a client sent.
_FIELDS = {
    "category": "service_code",
    "lon": "long",
    "lat": "lat",
    "building_id": "address_id",
    "address": "address_string",
    "q": "address_string",
    "contact_name": "first_name",
    "contact_phone": "phone",
    "photos": "media_url",
}


class Open311ReportIn(ReportIn):
    """A report as an Open311 request becomes: the web form's fields, channel open311,
    and the spec's longer description."""

    channel: Literal["open311"] = "open311"  # type: ignore[assignment]
    description: PlainTextOrNone = Field(None, max_length=MAX_DESCRIPTION)


@dataclass(frozen=True)
class Open311Extras:
    """What the request carries that the incident has no column for (never public):
    the reporter's contact and identifiers, and attributes the category does not ask."""

    media_url: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    extra_attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedRequest:
    """A POSTed request, checked: the report to file and the extras to keep beside it."""

    report: Open311ReportIn
    extras: Open311Extras


def open311_field(field: str | None) -> str | None:
    """The Open311 parameter behind one of intake's field names."""
    if field is None:
        return None
    if field.startswith("answers."):
        return f"attribute[{field.removeprefix('answers.')}]"
    return _FIELDS.get(field, field)


def _coerce(question: Question, value: str, field: str) -> Any:
    """A form value as the answer type the category's question expects."""
    if question.type == "boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidInput("expected true or false", "应为 true 或 false", field=field)
        return value.lower() == "true"
    if question.type == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidInput("expected a number", "应为数字", field=field)
        return int(number) if number.is_integer() else number
    return value


def read_attributes(
    items: list[tuple[str, str]], questions: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """`attribute[code]=value` (and `attribute[code][]=` for lists) as the category's
    answers (checked by type), and the attributes it does not ask for, kept as sent:
    clients add their own (FixMyStreet's report_url), which must not block a report."""
    raw: dict[str, list[str]] = {}
    for key, value in items:
        if match := _ATTRIBUTE.fullmatch(key):
            raw.setdefault(match.group(1), []).append(value.strip())
    by_key = {q["key"]: Question.model_validate(q) for q in questions}
    answers: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for code, values in raw.items():
        name = f"attribute[{code}]"
        given = [v for v in values if v]
        if not given:
            continue
        question = by_key.get(code)
        if question is None:
            # Kept for the staff, bounded; never read as an answer nor shown publicly.
            if len(extra) < MAX_EXTRA_ATTRIBUTES:
                extra[code] = ", ".join(given)[:MAX_EXTRA_VALUE]
            continue
        if len(given) > 1:
            raise InvalidInput("this attribute takes one value", "此项只能有一个值", field=name)
        answers[code] = _coerce(question, given[0], name)
    return answers, extra


def _checked_text(value: str | None, field: str, limit: int) -> str | None:
    value = param_value(value)
    if value is not None and (len(value) > limit or not value.isprintable()):
        raise InvalidInput(
            f"at most {limit} printable characters", f"最多 {limit} 个可打印字符", field=field
        )
    return value


def check_media_url(value: str | None) -> str | None:
    """An absolute http(s) URL, stored as given and never fetched by gridgov."""
    url = _checked_text(value, "media_url", MAX_MEDIA_URL)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in url:
        raise InvalidInput(
            "expected an absolute http or https URL",
            "应为以 http 或 https 开头的完整网址",
            field="media_url",
        )
    return url


def _extras(fields: dict[str, str], extra_attributes: dict[str, str]) -> Open311Extras:
    """The contact and identifiers, from any client (with a key or without: discovery
    says none is needed): stored as the reporter's contact, never public, and removed
    with the other contact details when they expire (incidents/retention.py)."""
    email = _checked_text(fields.get("email"), "email", MAX_EMAIL)
    if email is not None and not _EMAIL.fullmatch(email):
        raise InvalidInput("expected an email address", "邮箱格式有误", field="email")
    return Open311Extras(
        media_url=check_media_url(fields.get("media_url")),
        email=email,
        device_id=_checked_text(fields.get("device_id"), "device_id", MAX_IDENTIFIER),
        account_id=_checked_text(fields.get("account_id"), "account_id", MAX_IDENTIFIER),
        extra_attributes=extra_attributes,
    )


def _has_cjk(value: str) -> bool:
    return any(unicodedata.name(c, "").startswith("CJK") for c in value)


def _phone(value: str | None) -> str | None:
    """The phone number as people write it ((020) 8300-1234, +86 137 1234 5678),
    normalised; 400 naming phone when it is no phone number."""
    value = param_value(value)
    if value is None:
        return None
    number = normalise_phone(value)
    if number is None:
        raise InvalidInput(
            "expected a phone number: a mobile (13712345678) or a landline "
            "with its area code ((020) 8300-1234)",
            "应为手机号码或带区号的固定电话，如 (020) 8300-1234",
            field="phone",
        )
    return number


def contact_name(first: str | None, last: str | None) -> str | None:
    """One name from the two: family name first, unspaced, when written in Chinese."""
    first, last = param_value(first), param_value(last)
    if first and last:
        return f"{last}{first}" if _has_cjk(first + last) else f"{first} {last}"
    return first or last


async def _address_building(session: AsyncSession, fields: dict[str, str]) -> int | None:
    """The building an address-only request points at: address_id (a building id from
    the address search), else the building address_string names confidently (see
    grid.addresses.confident): a made-up address is refused, never filed on the first
    building that looks a little like it."""
    if (address_id := param_value(fields.get("address_id"))) is not None:
        if not address_id.isdigit() or not 1 <= int(address_id) < 2**63:
            raise InvalidInput(
                "expected a building id from the address search",
                "应为地址查询得到的楼栋编号",
                field="address_id",
            )
        return int(address_id)
    if (address := param_value(fields.get("address_string"))) is None:
        return None
    try:
        hit = await confident_address(session, address)
    except GridgovError as exc:
        exc.field = "address_string"
        raise
    if hit is None:
        raise InvalidInput(
            "no building of the register matches this address closely enough (house and "
            "building numbers included); check it or send lat and long",
            "登记的楼栋中没有与该地址足够吻合的（门牌号、楼栋号需一致），请核对地址或提供经纬度",
            field="address_string",
        )
    return hit.building_id


async def parse_request(
    session: AsyncSession,
    fields: dict[str, str],
    attributes: list[tuple[str, str]],
    client: TrustedClient | None,
) -> ParsedRequest:
    """A POSTed request checked and read into a report; 400 naming the Open311 parameter
    (404 for a service that is not listed). `client` (None without an api_key) changes
    nothing here: contact details are taken from any client and never published."""
    code = param_value(fields.get("service_code"))
    if code is None:
        raise InvalidInput("service_code is required", "请提供 service_code", field="service_code")
    # A fire burning now is not listed, but a client that sends one anyway is still told
    # to call 119 (and it is recorded): an emergency is never refused.
    questions, emergency = await service_questions(session, code, allow_emergency=True)
    answers, extra_attributes = read_attributes(attributes, questions)
    extras = _extras(fields, extra_attributes)
    lat, lon = param_value(fields.get("lat")), param_value(fields.get("long"))
    building_id = None
    if lat is None and lon is None and not emergency:
        building_id = await _address_building(session, fields)
        if building_id is None:
            raise InvalidInput(
                "give lat and long, address_string or address_id",
                "请提供经纬度（lat、long）、address_string 或 address_id",
                field="lat",
            )
    values = {
        "category": code,
        "lat": lat,
        "lon": lon,
        "building_id": building_id,
        "address": param_value(fields.get("address_string")),
        "description": param_value(fields.get("description")),
        "answers": answers,
        "contact_name": contact_name(fields.get("first_name"), fields.get("last_name")),
        "contact_phone": _phone(fields.get("phone")),
    }
    if (system := param_value(fields.get("coord_system"))) is not None:
        values["coord_system"] = system  # extension: GCJ-02 / BD-09 from Chinese map SDKs
    try:
        report = Open311ReportIn.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            first["msg"], f"参数有误：{first['msg']}", field=open311_field(loc)
        ) from None
    return ParsedRequest(report, extras)


_DETAILS = text("""
    INSERT INTO open311_requests (incident_id, client_id, media_url, email, device_id,
                                  account_id, extra_attributes)
    VALUES (:incident_id, :client_id, :media_url, :email, :device_id, :account_id,
            CAST(:extra_attributes AS jsonb))
""")


async def file_request(
    session: AsyncSession,
    ctx: IntakeContext,
    parsed: ParsedRequest,
    client: TrustedClient | None,
    now: datetime,
    retry: RetryKey | None = None,
) -> Submission | dict[str, Any]:
    """File the report through the ordinary intake inside the caller's transaction (the
    caller commits) and keep the extras beside it. RetryKeyTaken as submit_report."""
    try:
        result = await submit_report(
            session,
            ctx,
            parsed.report,
            [],
            None,
            now,
            retry,
            photo_link=parsed.extras.media_url is not None,
        )
    except GridgovError as exc:
        exc.field = open311_field(exc.field)
        raise
    if isinstance(result, Submission):
        details = asdict(parsed.extras)
        details["extra_attributes"] = json.dumps(details["extra_attributes"], ensure_ascii=False)
        await session.execute(
            _DETAILS,
            {"incident_id": result.rows.incident_id, "client_id": client and client.id, **details},
        )
    return result


def emergency_request_id(referral_id: int) -> str:
    """The id an emergency referral answers with: it is no report (119 handles it)."""
    return f"119-{referral_id:08d}"


def _local(moment: str | None) -> str:
    if not moment:
        return ""
    return datetime.fromisoformat(moment).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def service_notice(answer: dict[str, Any], language: str) -> str:
    """What happens next, from intake's answer (stored answers replay the same text)."""
    if answer.get("emergency"):
        return answer["instruction"]["en" if language == "en" else "zh-Hans"]
    accept, resolve = _local(answer.get("accept_due_at")), _local(answer.get("resolve_due_at"))
    queued = answer.get("status") == "submitted"
    duplicates = ", ".join(d["tracking_number"] for d in answer.get("likely_duplicates", []))
    if language == "en":
        notice = (
            "Received; waiting in the queue to be assigned. "
            if queued
            else "Received and assigned to the person responsible. "
        )
        notice += f"To be accepted by {accept} and handled by {resolve} (China time)."
        if duplicates:
            notice += f" Open reports of the same kind nearby: {duplicates}."
        return notice
    notice = "已受理，正在等待分派。" if queued else "已受理并分派给责任人。"
    notice += f"应于 {accept} 前签收，{resolve} 前办结（北京时间）。"
    if duplicates:
        notice += f"附近已有同类未办结上报：{duplicates}。"
    return notice


def post_answer(
    answer: dict[str, Any], language: str, account_id: str | None, *, extensions: bool
) -> dict[str, Any]:
    """The POST response's one request: the id at once (routing is synchronous, so no
    token), what happens next, and with extensions the reporter's secret for rating. An
    emergency gets an id too (its referral's), so a client does not retry it."""
    if answer.get("emergency"):
        return {
            "service_request_id": emergency_request_id(answer["referral_id"]),
            "service_notice": service_notice(answer, language),
            "account_id": account_id,
        }
    posted: dict[str, Any] = {
        "service_request_id": answer["tracking_number"],
        "service_notice": service_notice(answer, language),
        "account_id": account_id,
    }
    if extensions:
        posted["extended_attributes"] = {
            "secret": answer["secret"],
            "status": answer["status"],
            "cell_code": answer["cell_code"],
            "likely_duplicates": ", ".join(
                d["tracking_number"] for d in answer.get("likely_duplicates", [])
            )
            or None,
        }
    return posted
