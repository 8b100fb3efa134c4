"""A self-contained HTML map of one area for analysts and meetings (folium): its grid
cells with their coverage counts, or its open hazards at their public place.

folium's page links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; this one
carries Leaflet's script and stylesheet (with its images as data URIs) from
maps/static/node_modules instead, and uses nothing else (GeoJSON layers, circle markers,
tooltips), so the file opens offline and asks no server for anything. There is no base
map: tiles would have to be fetched. Only public-safe data goes in: aggregates per cell,
and what the public map shows of an incident (status, category, coarse place, date).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any, Literal

import folium
import shapely
from branca.element import Element
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from gis.geometry import BBox
from grid.regions import region_feature, region_path
from incidents.handling.coverage import cell_coverage
from incidents.publication.views import public_open_incidents
from maps.page_assets import VENDOR_DIR
from maps.pages import NO_DATA_COLOUR, STATUS_COLOURS, dashboard_config

MapLayer = Literal["coverage", "incidents"]
LAYERS: tuple[MapLayer, ...] = ("coverage", "incidents")
LEAFLET_DIR = VENDOR_DIR / "leaflet" / "dist"
# Far more than a district holds; a bound so one command cannot build a file nobody opens.
MAX_FEATURES = 50_000
# What a cell's tooltip shows: counts only.
_COVERAGE_FIELDS = {
    "code": "网格编码 code",
    "name": "名称 name",
    "staffed": "有网格员 staffed",
    "open": "未办结 open",
    "overdue": "超期 overdue",
    "buildings": "建筑 buildings",
}
_INCIDENT_FIELDS = {
    "label_zh": "类别",
    "label_en": "category",
    "status": "状态 status",
    "created_at": "上报 reported",
}


def leaflet_inline() -> tuple[str, str]:
    """Leaflet's script and its stylesheet, the images it names inlined as data URIs."""
    script, sheet = LEAFLET_DIR / "leaflet.js", LEAFLET_DIR / "leaflet.css"
    if not script.is_file() or not sheet.is_file():
        raise FileNotFoundError(
            f"Leaflet is not installed in {LEAFLET_DIR}: run scripts/setup "
            "(npm install in maps/static)"
        )

    def data_uri(match: re.Match[str]) -> str:
        png = base64.b64encode((LEAFLET_DIR / "images" / match[1]).read_bytes()).decode()
        return f"url(data:image/png;base64,{png})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, sheet.read_text("utf-8"))
    return script.read_text("utf-8"), css


def _open_colour(count: int | None) -> str:
    """The dashboard's colour for a cell's open reports (the same classes as its legend)."""
    if count is None:
        return NO_DATA_COLOUR
    layer = next(x for x in dashboard_config()["layers"] if x["id"] == "open")
    classes = layer["cell"]["classes"]
    # The last class is open-ended: a count above its top break keeps its colour.
    chosen = [c for c in classes if c["min"] <= count] or classes[:1]
    return chosen[-1]["colour"]


def render_offline_map(
    title: str, outline: dict[str, Any], layer: MapLayer, features: list[dict[str, Any]]
) -> str:
    """The HTML of a map of `outline` (a GeoJSON Feature) with the layer's features."""
    script, css = leaflet_inline()
    west, south, east, north = shapely.geometry.shape(outline["geometry"]).bounds
    fmap = folium.Map(tiles=None, control_scale=True, attribution_control=False)
    # No CDN links: Leaflet is inlined below and nothing else of folium's defaults is used.
    fmap.default_js, fmap.default_css = [], []
    header = fmap.get_root().header
    header.add_child(Element(f"<title>{_escape(title)}</title>"), name="title")
    header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(Element(f"<script>{script}</script>"), name="leaflet_js")
    folium.GeoJson(
        outline,
        name="area",
        style_function=lambda _: {"color": "#333333", "weight": 2, "fill": False},
    ).add_to(fmap)
    if layer == "coverage":
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="coverage",
            style_function=lambda f: {
                "color": "#555555",
                "weight": 1,
                "fillColor": _open_colour(f["properties"].get("open")),
                "fillOpacity": 0.6,
            },
            tooltip=folium.GeoJsonTooltip(
                list(_COVERAGE_FIELDS), aliases=list(_COVERAGE_FIELDS.values())
            ),
        ).add_to(fmap)
    elif features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="incidents",
            marker=folium.CircleMarker(radius=6, weight=1, fill_opacity=0.8),
            style_function=lambda f: {
                "color": "#ffffff",
                "fillColor": STATUS_COLOURS.get(f["properties"]["status"], "#333333"),
            },
            tooltip=folium.GeoJsonTooltip(
                list(_INCIDENT_FIELDS), aliases=list(_INCIDENT_FIELDS.values())
            ),
        ).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap.get_root().render()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _public_cell(feature: dict[str, Any]) -> dict[str, Any]:
    """A coverage cell with only the counts the map shows."""
    props = feature["properties"]
    return feature | {"properties": {key: props.get(key) for key in _COVERAGE_FIELDS}}


async def area_map(
    session: AsyncSession, region_code: str, layer: MapLayer, now: datetime
) -> tuple[str, int]:
    """The HTML map of a region's cells in force (coverage) or its open hazards at their
    public place (incidents), and how many features it shows."""
    outline = await region_feature(session, region_code)
    if outline is None:
        raise NotFound(f"no region {region_code}", f"未找到区域 {region_code}", field="region")
    box = BBox(*shapely.geometry.shape(outline["geometry"]).bounds)
    if layer == "coverage":
        scope = await region_path(session, region_code)
        cells = await cell_coverage(session, scope, box, now, limit=MAX_FEATURES)
        features = [_public_cell(cell) for cell in cells]
    else:
        # The public map's own query: a point in the region's bbox but outside the region
        # shows as it does there (its coarse place is public anyway).
        features = await public_open_incidents(session, box, None, limit=MAX_FEATURES)
    title = f"{outline['properties']['name']} ({region_code}) — {layer}"
    return render_offline_map(title, outline, layer, features), len(features)
