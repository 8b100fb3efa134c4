"""The API documentation pages, /docs (Swagger UI) and /redoc (Redoc), served from the
npm packages in maps/static/node_modules instead of FastAPI's CDN pages: nothing is
fetched from the internet and no inline script runs (maps/static/js/docs.js starts
them, reading the OpenAPI URL from the page's JSON config)."""

from __future__ import annotations

from functools import cache
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep
from api.headers import security_headers
from api.routes.pages import Lang, page_context
from core.settings import Settings
from maps.page_assets import VENDOR_DIR
from maps.pages import render_page

router = APIRouter(include_in_schema=False)

OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
# What each page loads from node_modules; a checkout without npm's files says so.
_VENDOR = {
    "swagger": ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css"),
    "redoc": ("redoc/bundles/redoc.standalone.js",),
}


@cache
def _redoc_policy(basemap_url: str | None) -> str:
    """The app's content policy plus blob: workers: Redoc builds its search index in a
    web worker made from a blob: URL (its bundle carries the worker's code), which
    script-src 'self' alone blocks. Scripts stay 'self' only; only this page gets it."""
    policy = dict(security_headers(basemap_url))[b"content-security-policy"].decode()
    return policy + "; worker-src 'self' blob:"


def _page(
    request: Request,
    settings: Settings,
    lang: str | None,
    ui: Literal["swagger", "redoc"],
    path: str,
) -> str:
    """The page for Swagger UI or Redoc (a shell; docs.js starts the viewer)."""
    ctx = page_context(settings, lang)
    missing = [name for name in _VENDOR[ui] if not (VENDOR_DIR / name).is_file()]
    return render_page(
        "docs.html",
        ctx,
        path,
        ui=ui,
        openapiUrl=request.app.openapi_url,
        oauth2RedirectUrl=OAUTH2_REDIRECT_PATH,
        vendorMissing=missing,
    )


@router.get("/docs", name="swagger_ui_html", response_class=HTMLResponse)
async def swagger_ui(request: Request, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """Swagger UI: try the API from the browser (Authorize signs in at /auth/token)."""
    # Swagger UI works under the app's own policy (api/headers.py).
    return HTMLResponse(_page(request, settings, lang, "swagger", "/docs"))


@router.get("/redoc", name="redoc_html", response_class=HTMLResponse)
async def redoc(request: Request, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """Redoc: the API reference on one page."""
    # Set here, so api/headers.py leaves this page's policy alone.
    return HTMLResponse(
        _page(request, settings, lang, "redoc", "/redoc"),
        headers={"Content-Security-Policy": _redoc_policy(settings.basemap_url)},
    )


@router.get(OAUTH2_REDIRECT_PATH, name="swagger_ui_redirect", response_class=HTMLResponse)
async def swagger_ui_redirect() -> HTMLResponse:
    """Where Swagger UI's OAuth2 redirect flows return (the password flow does not)."""
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>gridgov · OAuth2</title></head><body>"
        '<script src="/static/vendor/swagger-ui-dist/oauth2-redirect.js"></script>'
        "</body></html>\n"
    )
