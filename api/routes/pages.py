"""Pages (public map, report form, tracking; the managers' coverage map) and their
bbox-bounded GeoJSON layers: the public map's incidents and the coverage map's cells.

The pages are shells rendered by maps.pages; their scripts get the data from the JSON
APIs (/categories, /cells, /reports, /map/incidents.geojson, /dashboard/cells.geojson)
in the browser; the coverage map's layer needs a manager's token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep, require_roles
from api.geojson import GeoJSONResponse, parse_bbox
from api.routes.reports import DECLARATION_CATEGORIES, TrackingNumber
from gis.clock import local_date
from grid.access import Principal
from grid.roles import MANAGER_ROLES
from incidents.intake import OPEN_STATUSES
from maps.assets import app_files, vendor_files
from maps.pages import PageContext, dashboard_config, pick_language, render_page

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
# The coverage map's figures per cell in force in a bbox within the manager's area (a
# region path prefix; NULL for admins): a primary worker today or not, open and overdue
# reports now, satisfaction of the valid handling ratings of the last 30 days. The
# bbox is bounded like /cells (at most _MAX_DASHBOARD_CELLS, by code); each figure is
# one indexed lookup per returned cell, in one statement.
_DASHBOARD_CELLS = text("""
    WITH cell AS (
        SELECT c.id, c.code, c.name, c.boundary
        FROM grid_cells c
        JOIN regions r ON r.id = c.community_id
        WHERE c.active_from IS NOT NULL AND c.active_to IS NULL
          AND (CAST(:scope AS text) IS NULL OR r.path LIKE CAST(:scope AS text) || '%')
          AND c.boundary && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
        ORDER BY c.code
        LIMIT :limit
    )
    SELECT cell.code, cell.name, ST_AsGeoJSON(cell.boundary, 6) AS geometry,
        EXISTS (SELECT 1 FROM cell_assignments a
                WHERE a.cell_id = cell.id AND a.kind = 'primary' AND a.valid_from <= :today
                  AND (a.valid_to IS NULL OR a.valid_to > :today)) AS staffed,
        o.open, o.overdue, rt.valid, rt.satisfied
    FROM cell
    CROSS JOIN LATERAL (
        SELECT count(*) AS open, count(*) FILTER (WHERE i.resolve_due_at < :now) AS overdue
        FROM incidents i WHERE i.cell_id = cell.id AND i.status = ANY(:open_statuses)
    ) o
    CROSS JOIN LATERAL (
        SELECT count(*) AS valid, count(*) FILTER (WHERE r.overall >= 4) AS satisfied
        FROM incidents i
        JOIN ratings r ON r.incident_id = i.id AND r.kind = 'handling' AND NOT r.excluded
        WHERE i.cell_id = cell.id AND i.created_at >= :since
    ) rt
    ORDER BY cell.code
""")
_MAX_DASHBOARD_CELLS = 1000
_SATISFACTION_DAYS = 30
Manager = Annotated[Principal, Depends(require_roles(*MANAGER_ROLES))]
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


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(
    session: SessionDep, settings: SettingsDep, lang: Lang = None
) -> HTMLResponse:
    """The managers' coverage map: a shell with a login form; its data needs a token."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(render_page("dashboard.html", ctx, "/dashboard", **dashboard_config()))


@router.get("/dashboard/cells.geojson", response_class=GeoJSONResponse)
async def dashboard_cells(
    session: SessionDep,
    principal: Manager,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat")],
) -> GeoJSONResponse:
    """The cells in force in a bbox within the manager's area with their coverage
    figures (no personal data); at most 1,000, by code."""
    box = parse_bbox(bbox, required=True)
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            _DASHBOARD_CELLS,
            {
                "scope": None if principal.is_admin else principal.region_path,
                "w": box.min_lon,
                "s": box.min_lat,
                "e": box.max_lon,
                "n": box.max_lat,
                "limit": _MAX_DASHBOARD_CELLS,
                "today": local_date(now),
                "now": now,
                "open_statuses": list(OPEN_STATUSES),
                "since": now - timedelta(days=_SATISFACTION_DAYS),
            },
        )
    ).all()
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(row.geometry),
            "properties": {
                "code": row.code,
                "name": row.name,
                "staffed": row.staffed,
                "open": row.open,
                "overdue": row.overdue,
                "ratings": row.valid,
                "satisfaction": row.satisfied / row.valid if row.valid else None,
            },
        }
        for row in rows
    ]
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "truncated": len(features) == _MAX_DASHBOARD_CELLS,
        }
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
