"""OGC API - Features (Part 1: core, GeoJSON, OpenAPI 3.0) under /ogc: the public layers
for QGIS, GDAL/OGR and other GIS clients. Everything answered here is public (see
interop/ogc/collections.py for what each collection shows); every failure, including a
server error, is answered in the standard's exception JSON."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams

from api.deps import SessionDep, SettingsDep
from api.geojson_responses import GeoJSONResponse
from api.i18n import negotiate_language
from interop.ogc.collections import (
    COLLECTIONS,
    Collection,
    Extent,
    ItemQuery,
    extent,
    feature_schema,
    item,
    item_page,
    queryables_schema,
)
from interop.ogc.query_params import (
    CRS84,
    OgcError,
    check_parameters,
    invalid,
    not_found,
    parse_bbox,
    parse_datetime,
    parse_limit,
    read_cursor,
    sign_cursor,
)
from interop.ogc.service_description import (
    GEOJSON,
    ITEMS_PARAMETERS,
    JSON,
    OPENAPI_MEDIA_TYPE,
    route_parameters,
    service_description,
)

log = logging.getLogger("gridgov.api")

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
SCHEMA_MEDIA_TYPE = "application/schema+json"
# Collection extents are recomputed at most this often per process.
EXTENT_TTL_SECONDS = 60.0


class OgcRoute(APIRoute):
    """A route whose every failure is answered as an OGC API exception."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            # Every kind of failure, the client's or ours, answered in the OGC form.
            except Exception as exc:
                return _exception(request, _as_ogc_error(request, exc))

        return answer


def _as_ogc_error(request: Request, exc: Exception) -> OgcError:
    """The OGC exception for a failure: the request's fault (400, 404), an unreachable
    database (503), or anything else (500, logged)."""
    if isinstance(exc, OgcError):
        return exc
    if isinstance(exc, RequestValidationError):
        field = ".".join(str(p) for p in exc.errors()[0]["loc"][1:]) or "request"
        return OgcError(
            400, "InvalidParameterValue", f"参数 {field} 无效", f"{field} is not valid", field
        )
    if _database_unreachable(exc):
        log.warning("OGC API: database unavailable: %s", exc)
        return OgcError(
            503,
            "ServiceUnavailable",
            "服务暂时不可用，请稍后重试",
            "The service is temporarily unavailable; try again shortly",
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return OgcError(500, "NoApplicableCode", "服务器内部错误", "Internal error")


def _database_unreachable(exc: Exception) -> bool:
    # A refused or dropped connection (asyncpg raises ConnectionRefusedError itself).
    if isinstance(exc, ConnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    name = type(exc.orig).__name__
    return exc.connection_invalidated or any(
        s in name for s in ("Connection", "CannotConnect", "Interface")
    )


router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], route_class=OgcRoute)
# HEAD answers wherever GET does (the official test suite and caches ask it).
READ = ("GET", "HEAD")
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
MAX_QUERYABLE_VALUE = 100


def _exception(request: Request, error: OgcError) -> JSONResponse:
    return JSONResponse(error.body(negotiate_language(request)), status_code=error.status)


def _text(request: Request, zh: str, en: str) -> str:
    return en if negotiate_language(request) == "en" else zh


