"""gzip for what a browser loads to show a page (the page itself, its scripts and
stylesheets, the API documentation) and for map data (vector tiles, GeoJSON layers and
OGC API answers). Nothing else is touched (see `compressed`)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Below about one TCP segment gzip saves no round trip and costs CPU.
MINIMUM_SIZE = 1024
# zlib's default: the same size as level 9 on our scripts (MapLibre 950 -> 243 KiB either
# way) for less CPU. Each answer is compressed anew, ~45 ms for MapLibre, but once per
# browser: vendor URLs are cached for a year.
COMPRESS_LEVEL = 6
ASSET_PREFIX = "/static/"
DOCUMENTATION = frozenset({"/docs", "/redoc", "/openapi.json"})
# Map data: vector tiles (an MVT of cells or buildings shrinks to about a third) and the
# public GeoJSON of the OGC API; any other `*.geojson` layer too.
MAP_DATA_PREFIXES = ("/tiles/", "/ogc/")


def compressed(scope: Scope) -> bool:
    """Whether a request's answer may be gzipped: a GET or HEAD for our static files,
    the documentation, map data (tiles, OGC API, `*.geojson`), or a page (a browser
    navigation asks for text/html).

    Everything else passes by untouched, on purpose: report intake and the other API
    answers are small and on the hot path (not even wrapped, so they pay nothing); the
    inbox's Server-Sent Events must reach the browser event by event (the GZip
    middleware excludes text/event-stream too, but the stream never gets that far).
    A tile's 304 has no body and passes as it is; see `weak_etag` for its ETag."""
    if scope["method"] not in ("GET", "HEAD"):
        return False
    path = scope["path"]
    if (
        path.startswith(ASSET_PREFIX)
        or path in DOCUMENTATION
        or path.startswith(MAP_DATA_PREFIXES)
        or path.endswith(".geojson")
    ):
        return True
    return "text/html" in Headers(scope=scope).get("accept", "")


def weak_etag(message: Message) -> Message:
    """A gzipped answer's ETag made weak (W/"..."): the bytes sent are not the bytes the
    strong tag names, so a cache must not splice ranges of one into the other. The
    routes compare If-None-Match weakly (W/ dropped), so 304s keep working."""
    headers = message.get("headers") or []
    if (b"content-encoding", b"gzip") not in [(k.lower(), v) for k, v in headers]:
        return message
    message["headers"] = [
        (k, b"W/" + v if k.lower() == b"etag" and not v.startswith(b"W/") else v)
        for k, v in headers
    ]
    return message


class CompressPages:
    """Starlette's GZipMiddleware, applied only where `compressed` says so."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compressed(scope):

            async def send_weakened(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = weak_etag(message)
                await send(message)

            await self.gzip(scope, receive, send_weakened)
        else:
            await self.app(scope, receive, send)
