"""gridgov's app with its tile cache off, for the tiles bench's cache-off rows:

    uvicorn bench.gridgov_uncached:create_app --factory

Every tile request cuts its tile from the database, as tipg without a cache does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable

from fastapi import FastAPI

from api.app import create_app as create_gridgov_app
from maps.tile_cache import CutTile, tile_etag


class NoTileCache:
    """TileCache's interface, keeping nothing: each get cuts."""

    hits = misses = 0

    async def get(
        self, _key: Hashable, _ttl: float, cut: Callable[[], Awaitable[bytes]]
    ) -> CutTile:
        self.misses += 1
        data = await cut()
        return CutTile(data, tile_etag(data), 0.0)


def create_app() -> FastAPI:
    """The product's app; api/routes/tiles.py finds this in place of its own cache."""
    app = create_gridgov_app()
    app.state.tile_cache = NoTileCache()
    return app
