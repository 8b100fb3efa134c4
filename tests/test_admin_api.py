"""Admin API: register imports from uploaded files (zipped Shapefiles included), boundary
versions checked and activated; all or nothing, admins only, bad uploads refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fastapi.concurrency import run_in_threadpool
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from api.app import create_app
from api.deps import get_bulk_runner, get_principal
from core.database import session_factory
from grid.access import Principal
from grid.roles import Role
from tests.factories import auth_headers, make_user, make_world
from tests.test_import_buildings import GOOD, MAPPING_TOML, _frame, _stored
from tests.test_versions_and_checks import _cells_file

ADMIN = Principal(1, "admin", "管理员", Role.ADMIN, None, None)


def _admin_app(settings, conn, async_engine):
    """The real app with an admin caller, its bulk work done inside the test's rolled-back
    sync transaction (each unit in a savepoint, as the real one is all or nothing)."""
    application = create_app(settings)
    # Its own short sessions (the ban list's reads) come from the test database.
    application.state.sessions = session_factory(async_engine)

    def runner():
        async def run(work):
            def in_savepoint():
                with conn.begin_nested():
                    return work(conn)

            return await run_in_threadpool(in_savepoint)

        return run

    application.dependency_overrides[get_bulk_runner] = runner
    application.dependency_overrides[get_principal] = lambda: ADMIN
    return application


@pytest_asyncio.fixture
async def admin(settings, conn, async_engine) -> AsyncIterator[AsyncClient]:
    """An HTTP client acting as an administrator."""
    transport = ASGITransport(app=_admin_app(settings, conn, async_engine))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def _zipped_shapefile(tmp_path, encoding="GBK") -> bytes:
    path = tmp_path / "楼栋.shp"
    _frame(GOOD).to_file(path, encoding=encoding)
    return _zip({f"楼栋/{p.name}": p.read_bytes() for p in tmp_path.glob("楼栋.*")})


def _mapping_file() -> tuple[str, bytes, str]:
    return ("mapping.toml", MAPPING_TOML.encode(), "application/toml")


async def test_a_geopackage_upload_is_imported_linked_and_reported(admin, conn, tmp_path):
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    response = await admin.post(
        "/admin/imports/buildings",
        files={"file": ("b.gpkg", path.read_bytes()), "mapping": _mapping_file()},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["read"], report["inserted"], report["rejected"]) == (3, 3, [])
    assert [r.code for r in _stored(conn)] == [
        "880101001001001",
        "880101001001002",
        "880101001002001",
    ]


async def test_a_zipped_gbk_shapefile_is_read_with_its_cpg(admin, conn, tmp_path):
    response = await admin.post(
        "/admin/imports/buildings",
        files={"file": ("楼栋.zip", _zipped_shapefile(tmp_path)), "mapping": _mapping_file()},
    )
    assert response.status_code == 200, response.text
    assert [r.address for r in _stored(conn)] == ["测试路1号", "测试路3号", "测试路5号"]


async def test_a_dry_run_upload_writes_nothing(admin, conn, tmp_path):
    path = tmp_path / "b.geojson"
    _frame(GOOD).to_file(path)
    response = await admin.post(
        "/admin/imports/buildings",
        data={"dry_run": "true"},
        files={"file": ("b.geojson", path.read_bytes()), "mapping": _mapping_file()},
    )
    assert response.status_code == 200
    assert response.json()["inserted"] == 3 and response.json()["dry_run"] is True
    assert _stored(conn) == []


async def test_a_file_without_crs_is_refused_and_nothing_is_written(admin, conn, tmp_path):
    path = tmp_path / "nocrs.shp"
    _frame(GOOD).to_file(path)
    path.with_suffix(".prj").unlink()
    archive = _zip({p.name: p.read_bytes() for p in tmp_path.glob("nocrs.*")})
    response = await admin.post("/admin/imports/buildings", files={"file": ("nocrs.zip", archive)})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "crs"
    assert _stored(conn) == []


@pytest.mark.parametrize(
    ("name", "payload", "status"),
    [
        ("notes.txt", b"hello", 422),
        ("evil.zip", _zip({"../../etc/evil.geojson": b"{}"}), 422),
        ("two.zip", _zip({"a.geojson": b"{}", "b.geojson": b"{}"}), 422),
        ("empty.zip", _zip({"readme.txt": b"nothing here"}), 422),
        ("broken.zip", b"PK\x03\x04 not really a zip", 422),
    ],
)
async def test_bad_uploads_are_refused_naming_the_file_field(admin, conn, name, payload, status):
    response = await admin.post("/admin/imports/buildings", files={"file": (name, payload)})
    assert response.status_code == status, response.text
    assert response.json()["error"]["fields"][0]["field"] == "file"
    assert _stored(conn) == []


async def test_an_oversized_upload_and_a_zip_bomb_are_413(settings, conn, async_engine):
    small = settings.model_copy(update={"max_import_mb": 1})
    transport = ASGITransport(app=_admin_app(small, conn, async_engine))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        big = await client.post(
            "/admin/imports/buildings", files={"file": ("big.geojson", b" " * (2 * 2**20))}
        )
        bomb = await client.post(
            "/admin/imports/buildings",
            files={"file": ("bomb.zip", _zip({"b.geojson": b" " * (5 * 2**20)}))},
        )
    assert big.status_code == bomb.status_code == 413
    assert big.json()["error"]["fields"][0]["field"] == "file"


async def test_a_broken_mapping_is_422_naming_it(admin, tmp_path):
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    response = await admin.post(
        "/admin/imports/buildings",
        files={"file": ("b.gpkg", path.read_bytes()), "mapping": ("m.toml", b"[fields\nx=")},
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "mapping"


async def test_cells_upload_makes_a_draft_that_is_checked_then_activated(admin, conn, tmp_path):
    rows = [("880101001001011", (0, 0, 520, 500)), ("880101001001012", (500, 0, 1000, 500))]
    path = _cells_file(tmp_path, rows)
    response = await admin.post(
        "/admin/imports/cells",
        data={"label": "2027 grid"},
        files={"file": ("cells.gpkg", path.read_bytes())},
    )
    assert response.status_code == 200, response.text
    version_id = response.json()["version_id"]
    version = (await admin.get(f"/admin/boundary-versions/{version_id}")).json()
    assert (version["status"], version["cells"]) == ("draft", 2)
    problems = (await admin.get(f"/admin/boundary-versions/{version_id}/problems")).json()
    overlap = problems["features"][0]["properties"]
    assert overlap["kind"] == "overlap" and overlap["area_m2"] == pytest.approx(10_000, rel=0.01)
    activated = await admin.post(f"/admin/boundary-versions/{version_id}/activate")
    assert activated.status_code == 200 and activated.json()["cells_retired"] == 2
    in_force = (
        conn.execute(
            text(
                "SELECT code FROM grid_cells WHERE active_to IS NULL AND active_from IS NOT NULL "
                "AND code LIKE '880101001001%' ORDER BY code"
            )
        )
        .scalars()
        .all()
    )
    assert in_force == ["880101001001011", "880101001001012"]
    again = await admin.post(f"/admin/boundary-versions/{version_id}/activate")
    assert again.status_code == 409
    assert (await admin.get("/admin/boundary-versions/999999")).status_code == 404


async def test_a_cells_upload_without_label_is_422_naming_it(admin, tmp_path):
    path = _cells_file(tmp_path, [("880101001001011", (0, 0, 500, 500))])
    response = await admin.post(
        "/admin/imports/cells", files={"file": ("cells.gpkg", path.read_bytes())}
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "label"


@pytest.mark.parametrize("role", ["community_manager", "district_manager", "grid_worker"])
async def test_only_admins_may_import_or_activate(client, db, settings, role):
    world = await make_world(db)
    user = await make_user(db, f"u-{role}", role, world.community_a)
    headers = auth_headers(user, settings)
    upload = await client.post(
        "/admin/imports/buildings", headers=headers, files={"file": ("b.gpkg", b"x")}
    )
    activate = await client.post("/admin/boundary-versions/1/activate", headers=headers)
    assert upload.status_code == activate.status_code == 403
    assert (await client.post("/admin/boundary-versions/1/activate")).status_code == 401


async def test_drafting_over_the_api_makes_a_clean_draft_version(admin):
    response = await admin.post(
        "/admin/boundary-versions/draft",
        json={"community_code": "880101001002", "shape": "hex", "size_m": 200},
    )
    assert response.status_code == 201, response.text
    version_id = response.json()["version_id"]
    assert response.json()["cells"] > 1
    problems = (await admin.get(f"/admin/boundary-versions/{version_id}/problems")).json()
    assert problems["features"] == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"community_code": "880101001002", "shape": "hex", "size_m": 0}, 422, "size_m"),
        ({"community_code": "880101001002", "shape": "star", "size_m": 100}, 422, "shape"),
        ({"community_code": "880101001002", "shape": "square", "size_m": 1}, 422, "size_m"),
        (
            {"community_code": "880101001002", "shape": "buildings", "buildings_per_cell": 5},
            422,
            "shape",
        ),
        ({"community_code": "990101001002", "shape": "hex", "size_m": 100}, 404, None),
    ],
)
async def test_bad_draft_requests_are_refused_naming_the_field(admin, body, status, field):
    response = await admin.post("/admin/boundary-versions/draft", json=body)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["error"]["fields"][0]["field"] == field


async def test_a_gbk_population_csv_upload_loads_people_without_raw_id_numbers(
    admin, conn, tmp_path
):
    from tests.test_import_people import GOOD as PEOPLE
    from tests.test_import_people import MAPPING_TOML as PEOPLE_MAPPING
    from tests.test_import_people import insert_buildings, write_csv

    insert_buildings(conn)
    path = write_csv(tmp_path / "人口.csv", PEOPLE, encoding="gbk")
    response = await admin.post(
        "/admin/imports/people",
        data={"encoding": "GBK"},
        files={
            "file": ("人口.csv", path.read_bytes()),
            "mapping": ("m.toml", PEOPLE_MAPPING.encode(), "application/toml"),
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rejected"] == [] and report["inserted"] == len(PEOPLE)
    stored = conn.execute(text("SELECT count(*) FROM people")).scalar()
    assert stored == len(PEOPLE)
    raw_numbers = [row.get("身份证号") for row in PEOPLE if row.get("身份证号")]
    dump = conn.execute(text("SELECT string_agg(p::text, '|') FROM people p")).scalar()
    assert raw_numbers and not any(number in dump for number in raw_numbers)
    assert not any(number in response.text for number in raw_numbers)


async def test_population_upload_must_be_a_csv(admin, tmp_path):
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    response = await admin.post(
        "/admin/imports/people", files={"file": ("b.gpkg", path.read_bytes())}
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "file"


def _incident_at(conn, number: str, status: str, x: float, y: float) -> None:
    from tests.factories import metres_point

    lon, lat = metres_point(x, y)
    conn.execute(
        text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, cell_id, routing_rule, responsible_level,
            channel)
        VALUES (:t, 'x', 'fire.blocked_exit', :s, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
            :lon, :lat, 'wgs84', (SELECT id FROM grid_cells WHERE code = '880101001001001'
                                  AND active_to IS NULL), 'inside', 'primary', 'web')
    """),
        {"t": number, "s": status, "lon": lon, "lat": lat},
    )


