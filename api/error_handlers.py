"""One JSON error shape for the whole API, and the mapping of every error onto it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.i18n import negotiate_language
from core.errors import (
    Conflict,
    GridgovError,
    InvalidInput,
    ServiceUnavailable,
    TooManyRequests,
)

log = logging.getLogger("gridgov.api")

# SQLSTATEs that mean "this data clashes", mapped to safe domain errors.
_UNIQUE_VIOLATION = "23505"
_EXCLUSION_VIOLATION = "23P01"
_CHECK_OR_FK = {"23503", "23514", "23502"}
# Text the database cannot hold (a NUL, a bad escape) or a value out of a type's range:
# bad input that slipped past validation, never a server fault.
_BAD_VALUE = {"22001", "22021", "22P05", "22003", "22007", "22008", "22P02"}
# Two transactions in each other's way (deadlock, serialization failure): the loser is
# told to try again, as with any other concurrent change.
_CLASH = {"40P01", "40001"}
# The database is away (a restart, failover, shutdown): class 08 (connection exception),
# admin/crash shutdown and "starting up" (57P01-57P03). The client should retry shortly.
_DATABASE_AWAY = {"57P01", "57P02", "57P03"}
RETRY_AFTER_UNAVAILABLE_S = 2

_HTTP_CODES = {
    401: ("not_authenticated", "请先登录", "Authentication is required"),
    403: ("permission_denied", "无权访问", "You are not allowed to do this"),
    404: ("not_found", "未找到", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    413: ("payload_too_large", "请求内容过大", "Request body too large"),
}


def error_body(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The JSON every error response carries."""
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or []}}


def _respond(request: Request, error: GridgovError) -> JSONResponse:
    fields = [{"field": error.field, "reason": error.message("en")}] if error.field else []
    body = error_body(error.status, error.code, error.message(negotiate_language(request)), fields)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    elif isinstance(error, ServiceUnavailable):
        headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("query", "bbox") -> "bbox"; ("body", "location", "lon") -> "location.lon"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _on_domain_error(request: Request, exc: GridgovError) -> JSONResponse:
    return _respond(request, exc)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [{"field": _field_name(tuple(e["loc"])), "reason": e["msg"]} for e in exc.errors()]
    language = negotiate_language(request)
    message = "请求参数有误" if language != "en" else "Some fields are not valid"
    return JSONResponse(error_body(422, "validation_error", message, fields), status_code=422)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, zh, en = _HTTP_CODES.get(exc.status_code, ("http_error", "请求失败", "Request failed"))
    message = en if negotiate_language(request) == "en" else zh
    return JSONResponse(
        error_body(exc.status_code, code, message),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _on_integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in (_UNIQUE_VIOLATION, _EXCLUSION_VIOLATION):
        return _respond(request, Conflict())
    if sqlstate in _CHECK_OR_FK:
        return _respond(request, InvalidInput())
    log.exception("unmapped integrity error")
    return _respond(request, Conflict())


async def _on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in _BAD_VALUE or _is_unencodable_argument(exc):
        log.warning("bad value reached the database: %s", sqlstate or exc.orig)
        return _respond(request, InvalidInput())
    if sqlstate in _CLASH:
        log.info("concurrent transactions clashed: %s", sqlstate)
        return _respond(
            request,
            Conflict(
                "Someone else changed this at the same time; try again",
                "他人同时修改了该内容，请重试",
            ),
        )
    if exc.connection_invalidated or is_database_away(exc):
        log.warning("database unavailable: %s", exc.orig)
        return _respond(request, ServiceUnavailable())
    return await _on_unexpected(request, exc)


def _is_unencodable_argument(exc: DBAPIError) -> bool:
    # asyncpg refuses a value its codec cannot send (an integer beyond 64 bits, say)
    # before the server sees it, so there is no SQLSTATE to go by.
    return "invalid input for query argument" in str(exc.orig)


def _sqlstate(exc: BaseException) -> str | None:
    for error in (exc, getattr(exc, "orig", None), exc.__cause__):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


# Connection failures the drivers raise without a SQLSTATE (refused, reset, closed).
_AWAY_TYPES: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
try:
    import asyncpg

    _AWAY_TYPES += (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
    )
except ImportError:  # pragma: no cover
    pass
try:
    import psycopg2

    _AWAY_TYPES += (psycopg2.OperationalError, psycopg2.InterfaceError)
except ImportError:  # pragma: no cover
    pass


def is_database_away(exc: BaseException) -> bool:
    """True for every connection-class failure: SQLSTATE class 08 or 57P01-57P03, or a
    driver's connection exception (refused, reset, closed, cannot connect now)."""
    state = _sqlstate(exc)
    if state is not None:
        return state.startswith("08") or state in _DATABASE_AWAY
    errors = (exc, getattr(exc, "orig", None), exc.__cause__)
    return any(isinstance(e, _AWAY_TYPES) for e in errors if e is not None)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    message = "Internal error" if negotiate_language(request) == "en" else "服务器内部错误"
    return JSONResponse(error_body(500, "internal_error", message), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""
    app.add_exception_handler(GridgovError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(ConnectionError, _on_connection_error)
    app.add_exception_handler(Exception, _on_anything_else)


async def _on_connection_error(request: Request, exc: ConnectionError) -> JSONResponse:
    # asyncpg raises ConnectionRefusedError itself when the server is down.
    log.warning("connection failure: %s", exc)
    return _respond(request, ServiceUnavailable())


async def _on_anything_else(request: Request, exc: Exception) -> JSONResponse:
    # A driver's own exception that escaped SQLAlchemy's wrapping (asyncpg's
    # CannotConnectNowError while the server starts up, say) is still the database away.
    if is_database_away(exc):
        log.warning("database unavailable: %s", exc)
        return _respond(request, ServiceUnavailable())
    return await _on_unexpected(request, exc)
