"""Importing building footprints from GIS files in any CRS, with a full report."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import GeometryCollection, Point, Polygon, box
from sqlalchemy import text

from core.errors import InvalidInput
from grid.importing.buildings import import_buildings
from grid.importing.reading import FieldMapping
from tests.factories import ORIGIN, TEST_CRS
from tests.sync_world import make_sync_world

X0, Y0 = ORIGIN


def _rect(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _frame(rows, crs=TEST_CRS):
    return gpd.GeoDataFrame(
        {k: [r[k] for r in rows] for k in rows[0] if k != "geometry"},
        geometry=[r["geometry"] for r in rows],
        crs=crs,
    )


GOOD = [
    {
        "BID": "B-1",
        "地址": "测试路1号",
        "用途": "住宅",
        "层数": 6,
        "geometry": _rect(100, 100, 130, 120),
    },
    {
        "BID": "B-2",
        "地址": "测试路3号",
        "用途": "商业",
        "层数": 2,
        "geometry": _rect(600, 100, 640, 130),
    },
    {
        "BID": "B-3",
        "地址": "测试路5号",
        "用途": "住宅",
        "层数": 18,
        "geometry": _rect(1100, 100, 1130, 140),
    },
]
MAPPING_TOML = """
[fields]
external_id = "BID"
address = "地址"
use = "用途"
floors = "层数"

