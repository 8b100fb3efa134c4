"""Importing administrative regions from GIS files: levels and parents inferred from the
codes, rows in any order, upserts that move subtrees, and a full report of every row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import contextmanager

import geopandas as gpd
import pytest
import pytest_asyncio
import shapely
from click.testing import CliRunner
from httpx import ASGITransport, AsyncClient
from shapely.geometry import Point, Polygon, box
from sqlalchemy import text

import cli.imports
import cli.main
from core.errors import InvalidInput
from grid.importing.reading import FieldMapping
from grid.importing.regions import import_regions
from tests.factories import ORIGIN, TEST_CRS, auth_headers, make_user, make_world
from tests.sync_world import make_sync_world
from tests.test_admin_api import _admin_app

X0, Y0 = ORIGIN


def _rect(x0, y0, x1, y1):
    # A vertex every 100 m: neighbours and parents share their vertices, so reprojection
    # does not make a child stick out of its parent along a long edge.
    return shapely.segmentize(box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1), 100)


MAPPING_TOML = """
[fields]
code = "区划代码"
name = "名称"
level = "级别"
parent_code = "上级代码"

[values.level]
"市级" = "city"
"""

# A city, two districts, two streets and three communities, children before parents.
# Streets and communities have neither level nor parent: both come from their codes.
TREE = [
    {
        "区划代码": "770101001002",
        "名称": "乙社区",
        "级别": None,
        "上级代码": None,
        "geometry": _rect(500, 1000, 1000, 1500),
    },
    {
        "区划代码": "770101002",
        "名称": "二街道",
        "级别": None,
        "上级代码": None,
        "geometry": _rect(0, 1500, 1000, 2000),
    },
    {
        "区划代码": "770101001001",
        "名称": "甲社区",
        "级别": "社区",
        "上级代码": None,
        "geometry": _rect(0, 1000, 500, 1500),
    },
    {
        "区划代码": "770102",
        "名称": "西区",
        "级别": None,
        "上级代码": "770100",
        "geometry": _rect(1000, 1000, 2000, 2000),
    },
    {
        "区划代码": "770101001",
        "名称": "一街道",
        "级别": "街道",
        "上级代码": None,
        "geometry": _rect(0, 1000, 1000, 1500),
    },
    {
        "区划代码": "770100",
        "名称": "试验市",
        "级别": "市级",
        "上级代码": None,
        "geometry": _rect(0, 1000, 2000, 2000),
    },
    {
        "区划代码": "770101",
        "名称": "东区",
        "级别": "区",
        "上级代码": "770100",
        "geometry": _rect(0, 1000, 1000, 2000),
    },
    {
        "区划代码": "770101002001",
        "名称": "丙社区",
        "级别": None,
        "上级代码": None,
        "geometry": _rect(0, 1500, 1000, 2000),
    },
]
TREE_PARENTS = {
    "770100": ("city", None),
    "770101": ("district", "770100"),
    "770102": ("district", "770100"),
    "770101001": ("street", "770101"),
    "770101002": ("street", "770101"),
    "770101001001": ("community", "770101001"),
    "770101001002": ("community", "770101001"),
    "770101002001": ("community", "770101002"),
}


def _write(tmp_path, rows, name="regions.gpkg", **options):
    frame = gpd.GeoDataFrame(
        {k: [r.get(k) for r in rows] for k in rows[0] if k != "geometry"},
        geometry=[r["geometry"] for r in rows],
        crs=TEST_CRS,
    )
    path = tmp_path / name
    frame.to_file(path, **options)
    return path


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML, encoding="utf-8")
    return FieldMapping.load(path)


def _regions(conn, prefix):
    """{code: (name, level, parent code)} of the regions whose code starts with prefix."""
    rows = conn.execute(
        text(
            "SELECT r.code, r.name, r.level, p.code FROM regions r "
            "LEFT JOIN regions p ON p.id = r.parent_id WHERE r.code LIKE :p || '%'"
        ),
        {"p": prefix},
    ).all()
    return {code: (name, level, parent) for code, name, level, parent in rows}


def _path(conn, code):
    return conn.execute(text("SELECT path FROM regions WHERE code = :c"), {"c": code}).scalar()


def _expected_path(conn, code):
    """The path the tree implies: ancestors' ids from the top down."""
    ids = (
        conn.execute(
            text("""
        WITH RECURSIVE up (id, parent_id, depth) AS (
            SELECT id, parent_id, 0 FROM regions WHERE code = :c
            UNION ALL
            SELECT r.id, r.parent_id, up.depth + 1 FROM regions r JOIN up ON r.id = up.parent_id
        )
        SELECT id FROM up ORDER BY depth DESC
    """),
            {"c": code},
        )
        .scalars()
        .all()
    )
    return "/" + "".join(f"{i}/" for i in ids)


