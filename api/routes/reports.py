"""Hazard reports: intake (JSON or a form with photos, safe to retry with an
Idempotency-Key), likely duplicates nearby, and the public view by tracking number."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from api import idempotency
from api.abuse import SearchLimit, count_request
from api.deps import CurrentPrincipal, IntakeDep, OptionalPrincipal, SessionDep, SettingsDep
from api.reporter_lookup import count_lookup
from core.errors import InvalidInput, NotFound, PermissionDenied, TooLarge
from core.raw_sql import OnConnection, raw_connection
from core.settings import Settings
from gis.coords import CoordSystem, parse_location, to_wgs84
from grid.access import Principal
from grid.roles import Role
from incidents.intake.duplicates import likely_duplicates
from incidents.intake.filing import (
    RetryKey,
    RetryKeyTaken,
    file_report_at_once,
    submit_report,
)
from incidents.intake.photos import Photo, inspect_photo
from incidents.intake.schemas import ReportIn, Submission
from incidents.intake.tracking import TRACKING_NUMBER_PATTERN
from incidents.notify.following import (
    PHONE_DIGITS,
    my_reports,
    open_reports_detail,
    reporter_by_phone,
)
from incidents.publication.views import CheckedReporter, ReporterProof, public_report

router = APIRouter(prefix="/reports", tags=["reports"])
# Categories filed through their own route (a declaration needs a house).
DECLARATION_CATEGORIES = {"fire.damage_declaration"}
ModelT = TypeVar("ModelT", bound=BaseModel)

TrackingNumber = Annotated[
    str, Path(pattern=TRACKING_NUMBER_PATTERN, description="the number given at submission")
]
_FORM_FIELDS = 40

_REPORT_SCHEMA = {"$ref": "#/components/schemas/ReportIn"}
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _REPORT_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "the ReportIn fields as form fields (answers as a JSON "
                    "string), plus up to max_photos files named `photos`",
                    "properties": {
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
        },
    },
}


async def _form_body(request: Request, settings: Settings) -> tuple[dict[str, Any], list]:
    form = await request.form(max_files=settings.max_photos + 1, max_fields=_FORM_FIELDS)
    fields: dict[str, Any] = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    files = [v for k, v in form.multi_items() if isinstance(v, UploadFile) and k == "photos"]
    if "answers" in fields:
        try:
            fields["answers"] = json.loads(fields["answers"])
        except json.JSONDecodeError:
            raise InvalidInput(
                "answers must be a JSON object", "answers 应为 JSON 对象", field="answers"
            ) from None
    return fields, files


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        # RecursionError: thousands of nested brackets are not a report either.
        raise InvalidInput(
            "the body is not valid JSON", "请求体不是有效的 JSON", field="body"
        ) from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", "请求体应为 JSON 对象", field="body")
    return body


async def _photos(files: list, settings: Settings) -> list[Photo]:
    """Every photo checked before anything is stored."""
    if len(files) > settings.max_photos:
        raise InvalidInput(
            f"at most {settings.max_photos} photos",
            f"最多 {settings.max_photos} 张照片",
            field="photos",
        )
    limit = settings.max_photo_mb * 2**20
    photos = []
    for i, upload in enumerate(files):
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(
                f"photos[{i}] is larger than {settings.max_photo_mb} MB",
                f"第 {i + 1} 张照片超过 {settings.max_photo_mb} MB",
                field=f"photos[{i}]",
            )
        # Decoding is CPU work: keep it off the event loop.
        photos.append(
            await run_in_threadpool(
                inspect_photo,
                data,
                field=f"photos[{i}]",
                max_bytes=limit,
                max_pixels=settings.max_photo_megapixels * 1_000_000,
            )
        )
    return photos


async def read_submission(
    request: Request, settings: Settings, model: type[ModelT]
) -> tuple[ModelT, list[Photo]]:
    """A submission from a JSON body or a multipart form (fields plus `photos` files);
    422 naming each bad field."""
    content_type = request.headers.get("content-type", "")
    files: list = []
    if content_type.startswith("multipart/form-data"):
        fields, files = await _form_body(request, settings)
    elif content_type.startswith("application/json"):
        fields = await _json_body(request)
    else:
        raise InvalidInput(
            "send application/json or multipart/form-data",
            "请以 JSON 或表单提交",
            field="content-type",
        )
    try:
        data = model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    return data, await _photos(files, settings)


@router.post(
    "",
    status_code=201,
    openapi_extra=_OPENAPI_BODY,
    responses={200: {"description": "a fire burning now: call 119"}},
)
async def create_report(
    request: Request,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="retries with the same key are safe"),
    ] = None,
) -> JSONResponse:
    """Report a hazard. It is routed to the responsible worker in the same transaction;
    the answer carries the tracking number and a secret for rating later."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        # A form with photos: counted (as every intake request, before the body is
        # judged), then filed in the session's transaction with its photos.
        await count_request(request, "intake")
        data, photos = await read_submission(request, settings, ReportIn)
        retry = _retry_key(data, photos, principal, idempotency_key)
        try:
            result = await submit_report(
                session, intake, data, photos, principal, datetime.now(UTC), retry
            )
        except RetryKeyTaken:
            # The first request with this key stored its answer: undo this one's work.
            await session.rollback()
            return await _replay(session, retry)
        await session.commit()
        return _answer(result)
    # The lean path: the body read before a pooled connection is taken (a slow client
    # holds none), then the count and the one intake statement on that connection, each
    # committed on its own (two round trips, no ORM session, no BEGIN/COMMIT).
    await request.body()
    # What the dependencies read (the principal) ends here, its connection back in the
    # pool before the lean path takes one (and, on a borrowed test connection, nothing
    # filed below sits inside that read's savepoint).
    await session.commit()
    async with raw_connection(request.app.state.autocommit) as connection:
        await count_request(request, "intake", OnConnection(connection))
        data, _ = await read_submission(request, settings, ReportIn)
        retry = _retry_key(data, [], principal, idempotency_key)
        try:
            result = await file_report_at_once(
                connection, intake, data, principal, datetime.now(UTC), retry
            )
        except RetryKeyTaken:
            # Nothing was written: the statement stores no report under a taken key.
            return await _replay(session, retry)
    return _answer(result)


