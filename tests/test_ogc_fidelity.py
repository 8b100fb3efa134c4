"""OGC API Features as the official test suite and real clients use it: a bbox across the
antimeridian, `style: form, explode: false` on limit and datetime, queryables and
property filters applied by the server (GDAL's `ogrinfo -where` sends them; the request
the server saw is checked), HEAD wherever GET answers, and gzip for tiles and GeoJSON
with ETag and 304 intact."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.compression import MINIMUM_SIZE
from tests.factories import make_building, metres_point
from tests.pages_support import serve
from tests.test_ogc import WORLD_CELLS, city  # noqa: F401  (the fixture)

OGRINFO = shutil.which("ogrinfo")
GZIP = {"Accept-Encoding": "gzip"}


async def _add_region(db, code: str, name: str, west: float, east: float) -> None:
    await db.execute(
        text("""
        INSERT INTO regions (code, name, level, path, boundary)
        VALUES (:code, :name, 'city', '/', ST_Multi(ST_MakeEnvelope(:w, 66, :e, 67, 4326)))
    """),
        {"code": code, "name": name, "w": west, "e": east},
    )


async def test_a_bbox_across_the_antimeridian_finds_features_on_both_sides(client, db):
    await _add_region(db, "990100", "东侧", 178.0, 179.0)
    await _add_region(db, "990200", "西侧", -179.0, -178.0)
    await _add_region(db, "990300", "远处", 10.0, 11.0)
    response = await client.get("/ogc/collections/regions/items", params={"bbox": "177,65,-177,70"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {f["id"] for f in body["features"]} == {"990100", "990200"}
    assert body["numberMatched"] == 2
    # The ordinary box still works, and a box that is no box is still refused.
    plain = await client.get("/ogc/collections/regions/items", params={"bbox": "9,65,12,70"})
    assert [f["id"] for f in plain.json()["features"]] == ["990300"]
    wrong = await client.get("/ogc/collections/regions/items", params={"bbox": "177,70,-177,65"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "bbox"


async def test_limit_and_datetime_are_form_style_unexploded_in_the_api_document(client):
    document = (await client.get("/ogc/api")).json()
    parameters = document["components"]["parameters"]
    for name in ("limit", "datetime", "bbox"):
        assert (parameters[name]["style"], parameters[name]["explode"]) == ("form", False)


async def test_each_collection_lists_its_queryables_and_filters_on_them(client, db, city):  # noqa: F811
    _world, reports = city
    described = (await client.get("/ogc/collections/incidents")).json()
    (link,) = [k for k in described["links"] if k["rel"].endswith("/queryables")]
    queryables = await client.get(link["href"])
    assert queryables.headers["content-type"].startswith("application/schema+json")
    assert set(queryables.json()["properties"]) == {"status", "category", "tier"}
    cells = (await client.get("/ogc/collections/cells/queryables")).json()
    assert set(cells["properties"]) == {"code", "community_code"}
    # The API document lists them on each collection's own items path (GDAL reads it).
    document = (await client.get("/ogc/api")).json()
    names = [
        p.get("name")
        for p in document["paths"]["/collections/incidents/items"]["get"]["parameters"]
    ]
    assert {"status", "category", "tier"} <= set(names)

    await db.execute(
        text("UPDATE incidents SET status = 'accepted' WHERE tracking_number = :t"),
        {"t": reports["exact"]},
    )
    accepted = (
        await client.get("/ogc/collections/incidents/items", params={"status": "accepted"})
    ).json()
    assert [f["id"] for f in accepted["features"]] == [reports["exact"]]
    assert accepted["numberMatched"] == 1
    noise = await client.get(
        "/ogc/collections/incidents/items",
        params={"category": "community.noise", "status": "accepted"},
    )
    assert noise.json()["features"] == []
    in_a = (
        await client.get("/ogc/collections/cells/items", params={"community_code": "880101001001"})
    ).json()
    assert {f["id"] for f in in_a["features"]} == WORLD_CELLS - {"880101001002001"}
    # A value is bound, never spliced into SQL; a name outside the list is refused.
    quoted = await client.get("/ogc/collections/incidents/items", params={"status": "x' OR '1'='1"})
    assert quoted.status_code == 200 and quoted.json()["features"] == []
    refused = await client.get("/ogc/collections/cells/items", params={"status": "open"})
    assert refused.status_code == 400 and refused.json()["field"] == "status"


async def test_head_answers_wherever_get_does(client, city):  # noqa: F811
    _world, reports = city
    for path in (
        "/ogc",
        "/ogc/conformance",
        "/ogc/api",
        "/ogc/collections",
        "/ogc/collections/cells",
        "/ogc/collections/cells/schema",
        "/ogc/collections/cells/queryables",
        "/ogc/collections/cells/items",
        f"/ogc/collections/incidents/items/{reports['cell']}",
    ):
        got, head = await client.get(path), await client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert (await client.head("/ogc/collections/nothing")).status_code == 404


# --- Real clients against a served app that records what it was asked ----------------


class _Recorder:
    """An ASGI wrapper keeping every request's path and query string."""

    def __init__(self, app) -> None:
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"], scope["query_string"].decode()))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def recorded_server(settings, migrated_db) -> Iterator[tuple[str, _Recorder]]:
    """The app served by uvicorn on a free port, behind a request recorder."""
    recorder = _Recorder(create_app(settings))
    with serve(recorder) as base:
        yield base, recorder


@pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo is missing (gdal-bin)")
async def test_gdal_filters_on_the_server_with_where(recorded_server, open_incident):
    base, recorder = recorded_server
    recorder.seen.clear()

    def ogrinfo(where: str) -> str:
        done = subprocess.run(
            [OGRINFO, "-ro", "-where", where, f"OAPIF:{base}/ogc", "incidents"],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "30"},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = await asyncio.to_thread(ogrinfo, "status='assigned'")
    assert f"tracking_number (String) = {open_incident}" in listed
    items = [
        query
        for method, path, query in recorder.seen
        if method == "GET" and path == "/ogc/collections/incidents/items" and query
    ]
    assert any("status=assigned" in query for query in items), recorder.seen
    none = await asyncio.to_thread(ogrinfo, "status='closed'")
    assert open_incident not in none
    assert any("status=closed" in query for _, _, query in recorder.seen)


def _tile_of(lon: float, lat: float, z: int) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"


@pytest_asyncio.fixture(loop_scope="session")
async def many_buildings(async_engine, open_incident) -> AsyncIterator[None]:
    """A committed street of 120 buildings in cell a1, so a tile outweighs gzip's
    minimum; removed afterwards."""
    async with AsyncSession(async_engine) as session:
        for i in range(120):
            x, y = 20 + (i % 12) * 38, 20 + (i // 12) * 45
            await make_building(
                session, None, (x, y, x + 30, y + 35), address=f"测试市测试区压缩路{i + 1}号"
            )
        await session.commit()
    yield
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM buildings WHERE address LIKE '%压缩路%'"))


async def test_tiles_and_geojson_go_out_gzipped_with_etag_and_304(recorded_server, many_buildings):
    base, _recorder = recorded_server
    tile_url = f"/tiles/buildings/{_tile_of(*metres_point(250, 250), 16)}.mvt"
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:

        async def raw(url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
            async with http.stream("GET", url, headers=headers) as response:
                return response, b"".join([c async for c in response.aiter_raw()])

        tile, zipped_tile = await raw(tile_url, GZIP)
        plain_tile, tile_bytes = await raw(tile_url, {"Accept-Encoding": "identity"})
        again, empty = await raw(tile_url, {**GZIP, "If-None-Match": tile.headers["etag"]})
        items, zipped = await raw("/ogc/collections/regions/items?limit=1000", GZIP)
        plain, unzipped = await raw(
            "/ogc/collections/regions/items?limit=1000", {"Accept-Encoding": "identity"}
        )
    assert tile.status_code == 200 and len(tile_bytes) > MINIMUM_SIZE
    assert tile.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped_tile) == tile_bytes
    # The gzipped bytes are not the tile's bytes: the tag says so (weak), and still
    # revalidates to a 304 with no body.
    assert tile.headers["etag"] == "W/" + plain_tile.headers["etag"]
    assert again.status_code == 304 and empty == b""
    assert items.status_code == 200 and len(unzipped) > MINIMUM_SIZE
    assert items.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in items.headers["vary"]
    assert json.loads(gzip.decompress(zipped))["type"] == "FeatureCollection"
    assert "content-encoding" not in plain.headers
