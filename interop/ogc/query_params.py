"""OGC API Features requests: their query parameters checked and parsed (bbox, limit,
datetime, the signed keyset cursor), and their errors in the standard's exception JSON
(`{"code", "description"}`), never the API's own error shape."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from starlette.datastructures import QueryParams

from core.clock import CHINA_TZ
from gis.geometry import BBox, BBoxError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
# Output formats a client may name with `f` (everything is JSON here).
FORMATS = ("json", "geojson")
_CURSOR_TAG_BYTES = 16
# Timestamps are stored to the microsecond: "at or before t" is "before t + 1 µs".
_TICK = timedelta(microseconds=1)


@dataclass
class OgcError(Exception):
    """An error answered as an OGC API exception: status, code, description (zh-Hans,
    en) and the parameter at fault, if any."""

    status: int
    code: str
    description_zh: str
    description_en: str
    field: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.description_en)

    def body(self, language: str) -> dict[str, str]:
        """The exception JSON in 'zh-Hans' or 'en'."""
        text = self.description_en if language == "en" else self.description_zh
        body = {"code": self.code, "description": text}
        if self.field:
            body["field"] = self.field
        return body


def invalid(field: str, reason_zh: str, reason_en: str) -> OgcError:
    """400: a parameter's value cannot be used; the description names it."""
    return OgcError(
        400,
        "InvalidParameterValue",
        f"参数 {field} 无效：{reason_zh}",
        f"{field}: {reason_en}",
        field,
    )


def not_found(what_zh: str, what_en: str) -> OgcError:
    """404 in the standard's format."""
    return OgcError(404, "NotFound", f"未找到{what_zh}", f"Not found: {what_en}")


def check_parameters(params: QueryParams, allowed: Iterable[str]) -> None:
    """Refuse a parameter the API does not define, one given twice, or an `f` that
    names a format this API does not serve."""
    allowed = set(allowed) | {"f"}
    for name in params:
        if name not in allowed:
            names = ", ".join(sorted(allowed))
            raise invalid(
                name,
                f"不支持该参数（可用：{names}）",
                f"unknown parameter (this request takes: {names})",
            )
        if len(params.getlist(name)) > 1:
            raise invalid(name, "只能给出一次", "given more than once")
    if "f" in params and params["f"].lower() not in FORMATS:
        raise invalid("f", "仅支持 json", "only json is served")


def parse_limit(text: str | None) -> int:
    """The page size: 1..MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise invalid(
            "limit",
            f"应为 1 到 {MAX_LIMIT} 之间的整数",
            f"must be a whole number from 1 to {MAX_LIMIT}",
        )
    return int(text)


def parse_bbox(text: str | None, crs: str | None) -> tuple[BBox, ...] | None:
    """minLon,minLat,maxLon,maxLat (or six numbers with heights, which are ignored) in
    CRS84, the only `bbox-crs` served. A box whose west edge is east of its east edge
    crosses the antimeridian (177,65,-177,70, as the standard says): it is the two
    boxes either side of it."""
    if crs is not None and crs != CRS84:
        raise invalid("bbox-crs", f"仅支持 {CRS84}", f"only {CRS84} is supported")
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    try:
        west, south, east, north = (p.strip() for p in parts) if len(parts) == 4 else ("",) * 4
        if west and east and _number(west) > _number(east):
            return (
                BBox.parse(f"{west},{south},180,{north}"),
                BBox.parse(f"-180,{south},{east},{north}"),
            )
        return (BBox.parse(",".join(parts)),)
    except BBoxError as exc:
        raise invalid(
            "bbox", f"应为 最小经度,最小纬度,最大经度,最大纬度（{exc}）", str(exc)
        ) from exc


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise BBoxError("every bbox value must be a number") from exc


def _instant(text: str, *, end: bool) -> datetime:
    """An RFC 3339 date-time (with its offset), or a date: China's day, from its start
    (or, as an interval's end, up to the next day's start)."""
    value = text.strip().upper()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
        return datetime.combine(day, time(), CHINA_TZ)
    if "T" not in value:
        raise ValueError("not a date or date-time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a date-time needs its offset (Z or +08:00)")
    return moment + _TICK if end else moment


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None]:
    """`datetime` as a half-open range [start, end): an instant, or a closed interval
    `a/b` whose ends may be open (`..` or empty)."""
    if text is None:
        return None, None
    reason_zh = "应为 RFC 3339 时刻（如 2026-11-24T08:00:00Z）、日期，或区间 a/b（开放端用 ..）"
    reason_en = (
        "expected an RFC 3339 date-time (e.g. 2026-11-24T08:00:00Z), a date, or an "
        "interval a/b with .. for an open end"
    )
    ends = text.split("/")
    try:
        if len(ends) == 1:
            if ends[0] in ("", ".."):
                raise ValueError("an instant cannot be open")
            return _instant(ends[0], end=False), _instant(ends[0], end=True)
        if len(ends) != 2:
            raise ValueError("more than one /")
        start = None if ends[0] in ("", "..") else _instant(ends[0], end=False)
        stop = None if ends[1] in ("", "..") else _instant(ends[1], end=True)
    except (ValueError, OverflowError) as exc:
        raise invalid("datetime", reason_zh, reason_en) from exc
    if start is not None and stop is not None and start >= stop:
        raise invalid("datetime", "区间起点晚于终点", "the interval starts after it ends")
    return start, stop


def _tag(secret: str, payload: bytes) -> bytes:
    # Domain-separated from the token signatures that use the same secret.
    return hmac.new(secret.encode(), b"ogc-cursor\0" + payload, hashlib.sha256).digest()[
        :_CURSOR_TAG_BYTES
    ]


def sign_cursor(secret: str, collection: str, last_id: int) -> str:
    """An opaque cursor for the page after `last_id` of this collection, signed so a
    client cannot forge or alter it."""
    payload = f"{collection}:{last_id}".encode()
    return base64.urlsafe_b64encode(payload + _tag(secret, payload)).decode().rstrip("=")


def read_cursor(secret: str, collection: str, text: str | None) -> int | None:
    """The last id a cursor of this collection carries; 400 for any other text."""
    if text is None:
        return None
    failure = invalid(
        "cursor",
        "请使用上一页 next 链接中的游标",
        "not a cursor of this collection: follow the `next` link of a page",
    )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise failure from exc
    payload, tag = raw[:-_CURSOR_TAG_BYTES], raw[-_CURSOR_TAG_BYTES:]
    if len(raw) <= _CURSOR_TAG_BYTES or not hmac.compare_digest(tag, _tag(secret, payload)):
        raise failure
    name, _, last_id = payload.decode().rpartition(":")
    if name != collection or not last_id.isdigit():
        raise failure
    return int(last_id)
