"""The OGC API's own service description, OpenAPI 3.0 (the conformance class oas30; the
app's /openapi.json is 3.1): what GDAL and QGIS read to learn the items parameters and
the largest page (`limit`'s maximum)."""

from __future__ import annotations

from typing import Any

from interop.ogc.query_params import CRS84, DEFAULT_LIMIT, FORMATS, MAX_LIMIT

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
JSON = "application/json"

_EXCEPTION = {"$ref": "#/components/schemas/exception"}

# The query parameters, as the routes also list them in the app's own document.
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "bbox": {
        "name": "bbox",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "minLon,minLat,maxLon,maxLat in CRS84 (six numbers with heights "
        "are accepted, heights ignored); features that intersect it",
        "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
    },
    "bbox-crs": {
        "name": "bbox-crs",
        "in": "query",
        "required": False,
        "description": "the bbox's CRS; only CRS84 is served",
        "schema": {"type": "string", "format": "uri", "enum": [CRS84], "default": CRS84},
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "an RFC 3339 instant, a date (China's day), or a closed interval "
        "a/b with .. for an open end; filters reports on the time they were "
        "made, and is checked but has no effect on timeless collections",
        "schema": {"type": "string"},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": f"features per page; more than {MAX_LIMIT} is refused",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "opaque: where the next page starts; take it from a `next` link",
        "schema": {"type": "string"},
    },
    "f": {
        "name": "f",
        "in": "query",
        "required": False,
        "description": "output format (everything is JSON)",
        "schema": {"type": "string", "enum": list(FORMATS)},
    },
}
ITEMS_PARAMETERS = ("bbox", "bbox-crs", "datetime", "limit", "cursor")


def route_parameters(*names: str) -> dict[str, Any]:
    """`openapi_extra` listing these query parameters (and `f`) on a route of the app's
    document; the routes read them by hand to answer errors in the OGC format."""
    return {"parameters": [QUERY_PARAMETERS[n] for n in (*names, "f")]}


def queryable_parameter(name: str) -> dict[str, Any]:
    """A queryable property as a query parameter of its collection's items (GDAL sends
    `-where "status='assigned'"` as `status=assigned` when it finds it listed)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": f"features whose {name} equals the value",
        "schema": {"type": "string"},
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _answer(media_type: str, schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {"schema": _ref("schemas", schema)}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "a parameter is not valid",
        404: "no such collection or feature",
        500: "a server error",
    }
    return {
        str(s): {"description": text[s], "content": {JSON: {"schema": _EXCEPTION}}}
        for s in statuses
    }


def _get(
    operation_id: str,
    summary: str,
    parameters: list[dict[str, Any]],
    ok: dict[str, Any],
    *errors: int,
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["OGC API"],
            "parameters": [*parameters, _ref("parameters", "f")],
            "responses": {"200": ok, **_errors(400, *errors, 500)},
        }
    }


def _schemas(collection_ids: list[str]) -> dict[str, Any]:
    link = {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": _ref("schemas", "link")}
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "links": links,
        },
    }
    return {
        "exception": {
            "type": "object",
            "required": ["code"],
            "properties": {
                "code": {"type": "string"},
                "description": {"type": "string"},
                "field": {"type": "string"},
            },
        },
        "link": link,
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": links,
            },
        },
        "confClasses": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string", "enum": collection_ids},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "itemType": {"type": "string"},
                "crs": {"type": "array", "items": {"type": "string"}},
                "extent": {"type": "object"},
                "links": links,
            },
        },
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {"type": "array", "items": _ref("schemas", "collection")},
            },
        },
        "featureGeoJSON": feature,
        "featureCollectionGeoJSON": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": _ref("schemas", "featureGeoJSON")},
                "links": links,
                "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
            },
        },
    }


def _collection_paths(queryables: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Each collection's own items path, listing its queryables as parameters (GDAL reads
    a layer's filters from its own path), and its queryables document."""
    paths: dict[str, Any] = {}
    for collection_id, names in queryables.items():
        parameters = [
            *(_ref("parameters", n) for n in ITEMS_PARAMETERS),
            *(queryable_parameter(n) for n in names),
        ]
        paths[f"/collections/{collection_id}/items"] = _get(
            f"getFeatures_{collection_id}",
            f"a page of {collection_id}",
            parameters,
            _answer(
                GEOJSON,
                "featureCollectionGeoJSON",
                "features in id order, with a `next` link while more follow",
            ),
        )
        paths[f"/collections/{collection_id}/queryables"] = _get(
            f"getQueryables_{collection_id}",
            f"what {collection_id} filters on",
            [],
            {
                "description": "the queryable properties (a JSON Schema)",
                "content": {"application/schema+json": {"schema": {"type": "object"}}},
            },
        )
    return paths


def service_description(server_url: str, queryables: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC API served at `server_url`, for collections
    and the properties each filters on."""
    collection_ids = list(queryables)
    collection_id = {
        "name": "collectionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": collection_ids},
    }
    feature_id = {
        "name": "featureId",
        "in": "path",
        "required": True,
        "description": "a cell or region code, or a report's tracking number",
        "schema": {"type": "string"},
    }
    items = [_ref("parameters", "collectionId"), *(_ref("parameters", n) for n in ITEMS_PARAMETERS)]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gridgov OGC API - Features",
            "description": "网格、行政区划与公开上报（位置已粗化，无个人信息）/ "
            "grid cells, regions and public reports (coarsened places, "
            "no personal data)",
            "version": "1.0.0",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/": _get(
                "getLandingPage",
                "landing page",
                [],
                _answer(JSON, "landingPage", "links to the API's resources"),
            ),
            "/conformance": _get(
                "getConformance",
                "conformance classes",
                [],
                _answer(JSON, "confClasses", "the classes implemented"),
            ),
            "/api": _get(
                "getServiceDescription",
                "this document",
                [],
                {
                    "description": "the OpenAPI document",
                    "content": {OPENAPI_MEDIA_TYPE: {"schema": {"type": "object"}}},
                },
            ),
            "/collections": _get(
                "getCollections",
                "the collections",
                [],
                _answer(JSON, "collections", "every collection"),
            ),
            "/collections/{collectionId}": _get(
                "describeCollection",
                "one collection",
                [_ref("parameters", "collectionId")],
                _answer(JSON, "collection", "the collection"),
                404,
            ),
            "/collections/{collectionId}/schema": _get(
                "getSchema",
                "the features' JSON Schema",
                [_ref("parameters", "collectionId")],
                {
                    "description": "fields and their types",
                    "content": {"application/schema+json": {"schema": {"type": "object"}}},
                },
                404,
            ),
            "/collections/{collectionId}/items": _get(
                "getFeatures",
                "a page of features",
                items,
                _answer(
                    GEOJSON,
                    "featureCollectionGeoJSON",
                    "features in id order, with a `next` link while more follow",
                ),
                404,
            ),
            "/collections/{collectionId}/items/{featureId}": _get(
                "getFeature",
                "one feature",
                [_ref("parameters", "collectionId"), _ref("parameters", "featureId")],
                _answer(GEOJSON, "featureGeoJSON", "the feature"),
                404,
            ),
            **_collection_paths(queryables),
        },
        "components": {
            "parameters": {
                "collectionId": collection_id,
                "featureId": feature_id,
                **QUERY_PARAMETERS,
            },
            "schemas": _schemas(collection_ids),
        },
    }
