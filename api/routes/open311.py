"""Open311 GeoReport v2 at /open311/v2: discovery, services, service definitions, POST and
GET requests, tokens; `.json` or `.xml`; every error in the spec's shape (an array of
{code, description}, XML <errors><error>) with its status codes: 400, 403, 404."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api import idempotency
from api.abuse import client_ip
from api.deps import IntakeDep, SessionDep, SettingsDep
from api.i18n import negotiate_language
from core.errors import GridgovError, InvalidInput, NotFound
from incidents.intake.filing import RetryKey, RetryKeyTaken
from interop.open311.api_keys import TrustedClient, client_for_key
from interop.open311.formats import FORMATS, render
from interop.open311.georeport import (
    SPECIFICATION,
    find_request,
    find_requests,
    list_services,
    parse_flag,
    parse_request_query,
    request_view,
    service_definition,
)
from interop.open311.service_requests import file_request, parse_request, post_answer

# Bumped when the service list or definitions change shape (the spec's changeset).
CHANGESET = "2026-11-24T09:00:00+08:00"
MAX_FORM_FIELDS = 60
DISCOVERY_TEXT = {
    "contact": (
        "本平台由所在城市的网格化管理中心运维，问题请联系该中心。",
        "This platform is run by the city's grid management centre; ask them.",
    ),
    "key_service": (
        "提交上报无需 api_key，与网页上报相同；email、phone 等联系方式仅供办理人员联系，从不公开。"
        "可信客户端向管理员申请 api_key（gridgov open311 key create 名称），凭它在查询自己提交的"
        "上报时看到描述、media_url 和评价分数，且不受匿名提交频率限制。",
        "POST requests need no api_key, like the web form; contact details (email, phone) "
        "reach the staff handling the report only and are never published. Trusted "
        "clients get an api_key from the administrators (gridgov open311 key create "
        "NAME); with it they see the description, media_url and rating scores of the "
        "requests they filed, and are not held to the anonymous rate limit.",
    ),
}


def _format_of(request: Request) -> str:
    """The format asked for by the path's suffix; XML (the spec's required format) when
    there is none or it is unknown."""
    fmt = request.path_params.get("fmt")
    if fmt is None:
        last = request.url.path.rsplit("/", 1)[-1]
        fmt = last.rsplit(".", 1)[-1] if "." in last else "xml"
    return fmt if fmt in FORMATS else "xml"


def _open311_status(status: int) -> int:
    # The spec: 404 for what does not exist, 403 for a wrong or missing api_key, 400 for
    # any other request that cannot be fulfilled. A rate limit (429, with Retry-After)
    # and server faults keep their own code: a client must wait, not fix its request.
    if status in (401, 403):
        return 403
    if status in (404, 429) or status >= 500:
        return status
    return 400


def _loc_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


async def _app_error(request: Request, exc: Exception) -> tuple[int, str]:
    """Any other failure mapped by the app's own handlers (database errors to 409, 422 or
    503, anything unknown logged and 500), then told in Open311's shape."""
    for cls in type(exc).__mro__:
        handler = request.app.exception_handlers.get(cls)
        if handler is not None:
            response = await handler(request, exc)
            return response.status_code, json.loads(response.body)["error"]["message"]
    raise exc


