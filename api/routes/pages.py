"""Pages (public map, report form, tracking; the managers' coverage map; the grid
worker's map) and their bounded GeoJSON layers: the public map's incidents and the
coverage map's cells (by bbox) and drill-down (one level of one region at a time).

The pages are shells rendered by maps.pages; their scripts get the data from the JSON
APIs (/categories, /cells, /reports, /map/incidents.geojson, /dashboard/cells.geojson,
/dashboard/regions.geojson) in the browser; the coverage map's layers need a manager's
token, the worker's map (/incidents?view=mine, /patrol) a grid worker's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from api.deps import ManagerPrincipal, SessionDep, SettingsDep
from api.geojson_responses import GeoJSONResponse, parse_bbox
from api.routes.reports import DECLARATION_CATEGORIES, TrackingNumber
from core.errors import InvalidInput
from core.settings import Settings
from grid.addresses import MIN_QUERY_CHARS
from grid.cells import cells_extent
from grid.roles import MANAGER_ROLES
from incidents.categories import MAX_TEXT_ANSWER
from incidents.handling.coverage import cell_coverage, drill_down
from incidents.handling.notes_and_check_ins import CHECK_IN_STATUSES
from incidents.intake.photos import ACCEPTED_MEDIA_TYPES
from incidents.intake.schemas import ReportIn
from incidents.lifecycle import ACTIONS, OPEN
from incidents.notify.following import canonical_tracking_number
from incidents.publication.views import public_open_incidents
from maps.page_assets import SERVICE_WORKER, app_files, vendor_files
from maps.pages import PageContext, dashboard_config, pick_language, render_page, strings

router = APIRouter(tags=["pages"])

# Shown when no cell is known yet: mainland China.
_CHINA = (73.5, 18.0, 135.1, 53.6)
_MAX_MAP_FEATURES = 2000

_MAX_DASHBOARD_CELLS = 1000


def page_context(
    settings: Settings, lang: str | None, extent: tuple[float, float, float, float] = _CHINA
) -> PageContext:
    """Language, base map and where the page's map opens; a page without a map keeps the
    default and asks the database nothing."""
    return PageContext(
        lang=pick_language(lang, settings.default_language),
        basemap_url=settings.basemap_url,
        extent=extent,
    )


async def _context(session: SessionDep, settings: SettingsDep, lang: str | None) -> PageContext:
    """A map page's context: its map opens on all grid cells (else mainland China)."""
    return page_context(settings, lang, await cells_extent(session) or _CHINA)


def _bounded_collection(features: list[dict], limit: int) -> GeoJSONResponse:
    """A FeatureCollection of at most `limit` features; `truncated` when the limit was hit."""
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "truncated": len(features) == limit,
        }
    )


