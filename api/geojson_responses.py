"""GeoJSON responses with paging links."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from core.errors import InvalidInput
from gis.geometry import BBox, BBoxError

GEOJSON_MEDIA_TYPE = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """JSON with the GeoJSON media type (RFC 7946)."""

    media_type = GEOJSON_MEDIA_TYPE


def parse_bbox(text: str | None, *, required: bool = False) -> BBox | None:
    """Parse the bbox query parameter or raise a 422 naming it."""
    if text is None:
        if required:
            raise InvalidInput("bbox is required", "缺少 bbox 参数", field="bbox")
        return None
    try:
        return BBox.parse(text)
    except BBoxError as exc:
        raise InvalidInput(str(exc), f"bbox 无效：{exc}", field="bbox") from exc


def feature_collection(
    request: Request, features: list[dict[str, Any]], next_cursor: Any
) -> GeoJSONResponse:
    """A FeatureCollection with a `next` link when more features follow."""
    links = [{"rel": "self", "href": str(request.url), "type": GEOJSON_MEDIA_TYPE}]
    if next_cursor is not None:
        href = str(request.url.include_query_params(after=next_cursor))
        links.append({"rel": "next", "href": href, "type": GEOJSON_MEDIA_TYPE})
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberReturned": len(features),
        "links": links,
    }
    return GeoJSONResponse(body)