async def open311_error(request: Request, exc: Exception) -> Response:
    """An error as the spec writes it, in the format the path asked for."""
    language = negotiate_language(request)
    if isinstance(exc, GridgovError):
        status, errors = exc.status, [(exc.field, exc.message(language))]
    elif isinstance(exc, RequestValidationError):
        status = 400
        errors = [(_loc_name(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
    else:
        status, message = await _app_error(request, exc)
        errors = [(None, message)]
    code = _open311_status(status)
    body = [
        {"code": code, "description": f"{field}: {message}" if field else message}
        for field, message in errors
    ]
    response = render(_format_of(request), "errors", body, code)
    if (retry_after := getattr(exc, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class Open311Route(APIRoute):
    """A route whose every failure (parameters included) answers in Open311's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_in_open311_shape(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every error, parameters' included, in the spec's shape
                return await open311_error(request, exc)

        return answer_in_open311_shape


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)

Format = Annotated[str, Path(description="`json` or `xml`")]
Param = Annotated[str | None, Query()]


def _checked_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(
            f"no format {fmt!r}: use .json or .xml",
            f"不支持 {fmt} 格式，请用 .json 或 .xml",
            field="format",
        )
    return fmt


@router.get("/discovery.{fmt}")
async def discovery(request: Request, settings: SettingsDep, fmt: Format) -> Response:
    """Service discovery: this endpoint, its formats, and how to get an api_key."""
    fmt = _checked_format(fmt)
    language = negotiate_language(request)
    pick = 1 if language == "en" else 0
    base = str(request.base_url).rstrip("/") + router.prefix
    return render(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": DISCOVERY_TEXT["contact"][pick],
            "key_service": DISCOVERY_TEXT["key_service"][pick],
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production" if settings.environment == "production" else "test",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@router.get("/services.{fmt}")
async def services(
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    fmt: Format,
    jurisdiction_id: Param = None,
) -> Response:
    """Report categories as services, fire hazards first (names in the Accept-Language)."""
    fmt = _checked_format(fmt)
    found = await list_services(session, intake.tiers, negotiate_language(request))
    return render(fmt, "services", found)


@router.get("/services/{service_code}.{fmt}")
async def service(
    request: Request,
    session: SessionDep,
    service_code: str,
    fmt: Format,
    jurisdiction_id: Param = None,
) -> Response:
    """A service's questions as attributes with their datatypes."""
    fmt = _checked_format(fmt)
    found = await service_definition(session, service_code, negotiate_language(request))
    return render(fmt, "service_definition", found)


async def _read_form(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The form's fields (the last of repeated ones) and its attribute[...] pairs."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise InvalidInput(
            "send the request form-encoded (application/x-www-form-urlencoded)",
            "请以表单编码（application/x-www-form-urlencoded）提交",
            field="content-type",
        )
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    fields = {k: v for k, v in items if not k.startswith("attribute[")}
    return fields, [(k, v) for k, v in items if k.startswith("attribute[")]


@router.post(
    "/requests.{fmt}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "description": "GeoReport v2 parameters: service_code; lat and long, or "
                        "address_string, or address_id (a building id); attribute[code]; "
                        "description (up to 4,000 characters); media_url; first_name, "
                        "last_name, phone, email, device_id, account_id (never public); "
                        "api_key; extensions=true",
                    }
                }
            },
        }
    },
)
async def create_request(
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    fmt: Format,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="retries with the same key are safe"),
    ] = None,
) -> Response:
    """File a service request. It is routed like a web report, in the same transaction,
    so the service_request_id comes back at once. No api_key is needed."""
    fmt = _checked_format(fmt)
    language = negotiate_language(request)
    fields, attributes = await _read_form(request)
    client = await client_for_key(
        session, fields.get("api_key") or request.query_params.get("api_key")
    )
    if client is None:
        # A trusted client speaks for many residents from one server, so only anonymous
        # requests count against the per-address intake limit, as web reports do.
        await request.app.state.limiter.check("intake", ip=client_ip(request))
    extensions = parse_flag(
        fields.get("extensions") or request.query_params.get("extensions"), "extensions"
    )
    parsed = await parse_request(session, fields, attributes, client)
    scope = f"open311:{client.id}" if client else "open311:anonymous"
    key = idempotency.check_key(idempotency_key) if idempotency_key is not None else None
    fingerprint = idempotency.request_fingerprint(
        parsed.report.model_dump(mode="json"), asdict(parsed.extras)
    )
    retry = RetryKey(scope, key, fingerprint) if key is not None else None
    try:
        result = await file_request(session, intake, parsed, client, datetime.now(UTC), retry)
    except RetryKeyTaken:
        # The first request with this key stored its answer: undo this one's work.
        await session.rollback()
        earlier = await idempotency.earlier_answer(session, scope, key)
        answer = earlier.for_request(fingerprint).body
    else:
        await session.commit()
        answer = result if isinstance(result, dict) else result.answer()
    posted = post_answer(answer, language, parsed.extras.account_id, extensions=extensions)
    return render(fmt, "service_requests", [posted])


