"""Public pages (map, report form, tracking) and the public map's bbox-bounded GeoJSON.

The pages are shells rendered by maps.pages; their scripts get the data from the JSON
APIs (/categories, /cells, /reports, /map/incidents.geojson) in the browser.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep
from api.geojson import GeoJSONResponse, parse_bbox
from api.routes.reports import DECLARATION_CATEGORIES, TrackingNumber
from incidents.intake import OPEN_STATUSES
from maps.assets import app_files, vendor_files
from maps.pages import PageContext, pick_language, render_page

router = APIRouter(tags=["pages"])

# Shown when no cell is known yet: mainland China.
_CHINA = (73.5, 18.0, 135.1, 53.6)
_MAX_MAP_FEATURES = 2000

_EXTENT = text("""
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(boundary) AS e FROM grid_cells) s
""")

# Open incidents in a bbox with only public fields, at their public place: the point
# coarsened per category that the trigger keeps in public_point_3857 (as the vector
# tiles use). The bbox literal is transformed, never the column, so its GiST index
# answers the test; only the returned points are transformed back to lon/lat.
_OPEN_INCIDENTS = text("""
    SELECT i.status, i.category_code, k.label_zh, k.label_en, k.tier, i.created_at,
           ST_AsGeoJSON(ST_Transform(i.public_point_3857, 4326), 6) AS place
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    WHERE i.public_point_3857 && ST_Transform(ST_MakeEnvelope(:w, :s, :e, :n, 4326), 3857)
      AND i.status = ANY(:statuses)
      AND (CAST(:category AS text) IS NULL OR i.category_code = :category)
    ORDER BY i.created_at DESC
    LIMIT :limit
""")
# Web Mercator ends short of the poles.
_MERCATOR_MAX_LAT = 85.05


async def _context(session: SessionDep, settings: SettingsDep, lang: str | None) -> PageContext:
    """Language, base map and the first view (all grid cells; else mainland China)."""
    w, s, e, n = (await session.execute(_EXTENT)).one()
    extent = _CHINA if w is None else (float(w), float(s), float(e), float(n))
    return PageContext(
        lang=pick_language(lang, settings.default_language),
        basemap_url=settings.basemap_url,
        extent=extent,
    )


Lang = Annotated[str | None, Query(description="zh-Hans (default) or en")]


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
async def map_page(session: SessionDep, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """The public hazard map."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(render_page("map.html", ctx, "/map"))


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
async def report_page(
    session: SessionDep, settings: SettingsDep, lang: Lang = None
) -> HTMLResponse:
    """The resident's report form."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(
        render_page(
            "report.html", ctx, "/report", excludedCategories=sorted(DECLARATION_CATEGORIES)
        )
    )


@router.get("/track/{tracking_number}", response_class=HTMLResponse, include_in_schema=False)
async def track_page(
    tracking_number: TrackingNumber,
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
) -> HTMLResponse:
    """A report's status and timeline by tracking number."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(
        render_page("track.html", ctx, f"/track/{tracking_number}", number=tracking_number)
    )


@router.get("/map/incidents.geojson", response_class=GeoJSONResponse)
async def public_incidents(
    session: SessionDep,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat")],
    category: Annotated[str | None, Query(pattern=r"^[a-z]+\.[a-z_]+$")] = None,
) -> GeoJSONResponse:
    """Open hazards in a bbox for the public map: status, category and a coarse place
    only (no number, text, reporter or handler); the newest first, at most 2,000."""
    box = parse_bbox(bbox, required=True)
    rows = (
        (
            await session.execute(
                _OPEN_INCIDENTS,
                {
                    "statuses": list(OPEN_STATUSES),
                    "w": box.min_lon,
                    "s": max(box.min_lat, -_MERCATOR_MAX_LAT),
                    "e": box.max_lon,
                    "n": min(box.max_lat, _MERCATOR_MAX_LAT),
                    "category": category,
                    "limit": _MAX_MAP_FEATURES,
                },
            )
        )
        .mappings()
        .all()
    )
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": json.loads(row["place"]),
            "properties": {
                "status": row["status"],
                "category": row["category_code"],
                "label_zh": row["label_zh"],
                "label_en": row["label_en"],
                "tier": row["tier"],
                "created_at": row["created_at"].isoformat(),
            },
        }
        for row in rows
    ]
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "truncated": len(features) == _MAX_MAP_FEATURES,
        }
    )


def mount_static(app: FastAPI) -> None:
    """Serve the npm vendor files and gridgov's own scripts and stylesheets."""
    app.mount("/static/vendor", vendor_files(), name="vendor")
    app.mount("/static/js", app_files("js"), name="js")
    app.mount("/static/css", app_files("css"), name="css")
