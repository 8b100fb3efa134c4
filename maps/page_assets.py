"""Scripts and stylesheets the pages need, served by gridgov itself (offline: no CDN).

The vendor files come from npm at set-up (`scripts/setup` runs `npm ci` in maps/static);
they are not committed. A checkout without them still starts: the pages say so.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "node_modules"
LOCK_FILE = STATIC_DIR / "package-lock.json"
SERVICE_WORKER = STATIC_DIR / "js" / "sw.js"

# Only these parts of node_modules are served (not package.json, sources, tests).
VENDOR_SERVED = (
    "axe-core/axe.min.js",
    # The staff pages' maps (WebGL, vector tiles).
    "maplibre-gl/dist/",
    # The worker app's offline queue (IndexedDB) and its service worker's libraries.
    "idb/build/umd.js",
    "workbox-sw/build/",
    "workbox-core/build/",
    "workbox-routing/build/",
    "workbox-strategies/build/",
    "workbox-precaching/build/",
    "workbox-expiration/build/",
    # /docs and /redoc without a CDN.
    "swagger-ui-dist/",
    "redoc/bundles/redoc.standalone.js",
)
# What every map page loads; checked at start so a page can say what is missing.
VENDOR_REQUIRED = (
    "maplibre-gl/dist/maplibre-gl-csp.js",
    "maplibre-gl/dist/maplibre-gl-csp-worker.js",
    "maplibre-gl/dist/maplibre-gl.css",
    "idb/build/umd.js",
    "workbox-sw/build/workbox-sw.js",
)
# Vendor URLs carry the lock file's hash, so they can be cached for a year.
VENDOR_CACHE = "public, max-age=31536000, immutable"
APP_CACHE = "public, max-age=300"


def missing_vendor_files() -> list[str]:
    """The required vendor files that are not installed (empty when all are)."""
    return [name for name in VENDOR_REQUIRED if not (VENDOR_DIR / name).is_file()]


@cache
def assets_version() -> str:
    """A short hash of the npm lock file and our own scripts: changes when any asset does."""
    digest = hashlib.sha256()
    for path in [
        LOCK_FILE,
        *sorted(STATIC_DIR.glob("js/*.js")),
        *sorted(STATIC_DIR.glob("css/*.css")),
    ]:
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class CachedStaticFiles(StaticFiles):
    """StaticFiles with a Cache-Control header, optionally limited to some path prefixes."""

    def __init__(
        self, *, directory: Path, cache_control: str, allowed: tuple[str, ...] | None = None
    ) -> None:
        # check_dir=False: a missing node_modules must not stop the app from starting.
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control
        self.allowed = allowed

    async def check_config(self) -> None:
        # Without node_modules every vendor URL is a 404, not a 500.
        if self.directory is not None and not Path(self.directory).is_dir():
            return
        await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if self.allowed is not None and not path.startswith(self.allowed):
            return Response("Not Found", status_code=404, media_type="text/plain")
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = self.cache_control
        return response


def vendor_files() -> CachedStaticFiles:
    """The npm packages' dist files, for mounting at /static/vendor."""
    return CachedStaticFiles(
        directory=VENDOR_DIR, cache_control=VENDOR_CACHE, allowed=VENDOR_SERVED
    )


def app_files(kind: str) -> CachedStaticFiles:
    """gridgov's own scripts (`js`) or stylesheets (`css`)."""
    return CachedStaticFiles(directory=STATIC_DIR / kind, cache_control=APP_CACHE)
