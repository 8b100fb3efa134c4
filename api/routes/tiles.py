"""Vector tiles of the public map layers: `/tiles/{layer}/{z}/{x}/{y}.mvt`.

An empty tile is answered 204 (no body), as tile servers commonly do; map clients treat
it as a tile with nothing in it. The ETag is a hash of the tile: a client revalidating
with If-None-Match gets 304 and no body. Cut tiles are kept a few seconds in each worker
(`maps.tile_cache`, less than the max-age every browser may keep them anyway), so the
tiles many viewers open at once are cut once; the test environment cuts every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.deps import SessionDep, SettingsDep
from core.settings import Settings
from maps.basemap_tiles import basemap_tile
from maps.tile_cache import CutTile, TileCache, tile_etag
from maps.tiles import LAYERS, MAX_ZOOM, tile, validate_tile

router = APIRouter(prefix="/tiles", tags=["maps"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
# Incidents change by the minute; cells and buildings change with an import.
MAX_AGE = {"incidents": 60, "cells": 3600, "buildings": 3600, "basemap": 3600, "assets": 3600}
# How long a worker serves a tile it cut: well under each layer's max-age.
CACHE_TTL = {"incidents": 5.0, "cells": 60.0, "buildings": 60.0, "basemap": 60.0, "assets": 60.0}
TILE_RESPONSES: dict[int | str, dict] = {
    200: {"content": {MVT_MEDIA_TYPE: {}}},
    204: {"description": "empty tile"},
    304: {"description": "not modified"},
}


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _cache(request: Request, settings: Settings) -> TileCache | None:
    """The app's tile cache, made on first use (none in tests, which change data between
    requests; a test that wants one sets app.state.tile_cache)."""
    cache = getattr(request.app.state, "tile_cache", None)
    if cache is None and settings.environment != "test":
        cache = request.app.state.tile_cache = TileCache()
    return cache


async def _cut_or_cached(
    request: Request,
    settings: Settings,
    key: tuple[str, int, int, int] | None,
    cut: Callable[[], Awaitable[bytes]],
) -> CutTile:
    """The tile under `key` from the app's cache (cut on a miss; the address is checked
    first, so a bad one is never cached), or cut now when there is no cache or no key."""
    cache = _cache(request, settings)
    if cache is None or key is None:
        data = await cut()
        return CutTile(data, tile_etag(data), 0.0)
    validate_tile(*key[1:])
    return await cache.get(key, CACHE_TTL[key[0]], cut)


def _answer(request: Request, cut_tile: CutTile, max_age: int) -> Response:
    """204 for an empty tile, 304 when the client holds these bytes, else the tile."""
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    if not cut_tile.data:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = cut_tile.etag
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(cut_tile.data, media_type=MVT_MEDIA_TYPE, headers=headers)


# Declared before /{layer}/...: "basemap" is this route's, not a layer name.
@router.get("/basemap/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def get_basemap_tile(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom")],
    x: Annotated[int, Path(ge=0, description="column, 0 to 2^z - 1")],
    y: Annotated[int, Path(ge=0, description="row from the top, 0 to 2^z - 1")],
) -> Response:
    """One tile of the base map: roads, water, green, compounds, places, buildings, cells
    and regions with their names, fewer and simpler features at low zoom."""

    async def cut() -> bytes:
        return await basemap_tile(session, z, x, y)

    cut_tile = await _cut_or_cached(request, settings, ("basemap", z, x, y), cut)
    return _answer(request, cut_tile, MAX_AGE["basemap"])


@router.get("/{layer}/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def get_tile(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    layer: Annotated[str, Path(description="cells, buildings, incidents or assets (from z15)")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom")],
    x: Annotated[int, Path(ge=0, description="column, 0 to 2^z - 1")],
    y: Annotated[int, Path(ge=0, description="row from the top, 0 to 2^z - 1")],
) -> Response:
    """One Mapbox vector tile of a public layer (counts per grid square at low zoom)."""

    async def cut() -> bytes:
        return await tile(session, layer, z, x, y)

    # An unknown layer goes uncached to tile(), which refuses it.
    key = (layer, z, x, y) if layer in LAYERS else None
    cut_tile = await _cut_or_cached(request, settings, key, cut)
    return _answer(request, cut_tile, MAX_AGE[layer])
