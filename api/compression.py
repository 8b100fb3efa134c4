"""gzip for what a browser loads to show a page: the page itself, its scripts and
stylesheets, and the API documentation. Nothing else is touched (see `compressed`)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Below about one TCP segment gzip saves no round trip and costs CPU.
MINIMUM_SIZE = 1024
# zlib's default: the same size as level 9 on our scripts (MapLibre 950 -> 243 KiB either
# way) for less CPU. Each answer is compressed anew, ~45 ms for MapLibre, but once per
# browser: vendor URLs are cached for a year.
COMPRESS_LEVEL = 6
ASSET_PREFIX = "/static/"
DOCUMENTATION = frozenset({"/docs", "/redoc", "/openapi.json"})


def compressed(scope: Scope) -> bool:
    """Whether a request's answer may be gzipped: a GET or HEAD for our static files,
    the documentation, or a page (a browser navigation asks for text/html).

    Everything else passes by untouched, on purpose: report intake and the other API
    answers are small and on the hot path (not even wrapped, so they pay nothing); the
    vector tiles keep their own ETag and 304 answers byte for byte; the inbox's
    Server-Sent Events must reach the browser event by event (the GZip middleware
    excludes text/event-stream too, but the stream never gets that far)."""
    if scope["method"] not in ("GET", "HEAD"):
        return False
    path = scope["path"]
    if path.startswith(ASSET_PREFIX) or path in DOCUMENTATION:
        return True
    return "text/html" in Headers(scope=scope).get("accept", "")


class CompressPages:
    """Starlette's GZipMiddleware, applied only where `compressed` says so."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compressed(scope):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
