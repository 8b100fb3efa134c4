"""Abuse limits and audit over HTTP: the ban gate and the body size limit (every
request), the rate-limit dependencies of intake, login and search routes, and the audit
actor of a request."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.error_handlers import error_body
from api.i18n import negotiate_language
from api.tokens import user_id_from_token
from core import audit
from core.audit import Actor
from core.errors import Banned, GridgovError, TooLarge
from core.raw_sql import Statements
from grid.access import Principal


def client_ip(request: Request) -> str | None:
    """The caller's address (behind a trusted proxy, the one ForwardedFor found)."""
    return request.client.host if request.client else None


class ForwardedFor:
    """Takes the client's address from X-Forwarded-For only when the request comes from a
    trusted proxy (GRIDGOV_TRUSTED_PROXIES; none by default, so the header is ignored and
    anyone sending it gains nothing). The address is the right-most one in the header that
    is not itself a trusted proxy: whatever the client wrote further left is its own
    claim. X-Forwarded-Proto is taken from trusted proxies too."""

    def __init__(self, app: ASGIApp, trusted: Iterable[Any] = ()) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(str(n), strict=False) for n in trusted)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            scope["type"] in ("http", "websocket")
            and self.trusted
            and client
            and self._trusted(client[0])
        ):
            headers = dict(scope.get("headers") or [])
            hops = [
                h.strip()
                for h in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
                if h.strip()
            ]
            for hop in reversed(hops):
                if not self._trusted(hop):
                    # Garbage from the client: keep the proxy's address.
                    with contextlib.suppress(ValueError):
                        scope["client"] = (str(ipaddress.ip_address(hop)), 0)
                    break
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
            if proto in ("http", "https") and scope["type"] == "http":
                scope["scheme"] = proto
        await self.app(scope, receive, send)


def audit_actor(request: Request, principal: Principal | None) -> Actor:
    """The audit log's record of who is asking."""
    if principal is None:
        return Actor(None, None, None, client_ip(request))
    return Actor(principal.id, principal.username, principal.role.value, client_ip(request))


class BanGate:
    """Refuses requests from banned networks with 403 before any route runs (the list is
    cached per process, so this costs no database trip per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        bans = getattr(scope["app"].state, "bans", None)
        client = scope.get("client")
        if bans is not None and client:
            try:
                await bans.refuse_address(client[0])
            except Banned as exc:
                language = negotiate_language(Request(scope))
                body = error_body(exc.status, exc.code, exc.message(language))
                await JSONResponse(body, status_code=exc.status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _token_user_id(request: Request) -> int | None:
    """The account a bearer token names, without a database trip (None if absent or bad):
    enough to count its requests; the route itself still authenticates."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return user_id_from_token(token, request.app.state.settings)
    except GridgovError:
        return None


def rate_limited(scope: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A route dependency counting the request against `scope`'s per-IP and per-account
    limits; 429 with Retry-After when over."""

    async def _count(request: Request) -> None:
        await count_request(request, scope)

    return _count


async def count_request(request: Request, scope: str, statements: Statements | None = None) -> None:
    """Count the request against `scope`'s per-IP and per-account limits (on `statements`,
    a connection the route holds, when given); 429 with Retry-After when over."""
    await request.app.state.limiter.check(
        scope, statements, ip=client_ip(request), account=_token_user_id(request)
    )


# Route dependencies: dependencies=[IntakeLimit] on a route that files reports, etc.
IntakeLimit = Depends(rate_limited("intake"))
SearchLimit = Depends(rate_limited("search"))


async def audit_personal_read(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    subject_type: str,
    subject_id: str | int | None,
    **detail: Any,
) -> None:
    """Record that staff read personal data, committed before the data is returned (no
    answer leaves without its audit entry)."""
    await audit.record(
        session,
        "personal_read",
        audit_actor(request, principal),
        subject_type,
        subject_id,
        path=request.url.path,
        **detail,
    )
    await session.commit()


# JSON bodies are small (a report, an action); forms carry photos; imports carry files.
JSON_BODY_LIMIT = 1 * 2**20
_IMPORT_PREFIXES = ("/admin/imports", "/admin/hotline")


class BodyLimit:
    """Refuses a request body over its limit with 413: by its Content-Length before
    reading, else while it streams in (a chunked body cannot slip past)."""

    def __init__(self, app: ASGIApp, form_limit: int, import_limit: int) -> None:
        self.app = app
        self.form_limit = form_limit
        self.import_limit = import_limit

    def limit_for(self, scope: Scope) -> int:
        """The byte limit of this request's body."""
        if scope["path"].startswith(_IMPORT_PREFIXES):
            return self.import_limit
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").startswith(b"application/json"):
            return JSON_BODY_LIMIT
        return self.form_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            error = TooLarge(
                f"the request body is over {limit // 2**10} KiB",
                f"请求内容超过 {limit // 2**10} KiB",
                field="body",
            )
            language = negotiate_language(Request(scope))
            body = error_body(
                error.status,
                error.code,
                error.message(language),
                [{"field": "body", "reason": error.message("en")}],
            )
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the route's read: the app's handlers answer 413.
                    raise TooLarge(
                        f"the request body is over {limit // 2**10} KiB",
                        f"请求内容超过 {limit // 2**10} KiB",
                        field="body",
                    )
            return message

        await self.app(scope, counted, send)
