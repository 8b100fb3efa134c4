"""An in-process cache of cut vector tiles: a tile many viewers ask for is cut once per
few seconds, and viewers asking at the same moment share one cut.

A cached tile is at most `ttl` seconds older than the data, which is what the tiles'
`Cache-Control: max-age` already lets every browser and proxy do (the ttl of each layer
is kept below its max-age). The ETag is the hash of the bytes served, so revalidation
answers 304 exactly when the client holds those bytes. Each worker process has its own
cache, bounded in bytes (least recently used tiles leave first).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class CutTile:
    """A tile's bytes (empty: nothing in it), its ETag and when it stops being served."""

    data: bytes
    etag: str
    expires: float


def tile_etag(data: bytes) -> str:
    """A strong ETag: a hash of the tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


class TileCache:
    """Tiles by key for `ttl` seconds, at most `max_bytes` of them."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._tiles: OrderedDict[Hashable, CutTile] = OrderedDict()
        self._bytes = 0
        self._cutting: dict[Hashable, asyncio.Future[CutTile]] = {}
        self.hits = self.misses = 0

    async def get(self, key: Hashable, ttl: float, cut: Callable[[], Awaitable[bytes]]) -> CutTile:
        """The cached tile, else the one being cut for another request, else cut it."""
        now = self._clock()
        cached = self._tiles.get(key)
        if cached is not None and cached.expires > now:
            self._tiles.move_to_end(key)
            self.hits += 1
            return cached
        pending = self._cutting.get(key)
        if pending is not None:
            self.hits += 1
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the cut it waited for
                return await self.get(key, ttl, cut)  # the cutter left: cut it here
        self.misses += 1
        future: asyncio.Future[CutTile] = asyncio.get_running_loop().create_future()
        self._cutting[key] = future
        try:
            data = await cut()
            tile = CutTile(data, tile_etag(data), now + ttl)
            self._store(key, tile)
            future.set_result(tile)
            return tile
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._cutting[key]

    def _store(self, key: Hashable, tile: CutTile) -> None:
        if len(tile.data) > self.max_bytes:
            return
        old = self._tiles.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)
        self._tiles[key] = tile
        self._bytes += len(tile.data)
        while self._bytes > self.max_bytes:
            _key, evicted = self._tiles.popitem(last=False)
            self._bytes -= len(evicted.data)
