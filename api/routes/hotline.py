"""The 12345 hotline exchange over HTTP: upload a work-order file to file its new orders,
take the results back. Admins only."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import AdminPrincipal, IntakeDep, SessionDep, SettingsDep
from api.uploads import save_upload
from core.clock import CHINA_TZ
from core.errors import InvalidInput
from interop.hotline.mapping import HotlineMapping
from interop.hotline.orders_in import import_hotline_orders
from interop.hotline.results_export import take_hotline_results

router = APIRouter(prefix="/admin/hotline", tags=["12345 hotline"])
HOTLINE_SUFFIXES = (".csv", ".json")


async def _mapping(upload: UploadFile | None, directory: Path) -> HotlineMapping:
    """The bundled mapping, with the uploaded TOML on top; a broken file is a 422."""
    if upload is None:
        return await run_in_threadpool(HotlineMapping.load)
    path = directory / "mapping.toml"
    path.write_bytes(await upload.read(1 << 20))
    return await run_in_threadpool(HotlineMapping.load, path)


@router.post("/imports")
async def import_orders(
    admin: AdminPrincipal,
    session: SessionDep,
    intake: IntakeDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile,
        File(
            description="work orders: CSV (UTF-8, GBK or GB 18030, Chinese headers) or a JSON list"
        ),
    ],
    mapping: Annotated[
        UploadFile | None, File(description="TOML mapping on top of the bundled one")
    ] = None,
    encoding: Annotated[
        str | None, Form(max_length=40, description="e.g. GBK; default: UTF-8, else GB 18030")
    ] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """File the new orders of a 12345 export (each routed like any report) and return the
    full report: orders filed with their tracking numbers, orders already filed (a changed
    one is reported, not filed again), rejected rows with field and reason. All or
    nothing: a failure files none."""
    with tempfile.TemporaryDirectory(prefix="gridgov-hotline-") as tmp:
        directory = Path(tmp)
        path = await save_upload(file, directory, settings.max_import_mb * 2**20, "file")
        if path.suffix.lower() not in HOTLINE_SUFFIXES:
            raise InvalidInput(
                "hotline orders come as .csv or .json",
                "热线工单应为 CSV 或 JSON 文件",
                field="file",
            )
        fields = await _mapping(mapping, directory)
        report = await import_hotline_orders(
            session,
            intake,
            path,
            filer=admin,
            hash_key=settings.id_hash_key.get_secret_value(),
            now=datetime.now(UTC),
            mapping=fields,
            encoding=encoding,
            dry_run=dry_run,
            first_contact=settings.hotline_first_contact,
        )
    return report.as_dict()


@router.post(
    "/exports",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "the results, as CSV or JSON",
        }
    },
)
async def export_results(
    _admin: AdminPrincipal,
    session: SessionDep,
    format: Annotated[Literal["csv", "json"], Query(description="csv (Excel) or json")] = "csv",
    since: Annotated[
        datetime | None,
        Query(
            description="every order changed at or after "
            "this time (China time unless it "
            "has an offset); default: what is "
            "new or changed since last export"
        ),
    ] = None,
    dry_run: Annotated[bool, Query(description="look without marking as exported")] = False,
) -> Response:
    """The results of orders from 12345 (status, handling result, times, callback and
    satisfaction), marked as exported unless `dry_run`."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=CHINA_TZ)
    now = datetime.now(UTC)
    export = await take_hotline_results(session, now=now, since=since, mark=not dry_run)
    stamp = now.astimezone(CHINA_TZ).strftime("%Y%m%d-%H%M%S")
    disposition = {
        "Content-Disposition": f'attachment; filename="hotline-results-{stamp}.{format}"'
    }
    if format == "csv":
        return Response(export.to_csv(), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(export.to_json(), media_type="application/json", headers=disposition)