[values.use]
"住宅" = "residential"
"商业" = "commercial"
"""


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML, encoding="utf-8")
    return FieldMapping.load(path)


def _stored(conn):
    return conn.execute(
        text(
            "SELECT b.external_id, b.address, b.use, b.floors, c.code FROM buildings b "
            "LEFT JOIN grid_cells c ON c.id = b.cell_id ORDER BY b.external_id"
        )
    ).all()


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_each_format_in_a_projected_crs_is_reprojected_and_linked(conn, tmp_path, mapping, suffix):
    path = tmp_path / f"buildings{suffix}"
    _frame(GOOD).to_file(path, encoding="utf-8" if suffix == ".shp" else None)
    report = import_buildings(conn, path, mapping=mapping)
    assert (report.read, report.inserted, report.rejected) == (3, 3, [])
    rows = _stored(conn)
    assert [(r.external_id, r.use, r.floors, r.code) for r in rows] == [
        ("B-1", "residential", 6, "880101001001001"),
        ("B-2", "commercial", 2, "880101001001002"),
        ("B-3", "residential", 18, "880101001002001"),
    ]
    stored = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(footprint) FROM buildings WHERE external_id = 'B-1'")
        ).scalar()
    )
    expected = gpd.GeoSeries([GOOD[0]["geometry"]], crs=TEST_CRS).to_crs(4326).iloc[0]
    # Shapefiles store rings clockwise: compare normalised, to a tenth of a micro-degree.
    assert shapely.normalize(stored).equals_exact(
        shapely.normalize(shapely.MultiPolygon([expected])), 1e-7
    )


def test_csv_with_coordinates_needs_and_uses_a_declared_crs(conn, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("external_id,address,lon,lat\nP-1,测试路1号,114.05,22.55\n", "utf-8")
    with pytest.raises(InvalidInput) as missing:
        import_buildings(conn, path)
    assert missing.value.field == "crs"
    report = import_buildings(conn, path, csv_crs="EPSG:4326")
    # A point is not a footprint: the row is rejected with its reason, not dropped.
    assert report.rejected[0].row == 1
    assert "expected a polygon" in report.rejected[0].reason


def test_gbk_shapefile_is_read_with_its_cpg_or_the_encoding_option(conn, tmp_path, mapping):
    path = tmp_path / "gbk.shp"
    _frame(GOOD[:1]).to_file(path, encoding="GBK")
    assert path.with_suffix(".cpg").exists()
    import_buildings(conn, path, mapping=mapping)
    assert _stored(conn)[0].address == "测试路1号"
    path.with_suffix(".cpg").unlink()
    report = import_buildings(conn, path, mapping=mapping, encoding="GBK")
    assert report.updated == 1
    assert _stored(conn)[0].address == "测试路1号"


def test_a_file_without_crs_is_an_error_not_a_guess(conn, tmp_path, mapping):
    path = tmp_path / "nocrs.shp"
    _frame(GOOD).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InvalidInput) as error:
        import_buildings(conn, path, mapping=mapping)
    assert error.value.field == "crs"
    assert _stored(conn) == []


def test_bad_rows_are_rejected_with_row_field_and_reason_and_bowties_repaired(
    conn, tmp_path, mapping
):
    bowtie = Polygon(
        [(X0 + 200, Y0 + 200), (X0 + 240, Y0 + 240), (X0 + 240, Y0 + 200), (X0 + 200, Y0 + 240)]
    )
    rows = [
        *GOOD[:1],
        {"BID": "N", "地址": "空几何", "用途": "住宅", "层数": 3, "geometry": None},
        {"BID": "E", "地址": "空集合", "用途": "住宅", "层数": 3, "geometry": GeometryCollection()},
        {"BID": "P", "地址": "点", "用途": "住宅", "层数": 3, "geometry": Point(X0 + 5, Y0 + 5)},
        {
            "BID": "F",
            "地址": "远方",
            "用途": "住宅",
            "层数": 3,
            "geometry": _rect(80_000, 80_000, 80_030, 80_030),
        },
        {"BID": "A", "地址": "", "用途": "住宅", "层数": 3, "geometry": _rect(10, 10, 20, 20)},
        {
            "BID": "L",
            "地址": "楼层错",
            "用途": "住宅",
            "层数": -2,
            "geometry": _rect(30, 30, 40, 40),
        },
        {
            "BID": "U",
            "地址": "用途错",
            "用途": "飞船",
            "层数": 3,
            "geometry": _rect(50, 50, 60, 60),
        },
        {"BID": "X", "地址": "自交", "用途": "住宅", "层数": 3, "geometry": bowtie},
    ]
    path = tmp_path / "bad.geojson"
    _frame(rows).to_file(path)
    report = import_buildings(conn, path, mapping=mapping)
    by_id = {r.external_id: (r.row, r.field, r.reason) for r in report.rejected}
    assert by_id["N"][:2] == (2, "geometry") and "null" in by_id["N"][2]
    assert by_id["E"][1] == "geometry"
    assert "expected a polygon" in by_id["P"][2]
    assert "outside" in by_id["F"][2]
    assert by_id["A"][1] == "address"
    assert by_id["L"][1] == "floors"
    assert by_id["U"][1] == "use"
    assert [r.external_id for r in report.repaired] == ["X"]
    assert report.inserted == 2
    assert [r.external_id for r in _stored(conn)] == ["B-1", "X"]


def test_reimport_by_external_id_updates_instead_of_duplicating(conn, tmp_path, mapping):
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    import_buildings(conn, path, mapping=mapping)
    changed = [dict(GOOD[0], 层数=9), *GOOD[1:]]
    _frame(changed).to_file(path)
    report = import_buildings(conn, path, mapping=mapping)
    assert (report.inserted, report.updated) == (0, 3)
    assert len(_stored(conn)) == 3
    assert _stored(conn)[0].floors == 9


def test_dry_run_reports_without_writing(conn, tmp_path, mapping):
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    report = import_buildings(conn, path, mapping=mapping, dry_run=True)
    assert report.dry_run and report.inserted == 3
    assert _stored(conn) == []


def test_building_outside_every_cell_is_listed(conn, tmp_path, mapping):
    # Inside the city (region) but north of every cell.
    conn.execute(
        text(
            "UPDATE regions SET boundary = ST_Multi(ST_Buffer(boundary, 0.01)) "
            "WHERE parent_id IS NULL"
        )
    )
    rows = [dict(GOOD[0], BID="OUT", geometry=_rect(100, 700, 130, 720))]
    path = tmp_path / "out.gpkg"
    _frame(rows).to_file(path)
    report = import_buildings(conn, path, mapping=mapping)
    assert [r.external_id for r in report.outside_cells] == ["OUT"]
    assert _stored(conn)[0].code is None


def test_a_failure_midway_leaves_nothing_behind(sync_engine, tmp_path, mapping, monkeypatch):
    from grid.importing import buildings as module

    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)

    def exploding_upsert(conn, rows, footprints):
        conn.execute(
            text(
                "INSERT INTO buildings (address, use, floors, footprint) "
                "VALUES ('half', 'other', 1, 'SRID=4326;MULTIPOLYGON(((0 0,1 0,1 1,0 0)))')"
            )
        )
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_upsert", exploding_upsert)
    with sync_engine.connect() as conn:
        with pytest.raises(RuntimeError), conn.begin():
            make_sync_world(conn)
            import_buildings(conn, path, mapping=mapping)
        assert conn.execute(text("SELECT count(*) FROM buildings")).scalar() == 0
        assert (
            conn.execute(text("SELECT count(*) FROM regions WHERE code = '880100'")).scalar() == 0
        )


# --- a large load builds the secondary indexes after it -----------------------------------

_INDEXES = text(
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'buildings' ORDER BY indexname"
)
SECONDARY = {
    "ix_buildings_address_trgm",
    "ix_buildings_cell_id",
    "ix_buildings_footprint",
    "ix_buildings_footprint_3857",
}


@pytest.fixture
def large(conn, monkeypatch):
    """Every load counts as large (the real threshold is 100,000 rows)."""
    from grid.importing import buildings as module

    monkeypatch.setattr(module, "BULK_INDEX_ROWS", 1)
    # The estimate the rule reads must be this table's: ANALYZE writes reltuples in place,
    # so one an earlier test left (a demo city loaded and rolled back) would outlive it.
    conn.execute(text("ANALYZE buildings"))
    return module


def test_a_large_import_writes_without_secondary_indexes_then_builds_them(
    conn, tmp_path, mapping, large, monkeypatch
):
    before = conn.execute(_INDEXES).all()
    assert {name for name, _d in before} >= SECONDARY
    during = []
    real_upsert = large._upsert

    def watched(conn_, rows, footprints):
        during.append({name for name, _d in conn_.execute(_INDEXES)})
        return real_upsert(conn_, rows, footprints)

    monkeypatch.setattr(large, "_upsert", watched)
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    lines = []
    report = import_buildings(conn, path, mapping=mapping, progress=lines.append)
    assert report.inserted == 3 and len(_stored(conn)) == 3
    assert during == [{"pk_buildings", "uq_buildings_external_id"}]  # only the unique ones
    assert conn.execute(_INDEXES).all() == before  # the same names and definitions
    assert any("built after the load" in line for line in lines)
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        conn.execute(
            text(
                "EXPLAIN SELECT id FROM buildings WHERE footprint && ST_MakeEnvelope(0, 0, 1, 1, 4326)"
            )
        ).scalars()
    )
    assert "ix_buildings_footprint" in plan


def test_a_small_import_keeps_the_indexes_in_place(conn, tmp_path, mapping, monkeypatch):
    from grid.importing import buildings as module

    seen = []
    real_upsert = module._upsert
    monkeypatch.setattr(
        module,
        "_upsert",
        lambda c, r, f: (
            seen.append({name for name, _d in c.execute(_INDEXES)}),
            real_upsert(c, r, f),
        )[1],
    )
    path = tmp_path / "b.gpkg"
    _frame(GOOD).to_file(path)
    import_buildings(conn, path, mapping=mapping)
    assert seen[0] >= SECONDARY


@pytest.mark.parametrize("fails", ["in the load", "while building the indexes"])
def test_a_failed_large_import_leaves_the_table_and_its_indexes_as_they_were(
    conn, tmp_path, mapping, large, monkeypatch, fails
):
    import gis.pgcopy

    path = tmp_path / "b.gpkg"
    _frame(GOOD[:1]).to_file(path)
    import_buildings(conn, path, mapping=mapping)  # what was there before
    rows_before, indexes_before = _stored(conn), conn.execute(_INDEXES).all()
    _frame([dict(GOOD[0], 层数=30), *GOOD[1:]]).to_file(path)
    if fails == "in the load":
        real_upsert = large._upsert

        def failing(conn_, rows, footprints):
            real_upsert(conn_, rows, footprints)  # written, indexes not yet rebuilt
            raise RuntimeError("disk full")

        monkeypatch.setattr(large, "_upsert", failing)
    else:
        built = []
        real_build = gis.pgcopy._build_index

        def failing_build(conn_, definition):
            if built:
                raise RuntimeError("out of memory")
            built.append(definition)
            real_build(conn_, definition)  # one index back, the others not

        monkeypatch.setattr(gis.pgcopy, "_build_index", failing_build)
    attempt = conn.begin_nested()  # the caller's transaction, as the CLI's would be
    with pytest.raises(RuntimeError):
        import_buildings(conn, path, mapping=mapping)
    attempt.rollback()
    assert _stored(conn) == rows_before
    assert conn.execute(_INDEXES).all() == indexes_before
