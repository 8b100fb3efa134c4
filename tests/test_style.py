"""The base map's MapLibre style: valid by @maplibre/maplibre-gl-style-spec's own validator,
every URL in it served by gridgov (tiles, glyphs of each font stack, a Chinese range), the
external raster base under gridgov's layers, glyph ranges well formed and cached long."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient

from maps.glyphs import fonts_installed
from maps.style import ROAD_LABEL_LAYER, font_stacks
from tests.factories import app_on_session
from tests.test_basemap_tiles import centre_tile, city  # noqa: F401  (the fixture)

VALIDATOR = (
    Path(__file__).resolve().parent.parent
    / "maps/static/node_modules/@maplibre/maplibre-gl-style-spec/dist/gl-style-validate.mjs"
)
NET = "电网"  # 网: U+7F51, in range 32512-32767
needs_fonts = pytest.mark.skipif(not fonts_installed(), reason="fonts-noto-cjk not installed")


def validate(style: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        ["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(
    not shutil.which("node") or not VALIDATOR.exists(),
    reason="node or the style-spec package is missing (scripts/setup)",
)
async def test_the_style_passes_the_maplibre_validator(client, tmp_path):
    response = await client.get("/maps/style.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    style = response.json()
    result = validate(style, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The validator does judge: a broken layer fails it.
    style["layers"][1]["type"] = "nonsense"
    assert validate(style, tmp_path).returncode != 0


async def test_the_style_draws_names_from_gridgov_only(client):
    style = (await client.get("/maps/style.json")).json()
    assert style["version"] == 8
    assert style["sources"]["gridgov"]["tiles"] == ["http://test/tiles/basemap/{z}/{x}/{y}.mvt"]
    assert style["glyphs"] == "http://test/maps/fonts/{fontstack}/{range}.pbf"
    assert "sprite" not in style
    layers = {layer["id"]: layer for layer in style["layers"]}
    road_label = layers[ROAD_LABEL_LAYER]
    assert road_label["layout"]["symbol-placement"] == "line"
    assert road_label["source-layer"] == "roads"
    assert {
        "background",
        "water",
        "green",
        "compounds",
        "road-casing",
        "road",
        "buildings",
        "cells",
        "region-borders",
        "place-dot",
        "place-label",
        "cell-label",
        "region-label",
    } <= set(layers)
    assert style["layers"][0]["id"] == "background"
    assert "raster-base" not in layers


@needs_fonts
async def test_every_url_in_the_style_is_served(client, db, city):  # noqa: F811
    style = (await client.get("/maps/style.json")).json()
    x, y = await centre_tile(db, 15)
    template = style["sources"]["gridgov"]["tiles"][0]
    url = template.replace("{z}", "15").replace("{x}", str(x)).replace("{y}", str(y))
    tile = await client.get(url.removeprefix("http://test"))
    assert tile.status_code == 200
    empty = template.replace("{z}", "15").replace("{x}", "0").replace("{y}", "0")
    assert (await client.get(empty.removeprefix("http://test"))).status_code == 204
    stacks = font_stacks(style)
    assert stacks == {"Noto Sans CJK SC Regular", "Noto Sans CJK SC Bold"}
    for stack in stacks:
        for code_points in ("0-255", "32512-32767"):
            glyphs = style["glyphs"].replace("{fontstack}", stack).replace("{range}", code_points)
            response = await client.get(glyphs.removeprefix("http://test"))
            assert response.status_code == 200, (stack, code_points)
            assert response.headers["content-type"] == "application/x-protobuf"
            assert "max-age=31536000" in response.headers["cache-control"]


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's fields (varints and length-delimited only)."""
    out, i = [], 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        if key & 7 == 0:
            out.append((key >> 3, varint()))
        else:
            length = varint()
            out.append((key >> 3, data[i : i + length]))
            i += length
    return out


@needs_fonts
async def test_a_glyph_range_holds_sdf_bitmaps_with_their_metrics(client):
    body = (await client.get("/maps/fonts/Noto Sans CJK SC Regular/32512-32767.pbf")).content
    [(number, stack)] = _fields(body)
    assert number == 1
    fields = _fields(stack)
    assert (1, b"Noto Sans CJK SC Regular") in fields and (2, b"32512-32767") in fields
    glyphs = {}
    for number, value in fields:
        if number == 3:
            glyph = dict(_fields(value))
            glyphs[glyph[1]] = glyph
    net = glyphs[ord(NET[1])]
    width, height = net[3], net[4]
    assert 15 <= width <= 26 and 15 <= height <= 26 and net[7] == 24  # advance: 1 em
    assert len(net[2]) == (width + 6) * (height + 6)  # the field has a 3 px border
    assert max(net[2]) > 191 and min(net[2]) == 0  # inside past the edge, outside at 0
    latin = (await client.get("/maps/fonts/Noto Sans CJK SC Bold,Arial/0-255.pbf")).content
    ids = {dict(_fields(v))[1] for n, v in _fields(_fields(latin)[0][1]) if n == 3}
    assert {ord("A"), ord(" "), ord("1")} <= ids


async def test_bad_glyph_requests_name_the_field(client):
    bad = await client.get("/maps/fonts/Noto Sans CJK SC Regular/1-256.pbf")
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["range"]
    unknown = await client.get("/maps/fonts/Comic Sans/0-255.pbf")
    assert unknown.status_code == 404
    assert [f["field"] for f in unknown.json()["error"]["fields"]] == ["fontstack"]


async def test_an_external_raster_base_is_drawn_under_gridgov_layers(settings, db):
    raster = "http://tile{s}.intranet.example/vec/{z}/{x}/{y}.png"
    app = app_on_session(settings.model_copy(update={"basemap_url": raster}), db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
        style = (await c.get("/maps/style.json")).json()
    assert style["sources"]["raster-base"]["tiles"] == [raster.replace("{s}", s) for s in "abc"]
    ids = [layer["id"] for layer in style["layers"]]
    assert ids[:3] == ["background", "raster-base", "water"]
