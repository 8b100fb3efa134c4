"""Reading 12345 hotline work orders (工单) from a CSV (UTF-8, GBK or GB 18030, Chinese
headers) or a JSON list of objects into checked rows."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from core.clock import CHINA_TZ
from core.errors import InvalidInput
from gis.coords import CoordSystem, parse_location
from grid.importing.reading import read_csv_text
from grid.importing.report import RowIssue
from incidents.handling.workdays import DeadlineRule
from incidents.intake.phones import normalise_phone
from incidents.intake.schemas import MAX_DESCRIPTION
from interop.hotline.mapping import FIELDS, REQUEST_TYPES, HotlineMapping, normalise_key

# Without a column for one of these no row could be filed: the file is refused instead.
REQUIRED_COLUMNS = ["order_number", "content"]
# What 12345 sent, field by field, is remembered only as keyed hashes (see field_hashes).
HASHED_FIELDS = [f for f in FIELDS if f != "order_number"]
MAX_ORDER_NUMBER, MAX_NAME, MAX_ADDRESS, MAX_CATEGORY, MAX_LIMIT = 64, 50, 200, 200, 40
MAX_REQUEST_TYPE = 40
# A received time this far ahead of the import clock is a wrong date, not clock skew.
FUTURE_SLACK = timedelta(minutes=10)
_ORDER_NUMBER = re.compile(r"[^\s\x00-\x1f\x7f]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MASKED_PHONE = re.compile(r"[*＊×xX]{2,}")
# "3个工作日", "3wd", "4工作时", "24小时", "24h", "2天", "30分钟"; a bare number is working
# days, the unit 12345 time limits are usually given in.
_LIMIT = re.compile(
    r"(\d+)\s*(?:个)?\s*(工作日|工作小时|工作时|wd|wh|小时|h|自然日|天|日|d|分钟|m)?"
)
_LIMIT_UNITS = {
    "工作日": "wd",
    "wd": "wd",
    None: "wd",
    "工作小时": "wh",
    "工作时": "wh",
    "wh": "wh",
    "小时": "h",
    "h": "h",
    "自然日": "d",
    "天": "d",
    "日": "d",
    "d": "d",
    "分钟": "m",
    "m": "m",
}


@dataclass(frozen=True)
class HotlineIssue(RowIssue):
    """A row's problem (or a warning about it), the reason in Chinese as well."""

    reason_zh: str = ""


class RowProblem(Exception):
    """A row cannot be filed: the field (as named in the file) and why, in both languages."""

    def __init__(self, field: str, reason_en: str, reason_zh: str) -> None:
        super().__init__(reason_en)
        self.field, self.reason_en, self.reason_zh = field, reason_en, reason_zh


# -- the file ---------------------------------------------------------------------------


