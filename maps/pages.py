"""Server-rendered page shells (Jinja2). The pages fetch their data over the JSON APIs in
the browser, so this module needs neither the register nor the incidents packages."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from branca.colormap import StepColormap
from jinja2 import Environment, FileSystemLoader, select_autoescape

from maps.page_assets import assets_version, missing_vendor_files

Language = Literal["zh-Hans", "en"]
TEMPLATES = Path(__file__).parent / "templates"

# Every label a page or its script shows, in both languages.
# Every label a page or its script shows, in both languages: one TOML file per page
# (maps/strings/*.toml), merged, so each page's labels live beside each other.
STRINGS_DIR = Path(__file__).parent / "strings"
LANGUAGES: tuple[Language, ...] = ("zh-Hans", "en")


@cache
def strings() -> dict[str, dict[str, str]]:
    """All page labels by language, from maps/strings/*.toml; a key twice is an error."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(STRINGS_DIR.glob("*.toml")):
        with path.open("rb") as f:
            table = tomllib.load(f)
        for lang in LANGUAGES:
            for key, value in table.get(lang, {}).items():
                if key in merged[lang]:
                    raise ValueError(f"{path.name}: label {key!r} is defined twice")
                merged[lang][key] = value
    return merged


# Marker colours per status (open ones warm, handled ones cool); readable on white.
STATUS_COLOURS = {
    "submitted": "#c0392b",
    "assigned": "#d35400",
    "accepted": "#b7791f",
    "in_progress": "#8e44ad",
    "transferred": "#6d4c41",
    "reopened": "#c2185b",
    "resolved": "#2e7d32",
    "closed": "#546e7a",
}


# The coverage map's layers. folium's own HTML loads Leaflet from a CDN and runs inline
# scripts, which the offline rule and our CSP (script-src 'self') forbid; so the map is
# drawn by our MapLibre script (static/js/dashboard.js) and only the colour scales come
# from branca, folium's colour-map library. Each layer says, for cells and for regions
# (the drill-down's districts, streets and communities), which feature property it
# colours, how to read it (kind, unit), its class breaks and a colour per class (the
# legend shows the same), and the label key of its legend caption; `window` names the
# figure's time window in the data's `windows`, which the caption quotes.
NO_DATA_COLOUR = "#d9d9d9"
_REDS = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"]
_ORANGES = ["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"]  # darker = slower
_PURPLES = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#6a51a3"]  # darker = more hazards
_RED_TO_GREEN = ["#d7301f", "#fc8d59", "#91cf60", "#1a9850"]  # higher = better
_RED_TO_BLUE = ["#e34a33", "#fdbb84", "#9ecae1", "#2b8cbe"]  # higher = better
_COUNT_BREAKS = [0, 1, 3, 6, 10]  # classes [0,1) [1,3) [3,6) [6,∞)
_PER_CELL_BREAKS = [0, 0.2, 0.5, 1, 2]  # a region's reports per cell in force
_SATISFACTION_BREAKS = [0.0, 0.6, 0.8, 0.9, 1.0]
_STAFFED_SHARE_BREAKS = [0.0, 0.8, 0.95, 1.0, 1.01]  # the top class is "every cell"
# Hours to acceptance: the red tier's accept deadline is 2 h, the yellow tier's 24 h.
_RESPONSE_BREAKS = [0, 2, 8, 24, 72]
_HAZARD_BREAKS = [0, 1, 3, 6, 10]  # fire-hazard reports per 100 buildings a year
_PATROL_BREAKS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _classes(colours: list[str], breaks: list[float]) -> list[dict[str, Any]]:
    """One class per colour, [min, max), its colour read from a branca step colour map."""
    scale = StepColormap(colours, index=breaks, vmin=breaks[0], vmax=breaks[-1])
    return [
        {"min": low, "max": high, "colour": scale.rgb_hex_str(low)}
        for low, high in pairwise(breaks)
    ]


def _scale(
    prop: str, kind: str, colours: list[str], breaks: list[float], *, unit: str | None = None
) -> dict[str, Any]:
    """How one level colours a layer: a numeric property in classes."""
    return {"property": prop, "kind": kind, "unit": unit, "classes": _classes(colours, breaks)}


def _layer(
    layer_id: str,
    cell: dict[str, Any],
    region: dict[str, Any] | None = None,
    *,
    window: str | None = None,
) -> dict[str, Any]:
    """A layer: the same scale for cells and regions unless the region's is given."""
    region_caption = f"dash_caption_{layer_id}_region" if region else f"dash_caption_{layer_id}"
    return {
        "id": layer_id,
        "window": window,
        "cell": cell | {"caption": f"dash_caption_{layer_id}"},
        "region": (region or cell) | {"caption": region_caption},
    }


def dashboard_config() -> dict[str, Any]:
    """The coverage map's layers for its script (see the note above NO_DATA_COLOUR)."""
    staffed = {
        "property": "staffed",
        "kind": "boolean",
        "unit": None,
        "classes": [
            {"value": True, "colour": "#2b8cbe", "label": "staffed"},
            {"value": False, "colour": "#e34a33", "label": "unstaffed"},
        ],
    }
    return {
        "noDataColour": NO_DATA_COLOUR,
        "layers": [
            _layer(
                "staffed",
                staffed,
                _scale("staffed_share", "rate", _RED_TO_BLUE, _STAFFED_SHARE_BREAKS),
            ),
            _layer(
                "open",
                _scale("open", "count", _REDS, _COUNT_BREAKS),
                _scale(
                    "open_per_cell", "measure", _REDS, _PER_CELL_BREAKS, unit="dash_unit_per_cell"
                ),
            ),
            _layer(
                "overdue",
                _scale("overdue", "count", _REDS, _COUNT_BREAKS),
                _scale(
                    "overdue_per_cell",
                    "measure",
                    _REDS,
                    _PER_CELL_BREAKS,
                    unit="dash_unit_per_cell",
                ),
            ),
            _layer(
                "response",
                _scale(
                    "response_hours", "measure", _ORANGES, _RESPONSE_BREAKS, unit="dash_unit_hours"
                ),
                window="response_days",
            ),
            _layer(
                "satisfaction",
                _scale("satisfaction", "rate", _RED_TO_GREEN, _SATISFACTION_BREAKS),
                window="satisfaction_days",
            ),
            _layer(
                "hazards",
                _scale(
                    "hazard_density",
                    "measure",
                    _PURPLES,
                    _HAZARD_BREAKS,
                    unit="dash_unit_per_100_buildings",
                ),
                window="hazard_days",
            ),
            _layer(
                "patrol",
                _scale("patrol_coverage", "rate", _RED_TO_GREEN, _PATROL_BREAKS),
                window="patrol_days",
            ),
        ],
    }


@dataclass(frozen=True)
class PageContext:
    """What every page shell needs besides its own data."""

    lang: Language
    basemap_url: str | None
    # The place to show first: [min lon, min lat, max lon, max lat].
    extent: tuple[float, float, float, float]


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def pick_language(requested: str | None, default: Language) -> Language:
    """`?lang=en` or `?lang=zh-Hans`; anything else is the default."""
    return requested if requested in LANGUAGES else default  # type: ignore[return-value]


def render_page(template: str, ctx: PageContext, path: str, **data: Any) -> str:
    """A page shell with its strings and a JSON config for its script."""
    labels = strings()[ctx.lang]
    other: Language = "en" if ctx.lang == "zh-Hans" else "zh-Hans"
    config = {
        "lang": ctx.lang,
        "strings": labels,
        "extent": ctx.extent,
        "statusColours": STATUS_COLOURS,
        "assetsVersion": assets_version(),
        **data,
    }
    return (
        _environment()
        .get_template(template)
        .render(
            t=labels,
            lang=ctx.lang,
            other_lang=other,
            path=path,
            missing=missing_vendor_files(),
            v=assets_version(),
            # Safe inside <script type="application/json">: no "</" can end the element.
            config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
            status_colours=STATUS_COLOURS,
            **data,
        )
    )
