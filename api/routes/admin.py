"""Administration over the API: register imports from uploaded files, boundary versions
(check, activate). Admins only."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.deps import AdminPrincipal, BulkDep, SettingsDep
from api.uploads import save_upload
from core.errors import InvalidInput
from core.settings import Settings
from grid.checks import check_version
from grid.drafting import draft_cells
from grid.importing.buildings import import_buildings
from grid.importing.cells import import_cells
from grid.importing.people import import_population
from grid.importing.reading import FieldMapping
from grid.importing.regions import import_regions
from grid.versions import activate_version, version_summary
from incidents.handling.relinking import ACTIVATION_FOLLOWERS

router = APIRouter(prefix="/admin", tags=["administration"])

VersionId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


async def _mapping(upload: UploadFile | None, directory: Path) -> FieldMapping:
    """The TOML field mapping sent along, or none; a broken file is a 422 naming it."""
    if upload is None:
        return FieldMapping()
    path = directory / "mapping.toml"
    path.write_bytes(await upload.read(1 << 20))
    return FieldMapping.load(path)


def _max_bytes(settings: Settings) -> int:
    return settings.max_import_mb * 2**20


@router.post("/imports/buildings")
async def import_buildings_upload(
    _admin: AdminPrincipal,
    settings: SettingsDep,
    bulk: BulkDep,
    file: Annotated[
        UploadFile, File(description="GeoPackage, GeoJSON, CSV, or a zipped Shapefile")
    ],
    mapping: Annotated[UploadFile | None, File(description="TOML field mapping")] = None,
    layer: Annotated[str | None, Form(max_length=200)] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="e.g. GBK")] = None,
    crs: Annotated[str | None, Form(max_length=100, description="CRS of a CSV")] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import building footprints (upsert by external id, link to cells) and return the
    full report; all or nothing."""
    with tempfile.TemporaryDirectory(prefix="gridgov-import-") as tmp:
        directory = Path(tmp)
        path = await save_upload(file, directory, _max_bytes(settings), "file")
        fields = await _mapping(mapping, directory)
        report = await bulk(
            lambda conn: import_buildings(
                conn,
                path,
                mapping=fields,
                layer=layer,
                encoding=encoding,
                csv_crs=crs,
                dry_run=dry_run,
            )
        )
    return asdict(report)


@router.post("/imports/people")
async def import_people_upload(
    _admin: AdminPrincipal,
    settings: SettingsDep,
    bulk: BulkDep,
    file: Annotated[UploadFile, File(description="population CSV (人口台账), one row a person")],
    mapping: Annotated[UploadFile | None, File(description="TOML field mapping")] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="e.g. GBK")] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import houses, households and people (upsert; ID numbers kept as keyed hash + last
    4) and return the full report; all or nothing."""
    with tempfile.TemporaryDirectory(prefix="gridgov-import-") as tmp:
        directory = Path(tmp)
        path = await save_upload(file, directory, _max_bytes(settings), "file")
        if path.suffix.lower() != ".csv":
            raise InvalidInput(
                "population data comes as a CSV file", "人口数据应为 CSV 文件", field="file"
            )
        fields = await _mapping(mapping, directory)
        key = settings.id_hash_key.get_secret_value()
        report = await bulk(
            lambda conn: import_population(
                conn, path, mapping=fields, encoding=encoding, id_hash_key=key, dry_run=dry_run
            )
        )
    return asdict(report)


@router.post("/imports/cells")
async def import_cells_upload(
    _admin: AdminPrincipal,
    settings: SettingsDep,
    bulk: BulkDep,
    file: Annotated[UploadFile, File(description="cells: GeoPackage, GeoJSON or zipped Shapefile")],
    label: Annotated[str, Form(min_length=1, max_length=200)],
    mapping: Annotated[UploadFile | None, File()] = None,
    layer: Annotated[str | None, Form(max_length=200)] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import grid cells as a new draft boundary version (check it, then activate it)."""
    with tempfile.TemporaryDirectory(prefix="gridgov-import-") as tmp:
        directory = Path(tmp)
        path = await save_upload(file, directory, _max_bytes(settings), "file")
        fields = await _mapping(mapping, directory)
        report, version_id = await bulk(
            lambda conn: import_cells(
                conn,
                path,
                label=label,
                mapping=fields,
                layer=layer,
                encoding=encoding,
                dry_run=dry_run,
            )
        )
    return {"report": asdict(report), "version_id": version_id}