async def test_activation_moves_open_incidents_and_leaves_finished_ones(admin, conn, tmp_path):
    _incident_at(conn, "261124-OPEN0001", "accepted", 100, 100)
    _incident_at(conn, "261124-DONE0001", "closed", 100, 100)
    rows = [("880101001001011", (0, 0, 500, 500)), ("880101001001012", (500, 0, 1000, 500))]
    path = _cells_file(tmp_path, rows)
    version_id = (
        await admin.post(
            "/admin/imports/cells",
            data={"label": "v2"},
            files={"file": ("cells.gpkg", path.read_bytes())},
        )
    ).json()["version_id"]
    activated = (await admin.post(f"/admin/boundary-versions/{version_id}/activate")).json()
    assert activated["followers_moved"] == {"incidents": 1}
    cells = dict(
        conn.execute(
            text("""
        SELECT i.tracking_number, c.code FROM incidents i JOIN grid_cells c ON c.id = i.cell_id
    """)
        ).all()
    )
    assert cells == {"261124-OPEN0001": "880101001001011", "261124-DONE0001": "880101001001001"}


def _zip_with_unknown_compression() -> bytes:
    data = bytearray(_zip({"a.geojson": b"{}"}))
    stored = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    # Compression method 99 (AES) in the local header (offset 8) and central directory.
    data[stored.header_offset + 8 : stored.header_offset + 10] = (99).to_bytes(2, "little")
    central = bytes(data).rfind(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    return bytes(data)


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ({"file": ("aes.zip", _zip_with_unknown_compression())}, "file"),
        ({"file": ("b.geojson", b"{}"), "mapping": ("m.toml", b'fields = "x"')}, "mapping"),
        ({"file": ("b.geojson", b"{}"), "mapping": ("m.toml", b"[values]\nuse = 3")}, "mapping"),
    ],
)
async def test_broken_archives_and_mappings_are_422_not_500(admin, files, field):
    response = await admin.post("/admin/imports/buildings", files=files)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field


async def test_an_overlong_external_id_rejects_the_row_not_the_import(admin, conn, tmp_path):
    rows = [dict(GOOD[0]), dict(GOOD[1], BID="B" * 65)]
    path = tmp_path / "b.gpkg"
    _frame(rows).to_file(path)
    response = await admin.post(
        "/admin/imports/buildings",
        files={"file": ("b.gpkg", path.read_bytes()), "mapping": _mapping_file()},
    )
    assert response.status_code == 200, response.text
    rejected = response.json()["rejected"]
    assert [(r["row"], r["field"]) for r in rejected] == [(2, "external_id")]
    assert [r.external_id for r in _stored(conn)] == ["B-1"]