Lang = Annotated[str | None, Query(description="zh-Hans (default) or en")]


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
async def map_page(session: SessionDep, settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """The public hazard map."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(render_page("map.html", ctx, "/map"))


@cache
def _schema_rule(field: str, rule: str) -> object:
    """A constraint of a ReportIn field as its JSON schema states it (e.g. a pattern)."""
    (declared,) = (
        s for s in ReportIn.model_json_schema()["properties"][field]["anyOf"] if rule in s
    )
    return declared[rule]


def report_form_limits(settings: Settings) -> dict[str, object]:
    """The intake rules the report form checks before sending: the same numbers the server
    enforces (photos from settings, fields from ReportIn), so the two cannot drift."""
    return {
        "maxPhotos": settings.max_photos,
        "maxPhotoMb": settings.max_photo_mb,
        "photoTypes": list(ACCEPTED_MEDIA_TYPES),
        "maxDescription": _schema_rule("description", "maxLength"),
        "maxAddress": _schema_rule("address", "maxLength"),
        "phonePattern": _schema_rule("contact_phone", "pattern"),
        "maxTextAnswer": MAX_TEXT_ANSWER,
        "minAddressQuery": MIN_QUERY_CHARS,
    }


# A self-service terminal (政务服务一体机) starts over after this long without input,
# warning this long before; the terminal's start URL may set both (?idle=&warn=).
KIOSK_IDLE_SECONDS = 120
KIOSK_WARN_SECONDS = 20
KioskIdle = Annotated[
    int,
    Query(ge=10, le=3600, description="kiosk: seconds without input before the form is cleared"),
]
KioskWarn = Annotated[int, Query(ge=3, le=600, description="kiosk: seconds of warning")]


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
async def report_page(
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
    kiosk: Annotated[bool, Query(description="the self-service terminal layout")] = False,
    idle: KioskIdle = KIOSK_IDLE_SECONDS,
    warn: KioskWarn = KIOSK_WARN_SECONDS,
) -> HTMLResponse:
    """The resident's report form; with kiosk=1 its self-service terminal layout."""
    if kiosk:
        return await kiosk_page(session, settings, lang, idle, warn)
    return _report_form(await _context(session, settings, lang), settings, "/report", None)


def _report_form(
    ctx: PageContext, settings: Settings, path: str, kiosk: dict[str, object] | None
) -> HTMLResponse:
    return HTMLResponse(
        render_page(
            "report.html",
            ctx,
            path,
            excludedCategories=sorted(DECLARATION_CATEGORIES),
            limits=report_form_limits(settings),
            kiosk=kiosk,
        )
    )


@router.get("/kiosk", response_class=HTMLResponse, include_in_schema=False)
async def kiosk_page(
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
    idle: KioskIdle = KIOSK_IDLE_SECONDS,
    warn: KioskWarn = KIOSK_WARN_SECONDS,
) -> HTMLResponse:
    """The report form for a self-service terminal in a community service centre: touch
    only, no sign-in, no way out of the flow, cleared after `idle` seconds without input
    (kiosk.js), a printable receipt."""
    if warn >= idle:
        raise InvalidInput(
            "warn must be shorter than idle", "提醒时间必须短于空闲时间", field="warn"
        )
    return _report_form(
        await _context(session, settings, lang),
        settings,
        "/kiosk",
        {"idleSeconds": idle, "warnSeconds": warn, "home": f"/kiosk?idle={idle}&warn={warn}"},
    )


def _with_lang(path: str, lang: str | None) -> str:
    return f"{path}?lang={quote(lang)}" if lang else path


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def front_page(settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """The front door: report a hazard, find a report, the public map, the published
    好差评 figures, and a resident's own reports."""
    ctx = page_context(settings, lang)
    return HTMLResponse(render_page("index.html", ctx, "/", lookup_error=None, typed=""))


def _lookup_page(ctx: PageContext, typed: str, status: int) -> HTMLResponse:
    """The look-up form alone; with what was typed and why it is not a number."""
    error = strings()[ctx.lang]["idx_number_invalid"] if typed else None
    return HTMLResponse(
        render_page("track.html", ctx, "/track", number=None, lookup_error=error, typed=typed),
        status_code=status,
    )


@router.get("/track", response_class=HTMLResponse, include_in_schema=False)
async def track_lookup(
    settings: SettingsDep,
    lang: Lang = None,
    number: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Find a report by its number (the front page's form sends it here): a number as
    people type it goes on to its tracking page; anything else shows the form again
    with what is wrong."""
    canonical = canonical_tracking_number(number) if number else None
    if canonical:
        return RedirectResponse(_with_lang(f"/track/{canonical}", lang), status_code=303)
    ctx = page_context(settings, lang)
    return _lookup_page(ctx, (number or "").strip(), 400 if number and number.strip() else 200)


@router.get("/track/{tracking_number}", response_class=HTMLResponse, include_in_schema=False)
async def track_page(
    tracking_number: Annotated[str, Path(max_length=100)],
    settings: SettingsDep,
    lang: Lang = None,
) -> Response:
    """A report's status and timeline by tracking number; a number typed in lower case,
    with spaces or another dash goes to its canonical address."""
    canonical = canonical_tracking_number(tracking_number)
    if canonical and canonical != tracking_number:
        return RedirectResponse(_with_lang(f"/track/{canonical}", lang), status_code=308)
    ctx = page_context(settings, lang)
    if canonical is None:
        return _lookup_page(ctx, tracking_number.strip(), 404)
    return HTMLResponse(
        render_page(
            "track.html",
            ctx,
            f"/track/{tracking_number}",
            number=tracking_number,
            lookup_error=None,
            typed="",
            # The rating form shows only while the report may still be rated.
            ratingPeriodDays=settings.rating_period_days,
        )
    )


@router.get("/my-reports", response_class=HTMLResponse, include_in_schema=False)
async def my_reports_page(settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """A signed-in resident's own reports and notifications: a shell with a sign-in form;
    its data (GET /reports/mine, GET /inbox) needs the resident's token."""
    return HTMLResponse(render_page("my_reports.html", page_context(settings, lang), "/my-reports"))


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(
    session: SessionDep, settings: SettingsDep, lang: Lang = None
) -> HTMLResponse:
    """The managers' coverage map: a shell with a login form; its data needs a token."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(render_page("dashboard.html", ctx, "/dashboard", **dashboard_config()))


@router.get("/worker", response_class=HTMLResponse, include_in_schema=False)
async def worker_page(
    session: SessionDep, settings: SettingsDep, lang: Lang = None
) -> HTMLResponse:
    """The grid worker's own map: a shell with a login form; its data (GET /incidents
    and GET /patrol) needs a grid worker's token."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(render_page("worker.html", ctx, "/worker"))


def case_rules() -> dict[str, object]:
    """The rules the report page applies while offline, from their one home: what each
    action needs and leads to (incidents.lifecycle), when a check-in is possible, and
    which roles manage; so an action queued offline shows the state it will lead to."""
    return {
        "actions": {
            a.name: {
                "sources": sorted(a.sources),
                "target": a.target,
                "actor": a.actor.value,
                "needsNote": a.needs_note,
            }
            for a in ACTIONS.values()
        },
        "openStatuses": sorted(OPEN),
        "checkInStatuses": sorted(CHECK_IN_STATUSES),
        "managerRoles": sorted(role.value for role in MANAGER_ROLES),
    }


@router.get("/case/{tracking_number}", response_class=HTMLResponse, include_in_schema=False)
async def case_page(
    tracking_number: TrackingNumber,
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
) -> HTMLResponse:
    """One report's staff page (worker and manager alike): detail, timeline and the
    caller's actions; its data (GET /incidents/{number}) needs a staff token."""
    ctx = await _context(session, settings, lang)
    return HTMLResponse(
        render_page(
            "case.html",
            ctx,
            f"/case/{tracking_number}",
            number=tracking_number,
            limits=report_form_limits(settings),
            mapAppUrl=settings.map_app_url,
            checkinRadiusM=settings.checkin_radius_m,
            **case_rules(),
        )
    )


@router.get("/desk", response_class=HTMLResponse, include_in_schema=False)
async def desk_page(settings: SettingsDep, lang: Lang = None) -> HTMLResponse:
    """The managers' desk: report lists by cell or region, assignment, verification,
    extension and transfer decisions, publication review, the 好差评 desk."""
    return HTMLResponse(render_page("desk.html", page_context(settings, lang), "/desk"))


@router.get("/dashboard/cells.geojson", response_class=GeoJSONResponse)
async def dashboard_cells(
    session: SessionDep,
    principal: ManagerPrincipal,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat")],
) -> GeoJSONResponse:
    """The cells in force in a bbox within the manager's area with their coverage
    figures (no personal data); at most 1,000, by code."""
    box = parse_bbox(bbox, required=True)
    scope = None if principal.is_admin else principal.region_path
    features = await cell_coverage(
        session, scope, box, datetime.now(UTC), limit=_MAX_DASHBOARD_CELLS
    )
    return _bounded_collection(features, _MAX_DASHBOARD_CELLS)


@router.get("/dashboard/regions.geojson", response_class=GeoJSONResponse)
async def dashboard_regions(
    session: SessionDep,
    principal: ManagerPrincipal,
    region: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{6}([0-9]{3}){0,2}$",
            description="a region code within your area; none: where your map opens",
        ),
    ] = None,
) -> GeoJSONResponse:
    """The coverage map's drill-down: the level below a region within the manager's area
    (districts, streets, communities with the figures of everything below them; a
    community's cells), the trail back up, no personal data. Outside the area: 403."""
    answer = await drill_down(
        session, principal, region, datetime.now(UTC), cell_limit=_MAX_DASHBOARD_CELLS
    )
    return GeoJSONResponse(answer)


@router.get("/map/incidents.geojson", response_class=GeoJSONResponse)
async def public_incidents(
    session: SessionDep,
    bbox: Annotated[str, Query(description="minLon,minLat,maxLon,maxLat")],
    category: Annotated[str | None, Query(pattern=r"^[a-z]+\.[a-z_]+$")] = None,
) -> GeoJSONResponse:
    """Open hazards in a bbox for the public map: status, category and a coarse place
    only (no number, text, reporter or handler); the newest first, at most 2,000."""
    box = parse_bbox(bbox, required=True)
    features = await public_open_incidents(session, box, category, limit=_MAX_MAP_FEATURES)
    return _bounded_collection(features, _MAX_MAP_FEATURES)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> FileResponse:
    """The staff pages' service worker, at the root so that its scope is the whole site;
    always revalidated, so a new release takes over at the next visit."""
    return FileResponse(
        SERVICE_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/manifest.webmanifest", include_in_schema=False)
async def web_manifest(settings: SettingsDep, lang: Lang = None) -> JSONResponse:
    """What a phone needs to install the worker app on its home screen."""
    labels = strings()[pick_language(lang, settings.default_language)]
    return JSONResponse(
        {
            "name": labels["app_name"],
            "short_name": labels["app_short_name"],
            "lang": pick_language(lang, settings.default_language),
            "start_url": "/worker",
            "scope": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#1f4e79",
            "icons": [
                {
                    "src": f"/static/icons/icon-{size}.png",
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": "any",
                }
                for size in (192, 512)
            ],
        },
        media_type="application/manifest+json",
    )


def mount_static(app: FastAPI) -> None:
    """Serve the npm vendor files and gridgov's own scripts and stylesheets."""
    app.mount("/static/vendor", vendor_files(), name="vendor")
    app.mount("/static/icons", app_files("icons"), name="icons")
    app.mount("/static/js", app_files("js"), name="js")
    app.mount("/static/css", app_files("css"), name="css")
