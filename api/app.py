"""The FastAPI application: lifespan-managed engine, routes, error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI
from sqlalchemy import Engine

from api.abuse import BanGate, BodyLimit, ForwardedFor
from api.compression import CompressPages
from api.error_handlers import install_error_handlers
from api.headers import SecurityHeaders
from api.logs import mask_access_log
from api.openapi import add_body_schemas
from api.routes import (
    addresses,
    admin,
    assets,
    auth,
    buildings,
    categories,
    cell_names,
    cells,
    damage,
    desk,
    docs,
    following,
    handling,
    health,
    hotline,
    inbox,
    lookup,
    ogc,
    open311,
    pages,
    patrol,
    publication,
    ratings,
    regions,
    register,
    reports,
    security,
    statistics,
    style,
    tiles,
    webhooks,
    workflow,
)
from core.database import create_bulk_engine, create_request_engine, session_factory
from core.rate_limits import BanList, RateLimiter, autocommit_connections
from core.settings import Settings, get_settings
from incidents.handling.schemas import ActionIn, NoteIn
from incidents.handling.workdays import load_work_calendar, severity_tiers
from incidents.intake.filing import IntakeContext
from incidents.intake.schemas import DamageIn, ReportIn

log = logging.getLogger("gridgov.api")


def intake_context(settings: Settings) -> IntakeContext:
    """Calendar, deadline tiers and keys for report intake; a bad holidays file or tier
    rule stops the service at start-up rather than at the first report."""
    calendar = load_work_calendar(settings.holidays_file, settings.working_hours)
    next_year = date.today().year + 1
    if not calendar.is_year_covered(next_year):
        log.warning(
            "the working-day calendar does not know %s yet: add its holidays to "
            "GRIDGOV_HOLIDAYS_FILE once published",
            next_year,
        )
    return IntakeContext(
        calendar=calendar,
        tiers=severity_tiers(settings.deadline_tiers),
        secret_key=settings.secret_key.get_secret_value(),
        tolerance_m=settings.routing_tolerance_m,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the engine is created on startup and disposed on shutdown."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_request_engine(settings.database_url, settings.db_pool_size)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.autocommit = autocommit_connections(engine)
        bulk: list[Engine] = []

        def bulk_engine() -> Engine:
            # Made on first use: most processes never import anything.
            if not bulk:
                bulk.append(create_bulk_engine(settings.database_url))
            return bulk[0]

        app.state.bulk_engine = bulk_engine
        # What start-up made (modules, the app, settings) lives as long as the process:
        # keep the collector's full passes from walking it again and again, which stalled
        # requests for tens of milliseconds under load.
        gc.freeze()
        try:
            yield
        finally:
            await engine.dispose()
            for made in bulk:
                made.dispose()

    app = FastAPI(
        title="gridgov",
        summary="网格化社会治理 GIS 平台 / grid-based social-governance GIS platform",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load their scripts from a CDN and start them
        # with an inline script, which the offline rule and our CSP forbid: api/routes/
        # docs.py serves both from the npm packages instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    # Their own short sessions, from whatever session factory the app runs with.
    app.state.limiter = RateLimiter(settings, lambda: app.state.autocommit())
    app.state.bans = BanList(lambda: app.state.sessions())
    mask_access_log()
    app.state.intake = intake_context(settings)
    install_error_handlers(app)
    # Pages, their scripts and styles and the documentation go out gzipped (MapLibre is
    # ~800 KB raw); API answers, tiles and the inbox stream are left alone (see
    # api/compression.py for why). Innermost, so the headers below apply either way.
    app.add_middleware(CompressPages)
    # No CORS middleware on purpose: the pages are served by gridgov itself, and other
    # systems call the API server to server, so no browser origin needs to be let in.
    app.add_middleware(SecurityHeaders, basemap_url=settings.basemap_url)
    # A photo form holds the photos and a little text; an import holds its file and a
    # mapping. Generous, so the routes' own checks (which name the field) come first.
    app.add_middleware(
        BodyLimit,
        form_limit=(settings.max_photos * settings.max_photo_mb + 2) * 2**20,
        import_limit=(2 * settings.max_import_mb + 1) * 2**20,
    )
    # A banned network gets its 403 before anything else runs.
    app.add_middleware(BanGate)
    # Outermost: the client's address as a trusted proxy reports it, for everything else.
    app.add_middleware(ForwardedFor, trusted=settings.trusted_proxies)
    for module in (
        health,
        auth,
        regions,
        cells,
        buildings,
        addresses,
        lookup,
        register,
        categories,
        cell_names,
        reports,
        damage,
        handling,
        workflow,
        ratings,
        statistics,
        patrol,
        tiles,
        style,
        pages,
        docs,
        admin,
        inbox,
        webhooks,
        desk,
        assets,
        following,
    ):
        app.include_router(module.router)
    app.include_router(security.router)
    # OGC API - Features: the public layers for QGIS and GDAL.
    app.include_router(ogc.router)
    # Open311 GeoReport v2 for Open311 clients (its errors in the spec's own shape).
    app.include_router(open311.router)
    # Staff review before publication, and published photos.
    app.include_router(publication.router)
    # The 12345 hotline work-order exchange (admins).
    app.include_router(hotline.router)
    pages.mount_static(app)
    # Bodies read by hand (JSON or a form with photos) still get their schemas.
    add_body_schemas(app, [ReportIn, DamageIn, ActionIn, NoteIn])
    return app
