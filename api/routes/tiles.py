"""Vector tiles of the public map layers: `/tiles/{layer}/{z}/{x}/{y}.mvt`.

An empty tile is answered 204 (no body), as tile servers commonly do; map clients treat
it as a tile with nothing in it. The ETag is a hash of the tile: a client revalidating
with If-None-Match gets 304 and no body (the tile is still cut, the bytes are saved).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.deps import SessionDep
from maps.tiles import MAX_ZOOM, tile

router = APIRouter(prefix="/tiles", tags=["maps"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
# Incidents change by the minute; cells and buildings change with an import.
MAX_AGE = {"incidents": 60, "cells": 3600, "buildings": 3600}


def _etag(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {MVT_MEDIA_TYPE: {}}},
        204: {"description": "empty tile"},
        304: {"description": "not modified"},
    },
)
async def get_tile(
    request: Request,
    session: SessionDep,
    layer: Annotated[str, Path(description="cells, buildings or incidents")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom")],
    x: Annotated[int, Path(ge=0, description="column, 0 to 2^z - 1")],
    y: Annotated[int, Path(ge=0, description="row from the top, 0 to 2^z - 1")],
) -> Response:
    """One Mapbox vector tile of a public layer (counts per grid square at low zoom)."""
    data = await tile(session, layer, z, x, y)
    headers = {"Cache-Control": f"public, max-age={MAX_AGE[layer]}"}
    if not data:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = _etag(data)
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MVT_MEDIA_TYPE, headers=headers)