def _link(href: Any, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": str(href), "rel": rel, "type": media_type, "title": title}


def _collection_or_404(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise not_found(f"集合 {collection_id}", f"collection {collection_id}")
    return found


async def _extent(request: Request, session: AsyncSession, collection: Collection) -> Extent:
    """The collection's extent as computed at most EXTENT_TTL_SECONDS ago by this process
    (an aggregate over every visible row: 217-268 ms for reports at 1M, issue 19). A new
    report or cell shows in the extent within the TTL; the cache lives on the app, so each
    app (and each test's app) starts empty."""
    cache: dict[str, tuple[float, Extent]] | None = getattr(request.app.state, "ogc_extents", None)
    if cache is None:
        cache = request.app.state.ogc_extents = {}
    now = time.monotonic()
    cached = cache.get(collection.id)
    if cached is not None and now - cached[0] < EXTENT_TTL_SECONDS:
        return cached[1]
    computed = await extent(session, collection)
    cache[collection.id] = (now, computed)
    return computed


async def _describe(
    request: Request, session: AsyncSession, collection: Collection
) -> dict[str, Any]:
    """A collection's metadata: titles, extent now, links to itself and its items."""
    now = await _extent(request, session, collection)
    spatial: dict[str, Any] = {"crs": CRS84}
    if now.bbox is not None:
        spatial["bbox"] = [list(now.bbox)]
    described: dict[str, Any] = {"spatial": spatial}
    if collection.temporal:
        first = now.first.isoformat() if now.first else None
        described["temporal"] = {"interval": [[first, None]], "trs": _GREGORIAN}
    here = request.url_for("ogc_collection", collection_id=collection.id)
    items = request.url_for("ogc_items", collection_id=collection.id)
    schema = request.url_for("ogc_schema", collection_id=collection.id)
    queryables = request.url_for("ogc_queryables", collection_id=collection.id)
    title = _text(request, collection.title_zh, collection.title_en)
    return {
        "id": collection.id,
        "title": title,
        "description": _text(request, collection.description_zh, collection.description_en),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": described,
        "links": [
            _link(here, "self", JSON, title),
            _link(items, "items", GEOJSON, _text(request, f"{title}要素", f"{title}: features")),
            # GDAL matches this spelling only (relation types are case-insensitive).
            _link(
                schema,
                "describedBy",
                SCHEMA_MEDIA_TYPE,
                _text(request, f"{title}字段结构", f"{title}: schema"),
            ),
            _link(
                queryables,
                QUERYABLES_REL,
                SCHEMA_MEDIA_TYPE,
                _text(request, f"{title}可筛选字段", f"{title}: queryables"),
            ),
        ],
    }


@router.get("", name="ogc_landing", openapi_extra=route_parameters())
async def landing_page(request: Request) -> JSONResponse:
    """The landing page: what this API is and links to its description and data."""
    check_parameters(request.query_params, ())
    return JSONResponse(
        {
            "title": _text(
                request,
                "gridgov 公开图层（OGC API - Features）",
                "gridgov public layers (OGC API - Features)",
            ),
            "description": _text(
                request,
                "网格、行政区划与公开上报（位置已粗化，无个人信息）",
                "Grid cells, regions and public reports (coarsened places, no personal data)",
            ),
            "links": [
                _link(
                    request.url_for("ogc_landing"),
                    "self",
                    JSON,
                    _text(request, "本页", "this document"),
                ),
                _link(
                    request.url_for("ogc_api"),
                    "service-desc",
                    OPENAPI_MEDIA_TYPE,
                    _text(request, "API 定义（OpenAPI 3.0）", "the API definition (OpenAPI 3.0)"),
                ),
                _link(
                    request.url_for("swagger_ui_html"),
                    "service-doc",
                    "text/html",
                    _text(request, "API 文档", "the API documentation"),
                ),
                _link(
                    request.url_for("ogc_conformance"),
                    "conformance",
                    JSON,
                    _text(request, "符合的标准类", "conformance classes"),
                ),
                _link(
                    request.url_for("ogc_collections"),
                    "data",
                    JSON,
                    _text(request, "数据集合", "the collections"),
                ),
            ],
        }
    )


# OWSLib and others ask for the landing page with a trailing slash.
router.add_api_route("/", landing_page, methods=["GET"], include_in_schema=False)


@router.get("/conformance", name="ogc_conformance", openapi_extra=route_parameters())
async def conformance(request: Request) -> JSONResponse:
    """The conformance classes implemented."""
    check_parameters(request.query_params, ())
    return JSONResponse({"conformsTo": CONFORMANCE})


@router.get("/api", name="ogc_api", openapi_extra=route_parameters())
async def api_definition(request: Request) -> JSONResponse:
    """This API's description in OpenAPI 3.0."""
    check_parameters(request.query_params, ())
    server = str(request.url_for("ogc_landing"))
    queryables = {c.id: c.layer.queryables for c in COLLECTIONS.values()}
    return JSONResponse(service_description(server, queryables), media_type=OPENAPI_MEDIA_TYPE)


@router.get("/collections", name="ogc_collections", openapi_extra=route_parameters())
async def collections(request: Request, session: SessionDep) -> JSONResponse:
    """Every collection with its extent and links."""
    check_parameters(request.query_params, ())
    described = [await _describe(request, session, c) for c in COLLECTIONS.values()]
    return JSONResponse(
        {
            "links": [
                _link(
                    request.url_for("ogc_collections"),
                    "self",
                    JSON,
                    _text(request, "数据集合", "the collections"),
                )
            ],
            "collections": described,
        }
    )


@router.get("/collections/{collection_id}", name="ogc_collection", openapi_extra=route_parameters())
async def collection(request: Request, session: SessionDep, collection_id: str) -> JSONResponse:
    """One collection's metadata."""
    check_parameters(request.query_params, ())
    found = _collection_or_404(collection_id)
    return JSONResponse(await _describe(request, session, found))


@router.get(
    "/collections/{collection_id}/schema", name="ogc_schema", openapi_extra=route_parameters()
)
async def schema(request: Request, collection_id: str) -> JSONResponse:
    """A JSON Schema of the collection's features (their fields and types)."""
    found = _collection_or_404(collection_id)
    check_parameters(request.query_params, ())
    body = {
        "$id": str(request.url_for("ogc_schema", collection_id=found.id)),
        **feature_schema(found),
    }
    return JSONResponse(body, media_type=SCHEMA_MEDIA_TYPE)


@router.get(
    "/collections/{collection_id}/queryables",
    name="ogc_queryables",
    openapi_extra=route_parameters(),
)
async def queryables(request: Request, collection_id: str) -> JSONResponse:
    """The properties a collection filters on; each is a query parameter of its items
    (`?status=assigned`), compared for equality in SQL."""
    found = _collection_or_404(collection_id)
    check_parameters(request.query_params, ())
    body = {
        "$id": str(request.url_for("ogc_queryables", collection_id=found.id)),
        **queryables_schema(found),
    }
    return JSONResponse(body, media_type=SCHEMA_MEDIA_TYPE)


def _equals(params: QueryParams, collection: Collection) -> tuple[tuple[str, str], ...]:
    """The queryable properties given, with their values (checked, to be bound)."""
    given = []
    for name in collection.layer.queryables:
        if (value := params.get(name)) is None:
            continue
        if not 1 <= len(value) <= MAX_QUERYABLE_VALUE or not value.isprintable():
            raise invalid(
                name,
                f"应为 1 到 {MAX_QUERYABLE_VALUE} 个可打印字符",
                f"expected 1 to {MAX_QUERYABLE_VALUE} printable characters",
            )
        given.append((name, value))
    return tuple(given)


@router.get(
    "/collections/{collection_id}/items",
    name="ogc_items",
    response_class=GeoJSONResponse,
    openapi_extra=route_parameters(*ITEMS_PARAMETERS),
)
async def items(
    request: Request, session: SessionDep, settings: SettingsDep, collection_id: str
) -> GeoJSONResponse:
    """A page of features in id order; `next` links carry a signed cursor; the first
    page says how many match in all (`numberMatched`) when there are at most 10,000, and
    leaves it out when there are more (counting them all would cost more than the page)."""
    found = _collection_or_404(collection_id)
    params = request.query_params
    check_parameters(params, (*ITEMS_PARAMETERS, *found.layer.queryables))
    secret = settings.secret_key.get_secret_value()
    start, end = parse_datetime(params.get("datetime"))
    after = read_cursor(secret, found.id, params.get("cursor"))
    query = ItemQuery(
        bbox=parse_bbox(params.get("bbox"), params.get("bbox-crs")),
        # Checked for every collection; a timeless one has nothing to filter on.
        start=start,
        end=end,
        after=after,
        limit=parse_limit(params.get("limit")),
        count=after is None,
        equals=_equals(params, found),
    )
    page = await item_page(session, found, query)
    title = _text(request, found.title_zh, found.title_en)
    links = [
        _link(request.url, "self", GEOJSON, _text(request, "本页", "this page")),
        _link(request.url_for("ogc_collection", collection_id=found.id), "collection", JSON, title),
    ]
    if page.last_id is not None:
        following = request.url.include_query_params(
            cursor=sign_cursor(secret, found.id, page.last_id)
        )
        links.append(_link(following, "next", GEOJSON, _text(request, "下一页", "next page")))
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": page.features,
        "links": links,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberReturned": len(page.features),
    }
    if page.number_matched is not None:
        body["numberMatched"] = page.number_matched
    return GeoJSONResponse(body)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    name="ogc_item",
    response_class=GeoJSONResponse,
    openapi_extra=route_parameters(),
)
async def feature(
    request: Request, session: SessionDep, collection_id: str, feature_id: str
) -> GeoJSONResponse:
    """One feature by its id: a cell or region code, or a report's tracking number."""
    found = _collection_or_404(collection_id)
    check_parameters(request.query_params, ())
    body = await item(session, found, feature_id)
    if body is None:
        raise not_found(f"{found.title_zh}中的 {feature_id}", f"{feature_id} in {found.title_en}")
    body["links"] = [
        _link(request.url, "self", GEOJSON, feature_id),
        _link(
            request.url_for("ogc_collection", collection_id=found.id),
            "collection",
            JSON,
            _text(request, found.title_zh, found.title_en),
        ),
    ]
    return GeoJSONResponse(body)


def _answer_head_where_get_answers() -> None:
    """A HEAD route beside every GET route (same endpoint; the server sends no body),
    kept out of the OpenAPI document; added before `elsewhere`, which matches any
    path."""
    for route in list(router.routes):
        if isinstance(route, APIRoute) and route.methods == {"GET"}:
            router.add_api_route(
                route.path.removeprefix(router.prefix),
                route.endpoint,
                methods=["HEAD"],
                name=f"{route.name}_head",
                response_class=route.response_class,
                include_in_schema=False,
            )


_answer_head_where_get_answers()


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def elsewhere(request: Request, rest: str) -> Response:
    """Anything else under /ogc: 404 for a path the API does not have, 405 for a method
    other than GET or HEAD (the API is read-only), both in the standard's format."""
    if request.method not in READ:
        error = OgcError(405, "OperationNotSupported", "仅支持 GET 请求", "only GET is supported")
        response = _exception(request, error)
        response.headers["Allow"] = ", ".join(READ)
        return response
    raise not_found(f"路径 /ogc/{rest}", f"path /ogc/{rest}")