@router.post("/imports/regions")
async def import_regions_upload(
    _admin: AdminPrincipal,
    settings: SettingsDep,
    bulk: BulkDep,
    file: Annotated[
        UploadFile, File(description="regions: GeoPackage, GeoJSON or zipped Shapefile")
    ],
    mapping: Annotated[UploadFile | None, File(description="TOML field mapping")] = None,
    layer: Annotated[str | None, Form(max_length=200)] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="e.g. GBK")] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import administrative regions (upsert by code, paths follow moves) and return the
    full report, with regions sticking out of their parent as warnings; all or nothing."""
    with tempfile.TemporaryDirectory(prefix="gridgov-import-") as tmp:
        directory = Path(tmp)
        path = await save_upload(file, directory, _max_bytes(settings), "file")
        fields = await _mapping(mapping, directory)
        report = await bulk(
            lambda conn: import_regions(
                conn, path, mapping=fields, layer=layer, encoding=encoding, dry_run=dry_run
            )
        )
    return asdict(report)


@router.get("/boundary-versions/{version_id}")
async def get_version(
    _admin: AdminPrincipal, bulk: BulkDep, version_id: VersionId
) -> dict[str, Any]:
    """A boundary version: label, status, number of cells."""
    return await bulk(lambda conn: version_summary(conn, version_id))


@router.get("/boundary-versions/{version_id}/problems")
async def version_problems(
    _admin: AdminPrincipal, bulk: BulkDep, version_id: VersionId
) -> dict[str, Any]:
    """Overlaps, gaps and cells outside their community, as GeoJSON with areas in m²."""

    def work(conn: Connection) -> list:
        version_summary(conn, version_id)
        return check_version(conn, version_id)

    problems = await bulk(work)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": p.geometry,
                "properties": {
                    "kind": p.kind,
                    "community_code": p.community_code,
                    "cell_codes": p.cell_codes,
                    "area_m2": p.area_m2,
                },
            }
            for p in problems
        ],
    }


class DraftRequest(BaseModel):
    """How to draft cells for one community."""

    community_code: str = Field(pattern=r"^[0-9]{12}$")
    shape: Literal["square", "hex", "buildings"]
    size_m: float | None = Field(
        None, gt=0, le=100_000, description="square side or hexagon width, metres"
    )
    buildings_per_cell: int | None = Field(None, ge=1, le=100_000)
    label: str | None = Field(None, min_length=1, max_length=200)


@router.post("/boundary-versions/draft", status_code=201)
async def draft(_admin: AdminPrincipal, bulk: BulkDep, body: DraftRequest) -> dict[str, Any]:
    """Draft coded cells for a community as a new draft version (check, then activate)."""
    made = await bulk(
        lambda conn: draft_cells(
            conn,
            body.community_code,
            shape=body.shape,
            size_m=body.size_m,
            buildings_per_cell=body.buildings_per_cell,
            label=body.label,
        )
    )
    return asdict(made)


@router.post("/boundary-versions/{version_id}/activate")
async def activate(_admin: AdminPrincipal, bulk: BulkDep, version_id: VersionId) -> dict[str, Any]:
    """Put a draft in force: cells it replaces retire, assignments and buildings move."""
    return asdict(await bulk(lambda conn: activate_version(conn, version_id, ACTIVATION_FOLLOWERS)))