def _boundary(conn, code):
    return shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(boundary) FROM regions WHERE code = :c"), {"c": code}
        ).scalar()
    )


def test_a_geopackage_in_any_order_with_chinese_columns_builds_the_tree(conn, tmp_path, mapping):
    report = import_regions(conn, _write(tmp_path, TREE), mapping=mapping)
    assert (report.read, report.inserted, report.updated) == (8, 8, 0)
    assert (report.rejected, report.repaired, report.outside_parent) == ([], [], [])
    stored = _regions(conn, "77")
    assert {code: (level, parent) for code, (_, level, parent) in stored.items()} == TREE_PARENTS
    assert stored["770101002001"][0] == "丙社区"
    for code in TREE_PARENTS:
        assert _path(conn, code) == _expected_path(conn, code)
    assert _path(conn, "770101001001").count("/") == 5  # city/district/street/community
    expected = gpd.GeoSeries([TREE[0]["geometry"]], crs=TEST_CRS).to_crs(4326).iloc[0]
    assert shapely.normalize(_boundary(conn, "770101001002")).equals_exact(
        shapely.normalize(shapely.MultiPolygon([expected])), 1e-7
    )


def test_a_gbk_shapefile_is_read_with_its_cpg_and_builds_on_stored_parents(conn, tmp_path, mapping):
    rows = [
        {
            "区划代码": "880101002001",
            "名称": "丙社区",
            "级别": "社区",
            "上级代码": "",
            "geometry": _rect(0, 500, 500, 1000),
        },
        {
            "区划代码": "880101002",
            "名称": "新街道",
            "级别": "街道",
            "上级代码": "",
            "geometry": _rect(0, 500, 1500, 1000),
        },
    ]
    path = _write(tmp_path, rows, name="区划.shp", encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip().upper() in ("GBK", "CP936")
    report = import_regions(conn, path, mapping=mapping)
    assert (report.inserted, report.rejected) == (2, [])
    assert _regions(conn, "880101002") == {
        "880101002": ("新街道", "street", "880101"),
        "880101002001": ("丙社区", "community", "880101002"),
    }
    assert _path(conn, "880101002001").startswith(_path(conn, "880101"))
    assert _path(conn, "880101002001") == _expected_path(conn, "880101002001")


def test_reimport_updates_names_and_boundaries_instead_of_duplicating(conn, tmp_path, mapping):
    import_regions(conn, _write(tmp_path, TREE), mapping=mapping)
    ids = dict(conn.execute(text("SELECT code, id FROM regions WHERE code LIKE '77%'")).all())
    renamed = [dict(r, 名称=r["名称"] + "（新）") for r in TREE]
    renamed[0]["geometry"] = _rect(500, 1000, 900, 1500)  # 乙社区 shrinks
    report = import_regions(conn, _write(tmp_path, renamed, name="again.gpkg"), mapping=mapping)
    assert (report.inserted, report.updated, report.rejected) == (0, 8, [])
    assert report.counts["regions"] == {"moved": 0, "paths recomputed": 0}
    assert (
        dict(conn.execute(text("SELECT code, id FROM regions WHERE code LIKE '77%'")).all()) == ids
    )
    assert _regions(conn, "770101001002")["770101001002"][0] == "乙社区（新）"
    area = conn.execute(
        text("SELECT ST_Area(boundary::geography) FROM regions WHERE code = '770101001002'")
    ).scalar()
    assert area == pytest.approx(400 * 500, rel=0.01)


def test_a_community_moved_to_another_street_gets_a_new_path(conn, tmp_path, mapping):
    rows = [  # 乙社区 of the stored world moves to a new street, given as its parent
        {
            "区划代码": "880101001002",
            "名称": "乙社区",
            "级别": None,
            "上级代码": "880101002",
            "geometry": _rect(1000, 0, 1500, 500),
        },
        {
            "区划代码": "880101002",
            "名称": "新街道",
            "级别": None,
            "上级代码": None,
            "geometry": _rect(1000, 0, 1500, 500),
        },
    ]
    old_path = _path(conn, "880101001002")
    report = import_regions(conn, _write(tmp_path, rows), mapping=mapping)
    assert (report.inserted, report.updated, report.rejected) == (1, 1, [])
    assert report.counts["regions"] == {"moved": 1, "paths recomputed": 1}
    assert _regions(conn, "880101001002")["880101001002"][2] == "880101002"
    new_path = _path(conn, "880101001002")
    assert new_path != old_path
    assert new_path == _expected_path(conn, "880101001002")
    assert new_path.startswith(_path(conn, "880101002"))


def test_a_street_moved_to_another_district_takes_its_communities_along(conn, tmp_path, mapping):
    rows = [
        {
            "区划代码": "880101001",
            "名称": "测试街道",
            "级别": None,
            "上级代码": "880102",
            "geometry": _rect(0, 0, 1500, 500),
        },
        {
            "区划代码": "880102",
            "名称": "新区",
            "级别": "区",
            "上级代码": "880100",
            "geometry": _rect(0, 0, 1500, 500),
        },
    ]
    report = import_regions(conn, _write(tmp_path, rows), mapping=mapping)
    assert report.rejected == []
    # The street and its two communities (not in the file) have new paths.
    assert report.counts["regions"] == {"moved": 1, "paths recomputed": 3}
    district_path = _path(conn, "880102")
    for code in ("880101001", "880101001001", "880101001002"):
        assert _path(conn, code) == _expected_path(conn, code)
        assert _path(conn, code).startswith(district_path)
    assert not _path(conn, "880101001001").startswith(_path(conn, "880101"))
    # A later file without parent codes keeps the move instead of going by the prefix.
    again = import_regions(
        conn, _write(tmp_path, [dict(rows[0], 上级代码=None)], name="again.gpkg"), mapping=mapping
    )
    assert again.counts["regions"] == {"moved": 0, "paths recomputed": 0}
    assert _regions(conn, "880101001")["880101001"][2] == "880102"


def _bowtie(x, y):
    return Polygon(
        [
            (X0 + x, Y0 + y),
            (X0 + x + 100, Y0 + y + 100),
            (X0 + x + 100, Y0 + y),
            (X0 + x, Y0 + y + 100),
        ]
    )


def test_every_rule_rejects_with_row_field_and_reason(conn, tmp_path, mapping):
    area = _rect(0, 1000, 1000, 2000)

    def row(code, level=None, parent=None, name="某地", geometry=area):
        return {
            "区划代码": code,
            "名称": name,
            "级别": level,
            "上级代码": parent,
            "geometry": geometry,
        }

    rows = [
        row("770100", "市"),  # 1 accepted
        row(None, "区", "770100"),  # 2
        row("7701A1", "区", "770100"),  # 3
        row("770102", "省"),  # 4
        row("770100001", "社区"),  # 5
        row("770103"),  # 6
        row("770199001001"),  # 7
        row("770101", "区", "880101001"),  # 8
        row("770104", "区"),  # 9
        row("770100", "市"),  # 10
        row("770105", "区", "770100", geometry=None),  # 11
        row("770106", "区", "770100", geometry=Polygon()),  # 12
        row("770107", "区", "770100", geometry=Point(X0, Y0 + 1000)),  # 13
        row("880101", "市"),  # 14
        row("770108", "区", "770100", name=" "),  # 15
        row("770105001", "街道"),  # 16
        row("660100", "市", "880100"),  # 17
        row("770109", "区", "770100", geometry=_bowtie(0, 1000)),  # 18 repaired
    ]
    report = import_regions(conn, _write(tmp_path, rows), mapping=mapping)
    found = [(r.row, r.external_id, r.field, r.reason) for r in report.rejected]
    expected = [
        (2, None, "code", "code is required"),
        (3, "7701A1", "code", "not 6, 9 or 12 digits"),
        (4, "770102", "level", "unknown level '省'"),
        (5, "770100001", "level", "a community has a 12-digit code, but 770100001 has 9"),
        (6, "770103", "level", "may be a city or a district"),
        (
            7,
            "770199001001",
            "parent_code",
            "parent 770199001 is neither in the file nor in the database",
        ),
        (
            8,
            "770101",
            "parent_code",
            "parent 880101001 is a street; a district's parent must be a city",
        ),
        (9, "770104", "parent_code", "a district needs parent_code"),
        (10, "770100", "code", "code 770100 repeats row 1"),
        (11, "770105", "geometry", "geometry is null"),
        (12, "770106", "geometry", "geometry is empty"),
        (13, "770107", "geometry", "expected a polygon"),
        (14, "880101", "level", "880101 is stored as a district"),
        (15, "770108", "name", "name is required"),
        (16, "770105001", "parent_code", "parent 770105 was rejected (row 11)"),
        (17, "660100", "parent_code", "a city has no parent"),
    ]
    assert [f[:3] for f in found] == [e[:3] for e in expected]
    for (_, _, _, reason), (_, _, _, part) in zip(found, expected, strict=True):
        assert part in reason
    assert [(r.row, r.field) for r in report.repaired] == [(18, "geometry")]
    assert "make_valid" in report.repaired[0].reason
    assert (report.inserted, report.updated) == (2, 0)
    assert set(_regions(conn, "77")) == {"770100", "770109"}
    assert _regions(conn, "880101")["880101"][1] == "district"


def test_regions_sticking_out_of_their_parent_are_imported_with_a_warning(conn, tmp_path, mapping):
    rows = [  # 100 m x 10 m of the new community lies outside its street
        {
            "区划代码": "880101001003",
            "名称": "丁社区",
            "级别": None,
            "上级代码": None,
            "geometry": _rect(0, 0, 100, 510),
        },
        # The stored street shrinks: its stored community 乙社区 (1000-1500 m) sticks out.
        {
            "区划代码": "880101001",
            "名称": "测试街道",
            "级别": None,
            "上级代码": None,
            "geometry": _rect(0, 0, 1000, 500),
        },
    ]
    report = import_regions(conn, _write(tmp_path, rows), mapping=mapping)
    assert (report.inserted, report.updated, report.rejected) == (1, 1, [])
    outside = {(r.row, r.external_id): r.reason for r in report.outside_parent}
    assert set(outside) == {(1, "880101001003"), (2, "880101001")}
    assert "sticks out of its parent 880101001 by 1,0" in outside[(1, "880101001003")]
    assert "community 880101001002 (not in this file)" in outside[(2, "880101001")]
    assert "outside their parent 2" in report.summary()


def test_a_dry_run_reports_exactly_and_writes_nothing(conn, tmp_path, mapping):
    report = import_regions(conn, _write(tmp_path, TREE), mapping=mapping, dry_run=True)
    assert report.dry_run and (report.inserted, report.rejected) == (8, [])
    assert "would import 8 new" in report.summary()
    assert _regions(conn, "77") == {}
    assert len(_regions(conn, "88")) == 5


def test_a_file_without_crs_is_refused(conn, tmp_path, mapping):
    path = _write(tmp_path, TREE, name="nocrs.shp", encoding="GBK")
    path.with_suffix(".prj").unlink()
    with pytest.raises(InvalidInput) as error:
        import_regions(conn, path, mapping=mapping)
    assert error.value.field == "crs"
    assert _regions(conn, "77") == {}


def test_a_mapping_naming_an_absent_column_is_refused(conn, tmp_path, mapping):
    broken = FieldMapping(columns={**mapping.columns, "name": "名字"}, values=mapping.values)
    with pytest.raises(InvalidInput) as error:
        import_regions(conn, _write(tmp_path, TREE), mapping=broken)
    assert error.value.field == "mapping" and "名字" in error.value.message_en


def test_a_failure_midway_leaves_nothing_behind(sync_engine, tmp_path, mapping, monkeypatch):
    from grid.importing import regions as module

    path = _write(tmp_path, TREE)
    real_upsert = module._upsert

    def exploding_upsert(conn, regions, geoms):
        real_upsert(conn, regions, geoms)
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_upsert", exploding_upsert)
    with sync_engine.connect() as conn:
        with pytest.raises(RuntimeError), conn.begin():
            make_sync_world(conn)
            import_regions(conn, path, mapping=mapping)
        assert (
            conn.execute(
                text("SELECT count(*) FROM regions WHERE code LIKE '77%' OR code = '880100'")
            ).scalar()
            == 0
        )


def test_cli_dry_run_prints_rejections_and_writes_the_json_report(conn, tmp_path, monkeypatch):
    @contextmanager
    def in_test_transaction():
        yield conn

    monkeypatch.setattr(cli.imports, "bulk_transaction", in_test_transaction)
    path = _write(tmp_path, [*TREE, dict(TREE[0], 区划代码="7701")])
    (tmp_path / "m.toml").write_text(MAPPING_TOML, encoding="utf-8")
    result = CliRunner().invoke(
        cli.main.main,
        [
            "import",
            "regions",
            str(path),
            "--mapping",
            str(tmp_path / "m.toml"),
            "--dry-run",
            "--report",
            str(tmp_path / "report.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rejected row 9 (7701): code:" in result.output
    assert "regions: read 9, would import 8 new and 0 updated" in result.output
    written = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert written["kind"] == "regions" and written["outside_parent"] == []
    assert [r["row"] for r in written["rejected"]] == [9]
    assert _regions(conn, "77") == {}


@pytest_asyncio.fixture
async def admin(settings, conn, async_engine) -> AsyncIterator[AsyncClient]:
    """An HTTP client acting as an administrator (see tests/test_admin_api.py)."""
    transport = ASGITransport(app=_admin_app(settings, conn, async_engine))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_admins_upload_regions_and_get_the_full_report(admin, conn, tmp_path):
    path = _write(tmp_path, TREE)
    response = await admin.post(
        "/admin/imports/regions",
        files={
            "file": ("区划.gpkg", path.read_bytes()),
            "mapping": ("m.toml", MAPPING_TOML.encode(), "application/toml"),
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["kind"], report["inserted"], report["rejected"]) == ("regions", 8, [])
    assert report["outside_parent"] == []
    assert set(_regions(conn, "77")) == set(TREE_PARENTS)


async def test_a_regions_dry_run_upload_writes_nothing(admin, conn, tmp_path):
    path = _write(tmp_path, TREE, name="regions.geojson")
    response = await admin.post(
        "/admin/imports/regions",
        data={"dry_run": "true"},
        files={
            "file": ("regions.geojson", path.read_bytes()),
            "mapping": ("m.toml", MAPPING_TOML.encode(), "application/toml"),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True and response.json()["inserted"] == 8
    assert _regions(conn, "77") == {}


@pytest.mark.parametrize("role", ["district_manager", "community_manager", "grid_worker"])
async def test_only_admins_may_import_regions(client, db, settings, role):
    world = await make_world(db)
    user = await make_user(db, f"u-{role}", role, world.community_a)
    response = await client.post(
        "/admin/imports/regions",
        headers=auth_headers(user, settings),
        files={"file": ("r.gpkg", b"x")},
    )
    assert response.status_code == 403
    anonymous = await client.post("/admin/imports/regions", files={"file": ("r.gpkg", b"x")})
    assert anonymous.status_code == 401
