"""Security headers on every response, set deliberately (a pure ASGI middleware, so it
costs the intake path next to nothing)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def security_headers(basemap_url: str | None) -> list[tuple[bytes, bytes]]:
    """The headers: no sniffing, no framing, no referrer beyond the origin, geolocation
    for this site only, and a content policy that allows only this server (plus the base
    map's tile host when one is set)."""
    tile_host = ""
    if basemap_url:
        parts = urlsplit(basemap_url.replace("{s}", "a"))
        tile_host = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    policy = (
        "default-src 'self'; "
        f"img-src 'self' data: blob:{tile_host}; "
        # MapLibre GL and our markers position elements with style attributes.
        "style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'; object-src 'none'"
    )
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"permissions-policy", b"geolocation=(self), camera=(self), microphone=()"),
        (b"content-security-policy", policy.encode()),
    ]


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, basemap_url: str | None = None) -> None:
        self.app = app
        self.headers = security_headers(basemap_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in self.headers if h[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
