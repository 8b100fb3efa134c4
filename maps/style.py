"""The base map's MapLibre style (style spec v8): gridgov's base-map tiles drawn in calm
colours, with names, and an optional external raster base (`GRIDGOV_BASEMAP_URL`) under
it. Every URL in it points back at gridgov: the tiles, and the glyphs built from the
installed Noto Sans CJK font (maps/glyphs.py). No sprite: places are drawn as circles.

Layer ids are a contract with the pages (maps/static/js/mapgl.js and the page scripts
that add their own layers): `road-label` holds the road names; pages insert their layers
below `labels-start` (the first label layer) so names stay readable.
"""

from __future__ import annotations

from typing import Any

from maps.basemap_tiles import (
    BUILDING_ZOOM,
    CELL_ZOOM,
    COMPOUND_ZOOM,
    MAJOR_PLACE_ZOOM,
    MIN_ZOOM,
)
from maps.glyphs import BOLD, REGULAR

SOURCE = "gridgov"
RASTER_SOURCE = "raster-base"
TILE_MAX_ZOOM = 16  # deeper zooms overzoom the z16 tiles (4096 units each)
FIRST_LABEL_LAYER = "labels-start"
ROAD_LABEL_LAYER = "road-label"

INK = "#3d4650"  # label text
HALO = "#ffffff"
BACKGROUND = "#f3f1ec"
WATER = "#b7d3e6"
GREEN = "#d5e6c8"
COMPOUND = "#ebe5dc"
COMPOUND_LINE = "#d2c6b5"
BUILDING = "#ddd7cf"
BUILDING_LINE = "#c4bbb0"
CELL_LINE = "#5f7a94"
REGION_LINE = "#8a6d8f"

# Road fill and casing colours, and widths in pixels at zooms 10, 14 and 18.
ROADS: dict[str, tuple[str, str, tuple[float, float, float]]] = {
    "motorway": ("#f6cf8a", "#c9a05a", (2.5, 8, 22)),
    "trunk": ("#f8d99d", "#cda766", (2.2, 7, 20)),
    "primary": ("#fbe6b4", "#cfae72", (2.0, 6, 18)),
    "secondary": ("#ffffff", "#bfb6a8", (1.2, 4.5, 14)),
    "tertiary": ("#ffffff", "#c4bcb0", (1.0, 3.5, 12)),
    "residential": ("#ffffff", "#cac3b8", (0.5, 2.2, 9)),
    "service": ("#ffffff", "#d0c9bf", (0.3, 1.2, 5)),
    "path": ("#f7f5f0", "#d5cfc6", (0.3, 0.8, 3)),
}
PLACE_COLOURS = {
    "school": "#5b7fb0",
    "market": "#b07a3c",
    "hospital": "#c0392b",
    "clinic": "#c0392b",
    "fire_station": "#d35400",
    "police": "#34558b",
    "government": "#6c5b7b",
    "transit": "#2e7d6b",
    "community_centre": "#6b8e23",
}
PLACE_OTHER = "#6b7580"


def _match(prop: str, values: dict[str, Any], default: Any) -> list:
    expression: list = ["match", ["get", prop]]
    for key, value in values.items():
        expression += [key, value]
    return [*expression, default]


def _road_width(scale: float = 1.0, extra: float = 0.0) -> list:
    stops: list = ["interpolate", ["exponential", 1.5], ["zoom"]]
    for index, zoom in enumerate((10, 14, 18)):
        by_class = {k: round(v[2][index] * scale + extra, 2) for k, v in ROADS.items()}
        stops += [zoom, _match("class", by_class, 1)]
    return stops


def _layer(layer_id: str, kind: str, source_layer: str | None = None, **parts: Any) -> dict:
    layer: dict[str, Any] = {"id": layer_id, "type": kind}
    if source_layer is not None:
        layer |= {"source": SOURCE, "source-layer": source_layer}
    for key, value in parts.items():
        layer[key.replace("_", "-")] = value
    return layer


def _text(field: list, size: float | list, font: str = REGULAR, **extra: Any) -> dict:
    return {"text-field": field, "text-font": [font], "text-size": size, **extra}


def _label_paint(colour: str = INK) -> dict:
    return {"text-color": colour, "text-halo-color": HALO, "text-halo-width": 1.5}


