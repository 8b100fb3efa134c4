"""City assets (城市部件): the kinds gridgov registers, the standard 16-digit asset code,
and the queries that find assets near a spot.

The code follows the component coding of 城市管理部件和事件 (GB/T 30428.2, CJ/T 214):
6-digit county code (GB/T 2260) + 2-digit major class + 2-digit subclass + 6-digit serial.
`parse_asset_code` is its one parser; every import row, API parameter and report's
`asset_code` goes through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from gis.geometry import degrees_around


@dataclass(frozen=True)
class AssetKind:
    """One kind of asset: its key, its major class, the subclass codes it takes (the
    first is the one gridgov writes), and its labels."""

    key: str
    major: str
    minors: tuple[str, ...]
    label_zh: str
    label_en: str


# The vocabulary, in this one place: the model's CHECK, the importer, the demo, the API
# and the tiles use it. Major classes are the standard's (01 公用设施, 06 其他设施).
# Manhole covers are split by owner in the standard (上水, 污水, 雨水, 电力, 路灯, 通信, ...
# 0101-0114); any of those subclasses is a manhole cover here. Hydrant and street-light
# subclasses follow the common CJ/T 214 tables; extinguisher cabinets and e-bike charging
# points are not in the base classes, so they sit in 06 其他设施 as city extensions. Check
# the subclass codes against the annex your city uses before relying on them.
ASSET_KINDS: dict[str, AssetKind] = {
    k.key: k
    for k in (
        AssetKind("fire_hydrant", "01", ("16",), "消火栓", "Fire hydrant"),
        AssetKind("extinguisher_cabinet", "06", ("51",), "灭火器箱", "Extinguisher cabinet"),
        AssetKind("ebike_charger", "06", ("52",), "电动自行车充电桩", "E-bike charging point"),
        AssetKind(
            "manhole_cover", "01", tuple(f"{n:02d}" for n in range(1, 15)), "井盖", "Manhole cover"
        ),
        AssetKind("street_light", "01", ("18",), "路灯", "Street light"),
    )
}
ASSET_STATUSES = ["in_service", "damaged", "removed"]
ASSET_SOURCES = ["demo", "file"]
CODE_PATTERN = r"^[0-9]{16}$"
# Report page: assets offered within this many metres of the pin, at most this many.
NEARBY_RADIUS_M = 50.0
NEARBY_LIMIT = 10

_BY_CLASS = {(k.major, minor): k for k in ASSET_KINDS.values() for minor in k.minors}


@dataclass(frozen=True)
class AssetCode:
    """A parsed asset code: county (GB/T 2260), major class, subclass, serial."""

    county: str
    major: str
    minor: str
    serial: str

    @property
    def kind(self) -> AssetKind | None:
        """The kind the class and subclass name, if gridgov registers it."""
        return _BY_CLASS.get((self.major, self.minor))

    def __str__(self) -> str:
        return f"{self.county}{self.major}{self.minor}{self.serial}"


def parse_asset_code(value: object, field: str = "code") -> AssetCode:
    """Split and check a 16-digit asset code; a 422 naming `field` when it is not one."""
    code = "" if value is None else str(value).strip()
    if not re.fullmatch(CODE_PATTERN, code):
        raise InvalidInput(
            f"{field} must be 16 digits (county 6 + class 2 + subclass 2 + serial 6)",
            "部件编码应为 16 位数字（县级代码 6 位 + 大类 2 位 + 小类 2 位 + 序号 6 位）",
            field=field,
        )
    parsed = AssetCode(code[:6], code[6:8], code[8:10], code[10:])
    if parsed.county[2:] == "0000" or parsed.serial == "000000":
        raise InvalidInput(
            f"{field}: the county code must name a county (not a province) "
            "and the serial cannot be 000000",
            "部件编码的县级代码须到区县，序号不能为 000000",
            field=field,
        )
    return parsed


def kind_for(parsed: AssetCode, kind: str | None, field: str = "kind") -> AssetKind:
    """The asset's kind: the one given, which must agree with the code's class and
    subclass, else the one the code names; a 422 naming the field otherwise."""
    if kind is None:
        if parsed.kind is None:
            raise InvalidInput(
                f"class {parsed.major} subclass {parsed.minor} is no asset kind "
                "gridgov registers; give the kind",
                f"大类 {parsed.major} 小类 {parsed.minor} 不是已登记的部件类型",
                field=field,
            )
        return parsed.kind
    found = ASSET_KINDS.get(kind)
    if found is None:
        raise InvalidInput(
            f"unknown kind {kind!r}; one of " + ", ".join(ASSET_KINDS),
            f"未知部件类型：{kind}",
            field=field,
        )
    if parsed.kind is not found:
        raise InvalidInput(
            f"the code's class {parsed.major}{parsed.minor} is not a {kind} "
            f"({found.major}{'/'.join(found.minors)})",
            f"部件编码的类别 {parsed.major}{parsed.minor} 与类型 {found.label_zh} 不符",
            field="code",
        )
    return found


def kind_label(kind: str) -> dict[str, str]:
    """A kind's labels for an answer: {"zh-Hans": ..., "en": ...}."""
    found = ASSET_KINDS[kind]
    return {"zh-Hans": found.label_zh, "en": found.label_en}


# Assets in service within :radius metres of the point, nearest first. The box test
# around the point literal (in the column's SRID) lets the GiST index on location answer
# it and the KNN order; the exact distance is measured on the spheroid, never in degrees.
_NEARBY = text("""
    SELECT a.code, a.kind, a.status, a.name,
           round(ST_Distance(a.location::geography, pt::geography)::numeric, 1) AS distance_m,
           ST_X(a.location) AS lon, ST_Y(a.location) AS lat
    FROM city_assets a, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt
    WHERE a.location && ST_Expand(pt, :radius_deg)
      AND ST_DWithin(a.location::geography, pt::geography, :radius)
      AND a.status <> 'removed'
      AND (CAST(:kinds AS text[]) IS NULL OR a.kind = ANY(CAST(:kinds AS text[])))
    ORDER BY distance_m, a.code
    LIMIT :limit
""")


async def assets_nearby(
    session: AsyncSession,
    lon: float,
    lat: float,
    kinds: list[str] | None,
    radius_m: float = NEARBY_RADIUS_M,
    limit: int = NEARBY_LIMIT,
) -> list[dict[str, Any]]:
    """Public assets (not removed) of these kinds (None: any) near a point, nearest first:
    code, kind with labels, status, name, distance in metres, lon/lat. Assets are public
    objects; nothing here is about a person."""
    rows = await session.execute(
        _NEARBY,
        {
            "lon": lon,
            "lat": lat,
            "radius": radius_m,
            "radius_deg": degrees_around(lat, radius_m),
            "kinds": kinds,
            "limit": limit,
        },
    )
    return [
        {
            "code": r.code,
            "kind": r.kind,
            "kind_label": kind_label(r.kind),
            "status": r.status,
            "name": r.name,
            "distance_m": float(r.distance_m),
            "lon": round(r.lon, 7),
            "lat": round(r.lat, 7),
        }
        for r in rows
    ]