def _filed_by(row: dict[str, Any], client: TrustedClient | None) -> bool:
    """Whether the request was filed by the client presenting its key (it sees more)."""
    return client is not None and row["client_id"] == client.id


@router.get("/requests.{fmt}")
async def get_requests(
    request: Request,
    session: SessionDep,
    fmt: Format,
    service_request_id: Annotated[
        str | None, Query(description="comma-separated ids; overrides every other filter")
    ] = None,
    service_code: Annotated[str | None, Query(description="comma-separated")] = None,
    start_date: Annotated[str | None, Query(description="W3C datetime with zone")] = None,
    end_date: Annotated[str | None, Query(description="at most 90 days after start")] = None,
    status: Annotated[str | None, Query(description="open, closed or both")] = None,
    bbox: Annotated[
        str | None, Query(description="extension: minLon,minLat,maxLon,maxLat (the public point)")
    ] = None,
    page: Annotated[str | None, Query(description="extension: from 1")] = None,
    page_size: Annotated[str | None, Query(description="extension: 1 to 1000")] = None,
    extensions: Annotated[str | None, Query(description="true: extended_attributes")] = None,
    api_key: Annotated[
        str | None, Query(description="a client sees more of its own requests")
    ] = None,
    jurisdiction_id: Param = None,
) -> Response:
    """Service requests, newest first: the public point, no contact data, no free text
    (until publication review approves it); default the last 90 days, 1000 at most."""
    fmt = _checked_format(fmt)
    now = datetime.now(UTC)
    query = parse_request_query(
        {
            "service_request_id": service_request_id,
            "service_code": service_code,
            "start_date": start_date,
            "end_date": end_date,
            "status": status,
            "bbox": bbox,
            "page": page,
            "page_size": page_size,
        },
        now,
    )
    with_extensions = parse_flag(extensions, "extensions")
    client = await client_for_key(session, api_key)
    language = negotiate_language(request)
    rows = await find_requests(session, query)
    return render(
        fmt,
        "service_requests",
        [
            request_view(row, language, now, extensions=with_extensions, own=_filed_by(row, client))
            for row in rows
        ],
    )


@router.get("/requests/{service_request_id}.{fmt}")
async def get_request(
    request: Request,
    session: SessionDep,
    service_request_id: str,
    fmt: Format,
    extensions: Annotated[str | None, Query(description="true: extended_attributes")] = None,
    api_key: Annotated[str | None, Query()] = None,
    jurisdiction_id: Param = None,
) -> Response:
    """One service request (an array of one, as the spec has it)."""
    fmt = _checked_format(fmt)
    with_extensions = parse_flag(extensions, "extensions")
    client = await client_for_key(session, api_key)
    row = await find_request(session, service_request_id)
    view = request_view(
        row,
        negotiate_language(request),
        datetime.now(UTC),
        extensions=with_extensions,
        own=_filed_by(row, client),
    )
    return render(fmt, "service_requests", [view])


@router.get("/tokens/{token}.{fmt}")
async def get_token(
    session: SessionDep, token: str, fmt: Format, jurisdiction_id: Param = None
) -> Response:
    """A token's request. POST answers the id at once (routing is synchronous), so a
    request's token is its id: this answers for clients that ask anyway."""
    fmt = _checked_format(fmt)
    row = await find_request(session, token, field="token")
    return render(
        fmt, "service_requests", [{"service_request_id": row["tracking_number"], "token": token}]
    )


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def unknown_resource(path: str) -> Response:
    """Anything else under /open311/v2 is a 404 in Open311's shape."""
    raise NotFound(f"no Open311 resource {path!r}", f"没有 Open311 资源 {path}")