def build_style(base_url: str, raster_url: str | None = None) -> dict[str, Any]:
    """The style for a server at `base_url` (no trailing slash)."""
    sources: dict[str, Any] = {
        SOURCE: {
            "type": "vector",
            "tiles": [f"{base_url}/tiles/basemap/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": MIN_ZOOM,
            "maxzoom": TILE_MAX_ZOOM,
        }
    }
    layers: list[dict[str, Any]] = [
        _layer("background", "background", paint={"background-color": BACKGROUND})
    ]
    # Over an external base the areas are see-through, so its picture shows.
    area_opacity = 1.0
    if raster_url:
        # Leaflet-style {s} subdomains become MapLibre's list of tile URLs.
        urls = (
            [raster_url.replace("{s}", s) for s in "abc"] if "{s}" in raster_url else [raster_url]
        )
        sources[RASTER_SOURCE] = {"type": "raster", "tiles": urls, "tileSize": 256}
        layers.append({"id": "raster-base", "type": "raster", "source": RASTER_SOURCE})
        area_opacity = 0.45

    layers += [
        _layer("water", "fill", "water", paint={"fill-color": WATER, "fill-opacity": area_opacity}),
        _layer("green", "fill", "green", paint={"fill-color": GREEN, "fill-opacity": area_opacity}),
        _layer(
            "compounds",
            "fill",
            "compounds",
            minzoom=COMPOUND_ZOOM,
            paint={
                "fill-color": COMPOUND,
                "fill-opacity": area_opacity,
                "fill-outline-color": COMPOUND_LINE,
            },
        ),
        _layer(
            "road-casing",
            "line",
            "roads",
            layout={"line-cap": "round", "line-join": "round"},
            paint={
                "line-color": _match("class", {k: v[1] for k, v in ROADS.items()}, "#ccc"),
                "line-width": _road_width(extra=1.5),
            },
        ),
        _layer(
            "road",
            "line",
            "roads",
            layout={"line-cap": "round", "line-join": "round"},
            paint={
                "line-color": _match("class", {k: v[0] for k, v in ROADS.items()}, "#fff"),
                "line-width": _road_width(),
            },
        ),
        _layer(
            "buildings",
            "fill",
            "buildings",
            minzoom=BUILDING_ZOOM,
            paint={"fill-color": BUILDING, "fill-outline-color": BUILDING_LINE},
        ),
        _layer(
            "cells",
            "line",
            "cells",
            minzoom=CELL_ZOOM,
            paint={
                "line-color": CELL_LINE,
                "line-opacity": 0.7,
                "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.6, 16, 1.5],
                "line-dasharray": [3, 2],
            },
        ),
        _layer(
            "region-borders",
            "line",
            "regions",
            layout={"line-join": "round"},
            paint={
                "line-color": REGION_LINE,
                "line-opacity": 0.8,
                "line-width": _match("level", {"city": 2.5, "district": 2, "street": 1.5}, 1.0),
                "line-dasharray": [4, 2, 1, 2],
            },
        ),
        # --- labels: pages add their own layers below this one --------------------------
        _layer(
            FIRST_LABEL_LAYER,
            "symbol",
            "compounds",
            minzoom=14,
            layout=_text(["get", "name"], 12, **{"text-max-width": 8}),
            paint=_label_paint("#6b5a45"),
        ),
        _layer(
            "water-label",
            "symbol",
            "water",
            minzoom=12,
            layout=_text(["get", "name"], 12, **{"text-max-width": 8}),
            paint=_label_paint("#356c94"),
        ),
        _layer(
            "green-label",
            "symbol",
            "green",
            minzoom=13,
            layout=_text(["get", "name"], 12, **{"text-max-width": 8}),
            paint=_label_paint("#3f6b35"),
        ),
        _layer(
            ROAD_LABEL_LAYER,
            "symbol",
            "roads",
            filter=["has", "name"],
            layout=_text(
                ["get", "name"],
                ["interpolate", ["linear"], ["zoom"], 12, 11, 17, 14],
                **{
                    "symbol-placement": "line",
                    "symbol-spacing": 300,
                    "text-rotation-alignment": "map",
                    "text-pitch-alignment": "viewport",
                    "text-max-angle": 40,
                    "text-padding": 2,
                },
            ),
            paint=_label_paint("#4a4036"),
        ),
        _layer(
            "cell-label",
            "symbol",
            "cells",
            minzoom=15,
            layout=_text(
                ["coalesce", ["get", "name"], ["get", "code"]], 11, **{"text-max-width": 7}
            ),
            paint=_label_paint(CELL_LINE),
        ),
        _layer(
            "place-dot",
            "circle",
            "places",
            minzoom=MAJOR_PLACE_ZOOM,
            paint={
                "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, 3, 17, 6],
                "circle-color": _match("kind", PLACE_COLOURS, PLACE_OTHER),
                "circle-stroke-color": HALO,
                "circle-stroke-width": 1.5,
            },
        ),
        _layer(
            "place-label",
            "symbol",
            "places",
            minzoom=MAJOR_PLACE_ZOOM,
            layout=_text(
                ["get", "name"],
                12,
                **{
                    "text-anchor": "top",
                    "text-offset": [0, 0.7],
                    "text-max-width": 8,
                    "text-optional": True,
                },
            ),
            paint=_label_paint(_match("kind", PLACE_COLOURS, PLACE_OTHER)),
        ),
        _layer(
            "region-label",
            "symbol",
            "regions",
            layout=_text(
                ["get", "name"],
                _match("level", {"city": 18, "district": 16, "street": 14}, 13),
                BOLD,
                **{
                    "text-max-width": 8,
                    "symbol-sort-key": _match("level", {"city": 0, "district": 1, "street": 2}, 3),
                },
            ),
            paint=_label_paint(REGION_LINE),
        ),
    ]
    return {
        "version": 8,
        "name": "gridgov",
        "metadata": {
            "gridgov:first-label-layer": FIRST_LABEL_LAYER,
            "gridgov:road-label-layer": ROAD_LABEL_LAYER,
        },
        "sources": sources,
        "glyphs": f"{base_url}/maps/fonts/{{fontstack}}/{{range}}.pbf",
        "layers": layers,
    }


def font_stacks(style: dict[str, Any]) -> set[str]:
    """The font stacks a style's labels use (as MapLibre asks for them: comma-joined)."""
    return {
        ",".join(layer["layout"]["text-font"])
        for layer in style["layers"]
        if "text-font" in layer.get("layout", {})
    }
