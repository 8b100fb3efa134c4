"""Importing city assets (部件) from GIS files in any CRS: mapping, row report, all or nothing."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, box
from sqlalchemy import text

from grid.importing.assets import import_assets
from grid.importing.reading import FieldMapping
from tests.factories import ORIGIN, TEST_CRS

X0, Y0 = ORIGIN
HYDRANT = "4401060116000001"
CABINET = "4401060651000002"
COVER = "4401060103000003"

GOOD = [
    {
        "编码": HYDRANT,
        "类型": "消火栓",
        "名称": "测试路1号旁",
        "状态": "正常",
        "geometry": Point(X0 + 100, Y0 + 100),
    },
    {
        "编码": CABINET,
        "类型": "灭火器箱",
        "名称": None,
        "状态": "损坏",
        "geometry": Point(X0 + 600, Y0 + 100),
    },
    {
        "编码": COVER,
        "类型": "井盖",
        "名称": None,
        "状态": "正常",
        "geometry": Point(X0 + 1100, Y0 + 100),
    },
]
MAPPING_TOML = """
[fields]
code = "编码"
kind = "类型"
name = "名称"
status = "状态"

[values.status]
"正常" = "in_service"
"损坏" = "damaged"
"""


def _frame(rows, crs=TEST_CRS):
    return gpd.GeoDataFrame(
        {k: [r[k] for r in rows] for k in rows[0] if k != "geometry"},
        geometry=[r["geometry"] for r in rows],
        crs=crs,
    )


@pytest.fixture
def mapping_path(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML, encoding="utf-8")
    return path


def _stored(conn):
    return conn.execute(
        text(
            "SELECT a.code, a.kind, a.name, a.status, a.source, c.code AS cell, "
            "ST_AsText(a.location) AS wkt FROM city_assets a "
            "LEFT JOIN grid_cells c ON c.id = a.cell_id ORDER BY a.external_id, a.id"
        )
    ).all()


def test_geopackage_in_epsg_4547_with_a_mapping_is_reprojected_linked_and_stored(
    conn, tmp_path, mapping_path
):
    path = tmp_path / "assets.gpkg"
    _frame(GOOD).to_file(path)
    report = import_assets(conn, path, mapping=FieldMapping.load(mapping_path))
    assert (report.read, report.inserted, report.updated, report.rejected) == (3, 3, 0, [])
    rows = _stored(conn)
    assert [(r.code, r.kind, r.status, r.cell) for r in rows] == [
        (HYDRANT, "fire_hydrant", "in_service", "880101001001001"),
        (CABINET, "extinguisher_cabinet", "damaged", "880101001001002"),
        (COVER, "manhole_cover", "in_service", "880101001002001"),
    ]
    assert rows[0].name == "测试路1号旁" and rows[0].source == "file"
    expected = gpd.GeoSeries([GOOD[0]["geometry"]], crs=TEST_CRS).to_crs(4326).iloc[0]
    assert shapely.from_wkt(rows[0].wkt).equals_exact(expected, 1e-8)
    # The generated Web-Mercator copy is there for tiles.
    assert (
        conn.execute(text("SELECT ST_SRID(location_3857) FROM city_assets LIMIT 1")).scalar()
        == 3857
    )


def test_reimport_updates_by_code(conn, tmp_path, mapping_path):
    path = tmp_path / "assets.gpkg"
    _frame(GOOD).to_file(path)
    mapping = FieldMapping.load(mapping_path)
    import_assets(conn, path, mapping=mapping)
    _frame([dict(GOOD[0], 状态="损坏"), *GOOD[1:]]).to_file(path)
    report = import_assets(conn, path, mapping=mapping)
    assert (report.inserted, report.updated) == (0, 3)
    assert _stored(conn)[0].status == "damaged"


def test_bad_code_or_unknown_kind_gives_row_errors_and_writes_nothing(conn, tmp_path, mapping_path):
    rows = [
        *GOOD,
        {
            "编码": "4401060116",
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 50, Y0 + 50),
        },
        {
            "编码": "440106011600000X",
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 60, Y0 + 50),
        },
        {
            "编码": "4401060116000009",
            "类型": "飞船",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 70, Y0 + 50),
        },
        {
            "编码": "4401060118000010",
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 80, Y0 + 50),
        },
        {
            "编码": HYDRANT,
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 90, Y0 + 50),
        },
        {
            "编码": "4401060116000011",
            "类型": "消火栓",
            "名称": None,
            "状态": "丢了",
            "geometry": Point(X0 + 95, Y0 + 50),
        },
        {
            "编码": "4401060116000012",
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": box(X0, Y0, X0 + 5, Y0 + 5),
        },
        {
            "编码": "4401060116000013",
            "类型": "消火栓",
            "名称": None,
            "状态": "正常",
            "geometry": Point(X0 + 80_000, Y0 + 80_000),
        },
    ]
    path = tmp_path / "bad.gpkg"
    _frame(rows).to_file(path)
    report = import_assets(conn, path, mapping=FieldMapping.load(mapping_path))
    by_row = {r.row: (r.field, r.reason) for r in report.rejected}
    assert sorted(by_row) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert by_row[4][0] == "code" and "16 digits" in by_row[4][1]
    assert by_row[5][0] == "code"
    assert by_row[6][0] == "kind" and "飞船" in by_row[6][1]
    assert by_row[7][0] == "code" and "not a fire_hydrant" in by_row[7][1]  # 0118: a lamp
    assert by_row[8] == ("code", "code repeats an earlier row")
    assert by_row[9][0] == "status"
    assert by_row[10][0] == "geometry" and "expected a point" in by_row[10][1]
    assert by_row[11][0] == "geometry" and "outside" in by_row[11][1]
    assert (report.inserted, report.updated) == (0, 0)
    assert _stored(conn) == []  # the three good rows were not written either


def test_kind_is_read_from_the_code_when_the_file_has_none(conn, tmp_path):
    path = tmp_path / "assets.geojson"
    _frame([{"code": HYDRANT, "geometry": GOOD[0]["geometry"]}]).to_file(path)
    report = import_assets(conn, path)
    assert report.inserted == 1
    assert _stored(conn)[0].kind == "fire_hydrant"


def test_dry_run_reports_exact_counts_without_writing(conn, tmp_path, mapping_path):
    path = tmp_path / "assets.gpkg"
    _frame(GOOD).to_file(path)
    report = import_assets(conn, path, mapping=FieldMapping.load(mapping_path), dry_run=True)
    assert report.dry_run and report.inserted == 3
    assert _stored(conn) == []


def test_csv_needs_a_crs_and_takes_4547_coordinates(conn, tmp_path):
    from core.errors import InvalidInput

    path = tmp_path / "assets.csv"
    path.write_text(f"code,kind,lon,lat\n{HYDRANT},fire_hydrant,{X0 + 100},{Y0 + 100}\n", "utf-8")
    with pytest.raises(InvalidInput) as missing:
        import_assets(conn, path)
    assert missing.value.field == "crs"
    report = import_assets(conn, path, csv_crs="EPSG:4547")
    assert report.inserted == 1 and _stored(conn)[0].cell == "880101001001001"


def test_cli_refuses_a_file_with_rejected_rows_and_names_them(
    tmp_path, mapping_path, monkeypatch, conn
):
    from contextlib import contextmanager

    import cli.imports
    import cli.main

    @contextmanager
    def on_test_connection():
        yield conn

    monkeypatch.setattr(cli.imports, "bulk_transaction", on_test_connection)
    path = tmp_path / "bad.gpkg"
    _frame([dict(GOOD[0], 编码="123")]).to_file(path)
    result = CliRunner().invoke(
        cli.main.main, ["import", "assets", str(path), "--mapping", str(mapping_path)]
    )
    assert result.exit_code != 0
    assert "rejected row 1" in result.output and "nothing was written" in result.output
    _frame(GOOD).to_file(path)
    result = CliRunner().invoke(
        cli.main.main, ["import", "assets", str(path), "--mapping", str(mapping_path)]
    )
    assert result.exit_code == 0, result.output
    assert len(_stored(conn)) == 3