def read_records(path: Path, encoding: str | None = None) -> list[dict[str, Any]]:
    """The file's records as dicts of column -> value: a CSV in UTF-8 (BOM or not), else
    GB 18030 (which reads GBK and GB 2312) unless `encoding` says; or a JSON list."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _read_json(path)
    if path.suffix.lower() != ".csv":
        raise InvalidInput(
            "hotline orders come as .csv or .json", "热线工单应为 CSV 或 JSON 文件", field="file"
        )
    try:
        frame = read_csv_text(path, encoding)
    except InvalidInput as exc:
        # Not UTF-8: 12345 systems on Windows export GBK, which GB 18030 reads.
        if encoding is not None or exc.field != "encoding":
            raise
        frame = read_csv_text(path, "gb18030")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.to_dict("records")


def _read_json(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput(
            f"{path.name} is not UTF-8 JSON: {exc}",
            f"{path.name} 不是有效的 UTF-8 JSON",
            field="file",
        ) from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidInput(
            "the JSON must be a list of work orders (objects)",
            "JSON 应为工单对象的列表",
            field="file",
        )
    return [{str(k).strip(): v for k, v in item.items()} for item in data]


def resolve_columns(records: list[dict[str, Any]], mapping: HotlineMapping) -> dict[str, list[str]]:
    """Field -> the columns the file has for it, in the mapping's order; a file lacking a
    required column (or any place: address or coordinates) is refused, naming what it has."""
    present: dict[str, None] = {}
    for record in records:
        present.update(dict.fromkeys(record))
    found = {}
    for name in FIELDS:
        candidates = [
            c for c in dict.fromkeys([*mapping.columns.get(name, []), name]) if c in present
        ]
        if candidates:
            found[name] = candidates
    missing = [f for f in REQUIRED_COLUMNS if f not in found]
    if "address" not in found and not {"lon", "lat"} <= set(found):
        missing.append("address (or lon and lat)")
    if missing and records:
        wanted = "; ".join(f"{m}: {' / '.join(mapping.columns.get(m, [m]))}" for m in missing)
        has = ", ".join(present) or "none"
        raise InvalidInput(
            f"no column for {wanted} (the file has: {has})",
            f"缺少列：{wanted}（文件中的列：{has}）",
            field="file",
        )
    return found


def record_fields(
    record: dict[str, Any], columns: dict[str, list[str]]
) -> tuple[dict[str, str | None], dict[str, str]]:
    """One record's fields as text (the first of a field's columns that is not blank) and
    the column each came from (JSON objects need not all use the same keys)."""
    raw: dict[str, str | None] = {}
    used: dict[str, str] = {}
    for name, candidates in columns.items():
        used[name] = candidates[0]
        raw[name] = None
        for column in candidates:
            value = cell_text(record.get(column))
            if value is not None:
                raw[name], used[name] = value, column
                break
    return raw, used


# -- one row ----------------------------------------------------------------------------


@dataclass
class OrderRow:
    """One work order, checked; the place is still in `coord_system`."""

    row: int
    order_number: str
    columns: dict[str, str]
    caller_name: str | None = None
    caller_phone: str | None = None
    content: str = ""
    address: str | None = None
    lonlat: tuple[float, float] | None = None
    coord_system: CoordSystem = CoordSystem.WGS84
    category_sent: str | None = None
    category: str | None = None
    time_limit: str | None = None
    limit_rule: DeadlineRule | None = None
    limit_until: datetime | None = None
    received_at: datetime | None = None
    request_type: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[HotlineIssue] = field(default_factory=list)

    def column(self, name: str) -> str:
        """The field as the file names it (the report speaks the file's language)."""
        return self.columns.get(name, name)

    def warn(self, name: str, reason_en: str, reason_zh: str) -> None:
        """Note something the import did with this row (it is still filed)."""
        self.warnings.append(
            HotlineIssue(self.row, self.order_number, self.column(name), reason_en, reason_zh)
        )


def cell_text(value: Any) -> str | None:
    """A cell as stripped text; blank and JSON null are None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)  # refused by the field's own check
    text = str(value).strip()
    return text or None


def check_row(
    raw: dict[str, str | None],
    number: int,
    columns: dict[str, str],
    mapping: HotlineMapping,
    now: datetime,
    hash_key: bytes,
) -> OrderRow:
    """Check one record's fields (RowProblem for the first that is wrong)."""
    order_number = raw.get("order_number")
    row = OrderRow(number, order_number or "", columns)
    if not order_number:
        raise RowProblem(
            row.column("order_number"), "the order number is required", "工单编号不能为空"
        )
    if len(order_number) > MAX_ORDER_NUMBER or not _ORDER_NUMBER.fullmatch(order_number):
        raise RowProblem(
            row.column("order_number"),
            f"an order number is up to {MAX_ORDER_NUMBER} characters, no spaces",
            f"工单编号最多 {MAX_ORDER_NUMBER} 个字符，且不含空格",
        )
    _caller(row, raw)
    _content(row, raw)
    _place(row, raw, mapping)
    _category(row, raw, mapping)
    _request_type(row, raw, mapping)
    _times(row, raw, now)
    row.hashes = field_hashes(raw, hash_key)
    return row


def _caller(row: OrderRow, raw: dict[str, str | None]) -> None:
    name, phone = raw.get("caller_name"), raw.get("caller_phone")
    if name is not None and (len(name) > MAX_NAME or _CONTROL.search(name)):
        raise RowProblem(
            row.column("caller_name"),
            f"a caller's name is up to {MAX_NAME} characters of text",
            f"来电人姓名最多 {MAX_NAME} 个字",
        )
    row.caller_name = name
    if phone is None:
        return
    if _MASKED_PHONE.search(phone):
        # A masked number identifies nobody and cannot be called back: not kept.
        row.warn("caller_phone", "the number is masked: not stored", "号码已脱敏，不予保存")
        return
    row.caller_phone = normalise_phone(phone)
    if row.caller_phone is None:
        # Never quote the number: the report is read by people who need not see it.
        raise RowProblem(
            row.column("caller_phone"),
            "neither a mobile number (11 digits) nor a landline with its area code (0755-12345678)",
            "不是有效的手机号码或带区号的固定电话",
        )


def _content(row: OrderRow, raw: dict[str, str | None]) -> None:
    content = raw.get("content")
    if not content:
        raise RowProblem(
            row.column("content"), "the request's content is required", "诉求内容不能为空"
        )
    content = _CONTROL.sub("", content)
    if len(content) > MAX_DESCRIPTION:
        row.warn(
            "content",
            f"longer than {MAX_DESCRIPTION} characters: the rest is cut off "
            "(the full text stays with 12345)",
            f"超过 {MAX_DESCRIPTION} 字，超出部分未导入（全文以 12345 为准）",
        )
        content = content[:MAX_DESCRIPTION]
    row.content = content


def _place(row: OrderRow, raw: dict[str, str | None], mapping: HotlineMapping) -> None:
    address, lon, lat = raw.get("address"), raw.get("lon"), raw.get("lat")
    if address is not None and (len(address) > MAX_ADDRESS or _CONTROL.search(address)):
        raise RowProblem(
            row.column("address"),
            f"an address is up to {MAX_ADDRESS} characters of text",
            f"地址最多 {MAX_ADDRESS} 个字",
        )
    row.address = address
    sent_system = raw.get("coord_system")
    if sent_system is not None:
        known = mapping.values.get("coord_system", {})
        sent_system = known.get(normalise_key(sent_system), sent_system)
    system = sent_system or mapping.coord_system.value
    if lon is None and lat is None:
        if address is None:
            raise RowProblem(
                row.column("address"), "give an address or coordinates", "请提供地址或经纬度"
            )
        return
    try:
        row.lonlat = parse_location(lon, lat, system)
    except InvalidInput as exc:
        name = exc.field if exc.field in ("lon", "lat") else "coord_system"
        raise RowProblem(row.column(name), exc.message("en"), exc.message("zh-Hans")) from None
    row.coord_system = CoordSystem(str(system).strip().lower().replace("-", ""))


def _category(row: OrderRow, raw: dict[str, str | None], mapping: HotlineMapping) -> None:
    sent = raw.get("category")
    if sent is not None and len(sent) > MAX_CATEGORY:
        raise RowProblem(
            row.column("category"),
            f"up to {MAX_CATEGORY} characters",
            f"诉求类别最多 {MAX_CATEGORY} 个字",
        )
    row.category_sent = sent
    row.category = mapping.category_for(sent)
    if row.category is not None:
        return
    shown = sent or "(blank)"
    if mapping.fallback_category is None:
        raise RowProblem(
            row.column("category"),
            f"category {shown} is not in the mapping ([categories])",
            f"诉求类别“{sent or '空'}”未在映射中（[categories]）",
        )
    row.category = mapping.fallback_category
    row.warn(
        "category",
        f"category {shown} is not in the mapping: filed as {mapping.fallback_category}",
        f"诉求类别“{sent or '空'}”未在映射中，按 {mapping.fallback_category} 受理",
    )


def _request_type(row: OrderRow, raw: dict[str, str | None], mapping: HotlineMapping) -> None:
    """咨询 / 求助 / 投诉 / 举报 / 建议 (or a spelling the mapping lists); blank is the
    mapping's default, unknown unless it sets one."""
    sent = raw.get("request_type")
    if sent is None:
        row.request_type = mapping.default_request_type
        return
    row.request_type = mapping.request_type_for(sent) if len(sent) <= MAX_REQUEST_TYPE else None
    if row.request_type is None:
        # The value is 12345's vocabulary, not the caller's words: safe to quote.
        shown = sent[:MAX_REQUEST_TYPE]
        zh = "、".join(zh for zh, _en in REQUEST_TYPES.values())
        raise RowProblem(
            row.column("request_type"),
            f"request type {shown!r} is not one of {zh} (or "
            f"{', '.join(REQUEST_TYPES)}; [values.request_type] adds spellings)",
            f"诉求类型“{shown}”应为{zh}之一",
        )


def _times(row: OrderRow, raw: dict[str, str | None], now: datetime) -> None:
    received = raw.get("received_at")
    if received is None:
        row.received_at = now
    else:
        row.received_at = parse_china_time(received, row.column("received_at"))
        if row.received_at > now + FUTURE_SLACK:
            raise RowProblem(
                row.column("received_at"),
                "the received time is in the future",
                "受理时间晚于当前时间",
            )
    limit = raw.get("time_limit")
    if limit is None:
        return
    if len(limit) > MAX_LIMIT:
        raise RowProblem(
            row.column("time_limit"),
            f"up to {MAX_LIMIT} characters",
            f"办理时限最多 {MAX_LIMIT} 个字",
        )
    row.time_limit = limit
    rule = _limit_rule(limit, row.column("time_limit"))
    if rule is not None:
        row.limit_rule = rule
        return
    try:
        row.limit_until = parse_china_time(limit, row.column("time_limit"))
    except RowProblem:
        raise RowProblem(
            row.column("time_limit"),
            "a time limit is a time (2026-11-27 18:00) or an allowance such as "
            "3个工作日, 24小时, 2天",
            "办理时限应为截止时间（如 2026-11-27 18:00）或时长（如 3个工作日、24小时、2天）",
        ) from None
    if row.limit_until <= row.received_at:
        raise RowProblem(
            row.column("time_limit"),
            "the time limit is before the received time",
            "办理时限早于受理时间",
        )


def _limit_rule(text: str, column: str) -> DeadlineRule | None:
    """An allowance such as 3个工作日 or 24小时 as a rule; None when it is not one."""
    match = _LIMIT.fullmatch(unicodedata.normalize("NFKC", text).strip().lower())
    if match is None:
        return None
    amount, unit = int(match.group(1)), _LIMIT_UNITS[match.group(2)]
    if unit == "d":  # calendar days run around the clock
        amount, unit = amount * 24, "h"
    try:
        return DeadlineRule.parse(f"{amount}{unit}")
    except ValueError:
        raise RowProblem(
            column,
            f"time limit {text} is out of range (up to a year)",
            f"办理时限 {text} 超出范围（最长一年）",
        ) from None


def parse_china_time(text: str, column: str) -> datetime:
    """A date and time as 12345 systems write it; without a zone it is China time."""
    normalised = re.sub(r"[年月]", "-", unicodedata.normalize("NFKC", text))
    normalised = re.sub(r"日\s*", " ", normalised).replace("时", ":").replace("分", ":")
    normalised = normalised.replace("秒", "").strip().rstrip(":")
    try:
        moment = pd.Timestamp(normalised).to_pydatetime()
    except (ValueError, OverflowError):
        raise RowProblem(
            column,
            f"{text!r} is not a date and time (2026-11-24 09:30)",
            f"“{text}”不是有效的日期时间（如 2026-11-24 09:30）",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment


def field_hashes(raw: dict[str, str | None], key: bytes) -> dict[str, str]:
    """A keyed hash (HMAC-SHA256, 32 hex) of each field as sent: enough to say which fields
    a re-sent order changed, and no way back to a caller's name or phone without the key."""
    return {
        name: hmac.new(
            key, f"{name}\x1f{raw.get(name) or ''}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        for name in HASHED_FIELDS
    }
