"""How 12345 work orders map onto gridgov: the columns each field may come under, 12345
categories (诉求类别) -> gridgov categories, request types (诉求类型), defaults; bundled,
overridable by a TOML file."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from gis.coords import CoordSystem
from incidents.models.intake import HOTLINE_REQUEST_TYPES

MAPPING_FILE = Path(__file__).parent / "hotline.toml"
FIELDS = [
    "order_number",
    "caller_name",
    "caller_phone",
    "content",
    "address",
    "lon",
    "lat",
    "coord_system",
    "category",
    "time_limit",
    "received_at",
    "request_type",
]
# Request type (诉求类型) -> (Chinese label as 12345 writes it, English); the labels and the
# codes themselves are always read, [values.request_type] adds other spellings.
REQUEST_TYPES: dict[str, tuple[str, str]] = dict(
    zip(
        HOTLINE_REQUEST_TYPES,
        [
            ("咨询", "inquiry"),
            ("求助", "request for help"),
            ("投诉", "complaint"),
            ("举报", "tip-off"),
            ("建议", "suggestion"),
        ],
        strict=True,
    )
)
# Level separators in a 12345 category path such as 城乡建设-消防安全-楼道堆物.
_CATEGORY_LEVELS = "-/>＞－—|｜\\"


@dataclass(frozen=True)
class HotlineMapping:
    """Which columns hold each field, 12345 categories -> gridgov categories, defaults."""

    columns: dict[str, list[str]]
    categories: dict[str, str]
    values: dict[str, dict[str, str]]
    fallback_category: str | None
    coord_system: CoordSystem
    # For an order that gives no request type; None = leave it unknown (the default).
    default_request_type: str | None = None

    @classmethod
    def load(cls, override: Path | None = None) -> HotlineMapping:
        """The bundled mapping, with an override file's entries on top."""
        base = _read_toml(MAPPING_FILE)
        extra = _read_toml(Path(override)) if override is not None else {}
        columns = {**_table(base, "columns"), **_table(extra, "columns")}
        categories = {**_table(base, "categories"), **_table(extra, "categories")}
        base_values, extra_values = _table(base, "values"), _table(extra, "values")
        values = {
            name: {**_table(base_values, name), **_table(extra_values, name)}
            for name in {*base_values, *extra_values}
        }
        defaults = {**_table(base, "defaults"), **_table(extra, "defaults")}
        _check_shape(columns, categories, values, defaults)
        try:
            system = CoordSystem(defaults.get("coord_system", "wgs84"))
        except ValueError:
            raise _bad_mapping("[defaults] coord_system is wgs84, gcj02 or bd09") from None
        values["request_type"] = {
            **{key: code for code, (zh, _en) in REQUEST_TYPES.items() for key in (code, zh)},
            **values.get("request_type", {}),
        }
        wrong = sorted({v for v in values["request_type"].values() if v not in REQUEST_TYPES})
        default_type = defaults.get("request_type") or None
        if default_type is not None and default_type not in REQUEST_TYPES:
            wrong.append(default_type)
        if wrong:
            raise _bad_mapping(
                f"request types {', '.join(wrong)} are unknown; the types are "
                f"{', '.join(REQUEST_TYPES)}"
            )
        return cls(
            columns=columns,
            categories=_normalised_keys(categories),
            values={k: _normalised_keys(v) for k, v in values.items()},
            fallback_category=defaults.get("category") or None,
            coord_system=system,
            default_request_type=default_type,
        )

    def request_type_for(self, sent: str) -> str | None:
        """The request type a 12345 value names (咨询, 投诉, complaint, ...); None if none."""
        return self.values["request_type"].get(normalise_key(sent))

    def category_for(self, sent: str | None) -> str | None:
        """The gridgov category for a 12345 category: the whole text, then its levels from
        the most specific up; None when nothing matches."""
        if not sent:
            return None
        key = normalise_key(sent)
        if key in self.categories:
            return self.categories[key]
        for level in reversed([p for p in _levels(key) if p]):
            if level in self.categories:
                return self.categories[level]
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _bad_mapping(f"cannot read {path.name} as UTF-8 TOML: {exc}") from exc


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _bad_mapping(f"[{name}] must be a table")
    return table


def _check_shape(columns: Any, categories: Any, values: Any, defaults: Any) -> None:
    def strings(table: Any) -> bool:
        return isinstance(table, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        )

    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise _bad_mapping(
            f"[columns] {', '.join(unknown)}: not hotline fields ({', '.join(FIELDS)})"
        )
    if not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in columns.values()
    ):
        raise _bad_mapping("each [columns] entry is a list of column names")
    if not (
        strings(categories)
        and strings(defaults)
        and all(strings(table) for table in values.values())
    ):
        raise _bad_mapping("[categories], [defaults] and [values.*] map text to text")


def _bad_mapping(reason: str) -> InvalidInput:
    return InvalidInput(
        f"the hotline mapping is wrong: {reason}", f"热线映射文件有误：{reason}", field="mapping"
    )


def normalise_key(text: str) -> str:
    """How category and value names are compared: NFKC (full-width to half-width), upper
    case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).upper().split())


def _normalised_keys(table: dict[str, str]) -> dict[str, str]:
    return {normalise_key(k): v for k, v in table.items()}


def _levels(key: str) -> list[str]:
    for separator in _CATEGORY_LEVELS[1:]:
        key = key.replace(separator, _CATEGORY_LEVELS[0])
    return [part.strip() for part in key.split(_CATEGORY_LEVELS[0]) if part.strip()]