def _retry_key(
    data: ReportIn, photos: list[Photo], principal: Principal | None, key: str | None
) -> RetryKey | None:
    """The submission's Idempotency-Key with its scope and fingerprint (None without one);
    a declaration's category is refused here, before anything is stored."""
    if data.category in DECLARATION_CATEGORIES:
        raise InvalidInput(
            "fire damage is declared at POST /damage-declarations",
            "火灾受损请通过申报接口提交",
            field="category",
        )
    if key is None:
        return None
    scope = f"user:{principal.id}" if principal else "anonymous"
    fingerprint = idempotency.request_fingerprint(
        data.model_dump(mode="json"), [p.sha256 for p in photos]
    )
    return RetryKey(scope, idempotency.check_key(key), fingerprint)


async def _replay(session: AsyncSession, retry: RetryKey | None) -> JSONResponse:
    """The answer stored under the key (a 422 when it was to a different request)."""
    assert retry is not None  # RetryKeyTaken comes only with a key
    earlier = await idempotency.earlier_answer(session, retry.scope, retry.key)
    replay = earlier.for_request(retry.fingerprint)
    return JSONResponse(replay.body, replay.status_code, headers={"Idempotent-Replayed": "true"})


def _answer(result: Submission | dict[str, Any]) -> JSONResponse:
    # An emergency's call-119 answer is a 200: nothing was filed for handling.
    if isinstance(result, dict):
        return JSONResponse(result, 200)
    return JSONResponse(result.answer(), 201)


@router.get("/nearby", dependencies=[SearchLimit])
async def nearby_reports(
    session: SessionDep,
    intake: IntakeDep,
    category: Annotated[str, Query(pattern=r"^[a-z]+\.[a-z_]+$")],
    lon: float,
    lat: float,
    coord_system: CoordSystem = CoordSystem.WGS84,
) -> dict[str, Any]:
    """Open reports of this category close enough to be the same hazard, measured from
    each one's public place (check before submitting; follow one with POST
    /reports/{number}/followers instead of filing it again): `likely_duplicates` (number
    and status) and, for the report page, `open_reports` (also category, the public
    place's label, the day filed and the follower count)."""
    kind = await intake.categories.get(session, category)
    x, y = to_wgs84(*parse_location(lon, lat, coord_system), coord_system)
    near = await likely_duplicates(session, kind, x, y)
    return {
        "likely_duplicates": near,
        "open_reports": await open_reports_detail(session, [d["tracking_number"] for d in near]),
    }


@router.get("/mine")
async def list_my_reports(session: SessionDep, principal: CurrentPrincipal) -> JSONResponse:
    """A signed-in resident's own reports, newest first (at most 100): number, status,
    category, dates; each one's detail at GET /reports/{number} with the same token."""
    if principal.role is not Role.RESIDENT:
        raise PermissionDenied(
            "only residents' accounts have reports of their own", "仅居民账号可查看本人上报"
        )
    items = await my_reports(session, principal.id)
    return JSONResponse({"items": items}, headers={"Cache-Control": "private, no-store"})


def _unknown(number: str) -> NotFound:
    # Word for word what an unknown number gets: a miss reveals nothing.
    return NotFound(f"no report {number}", f"未找到编号为 {number} 的上报")


class PhoneDigitsIn(BaseModel):
    """The last four digits of the phone number given with the report."""

    phone_last4: Annotated[
        str, Field(pattern=rf"^[0-9]{{{PHONE_DIGITS}}}$", description="e.g. 5678 for 138 1234 5678")
    ]


@router.post("/{tracking_number}/reporter-view")
async def reporter_view(
    request: Request,
    tracking_number: TrackingNumber,
    body: PhoneDigitsIn,
    session: SessionDep,
) -> JSONResponse:
    """What GET /reports/{number} shows the holder of the secret (`own` included), for
    the last four digits of the phone given with the report. Five tries per number an
    hour, twenty per address (then 429); wrong digits, a report without a phone and an
    unknown number all get the same 404."""
    await count_lookup(request, tracking_number)
    incident_id = await reporter_by_phone(session, tracking_number, body.phone_last4)
    if incident_id is None:
        raise _unknown(tracking_number)
    answer = await public_report(session, tracking_number, CheckedReporter(incident_id))
    return JSONResponse(answer, headers={"Cache-Control": "private, no-store"})


@router.get("/{tracking_number}")
async def get_report(
    tracking_number: TrackingNumber,
    session: SessionDep,
    intake: IntakeDep,
    secret: Annotated[
        str | None,
        Header(
            alias="X-Report-Secret",
            max_length=100,
            description="the secret from submission: adds the reporter's own text and photos "
            "(`own`); a wrong one is refused (403)",
        ),
    ] = None,
) -> JSONResponse:
    """A report's status, category, coarse place, public timeline and the handling
    result staff approved for publication (no personal data); with the secret from
    submission also the reporter's own text and photos, reviewed or not (`own`)."""
    proof = ReporterProof(intake.secret_key, secret) if secret else None
    body = await public_report(session, tracking_number, proof)
    # The answer differs with the secret: never kept in a shared cache.
    headers = {"Cache-Control": "private, no-store", "Vary": "X-Report-Secret"}
    return JSONResponse(body, headers=headers)
