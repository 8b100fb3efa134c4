"""The base map's MapLibre style (`/maps/style.json`) and its glyphs
(`/maps/fonts/{fontstack}/{range}.pbf`), all served by gridgov so maps work offline."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import SettingsDep
from core.errors import InvalidInput, NotFound
from maps.glyphs import face_for, glyph_range
from maps.style import build_style

router = APIRouter(prefix="/maps", tags=["maps"])

# The style names the server's own address; revalidated often, so a new layer shows soon.
STYLE_MAX_AGE = 300
# A glyph range changes only with the font: a year.
GLYPH_MAX_AGE = 365 * 24 * 3600
_RANGE = re.compile(r"^([0-9]{1,7})-([0-9]{1,7})$")


@router.get("/style.json")
async def get_style(request: Request, response: Response, settings: SettingsDep) -> dict[str, Any]:
    """The base map's MapLibre style (spec v8) with absolute URLs on this server."""
    response.headers["Cache-Control"] = f"public, max-age={STYLE_MAX_AGE}"
    return build_style(str(request.base_url).rstrip("/"), settings.basemap_url)


def _range_start(value: str) -> int:
    """The first code point of a range named 'start-end' (256 code points, aligned)."""
    match = _RANGE.match(value)
    start = int(match.group(1)) if match else -1
    if not match or start % 256 or int(match.group(2)) != start + 255 or start > 0x10FFFF:
        raise InvalidInput(
            "range must be 256 code points such as 0-255 or 19968-20223",
            "range 应为 256 个码位，例如 0-255 或 19968-20223",
            field="range",
        )
    return start


@router.get(
    "/fonts/{fontstack}/{range}.pbf",
    response_class=Response,
    responses={200: {"content": {"application/x-protobuf": {}}}},
)
async def get_glyphs(
    fontstack: Annotated[str, Path(max_length=200, description="font names, comma-separated")],
    code_points: Annotated[str, Path(alias="range", description="code points, e.g. 0-255")],
) -> Response:
    """A range of SDF glyphs of the first font in the stack that gridgov has."""
    start = _range_start(code_points)
    face = face_for(fontstack)
    if face is None:
        raise NotFound(f"No font among {fontstack}", f"没有字体 {fontstack}", field="fontstack")
    # Drawn off the event loop: a range not built at set-up takes a few seconds once.
    data = await run_in_threadpool(glyph_range, face, start)
    return Response(
        data,
        media_type="application/x-protobuf",
        headers={"Cache-Control": f"public, max-age={GLYPH_MAX_AGE}, immutable"},
    )
