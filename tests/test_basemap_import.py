"""`gridgov import basemap`: an .osm.pbf built here with pyosmium, a GeoPackage in
EPSG:4547 with a mapping, and broken files that leave nothing behind."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import osmium
import pytest
import shapely
from shapely.geometry import LineString, Polygon
from sqlalchemy import text

from core.errors import InvalidInput
from maps.basemap_import import import_basemap
from tests.test_security_imports import counting_server  # noqa: F401  (the fixture)

LON, LAT = 113.30, 23.12


@pytest.fixture
def conn(sync_engine):
    """A connection inside a transaction rolled back after the test."""
    with sync_engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


def _rows(conn, table: str, source: str) -> list[tuple]:
    return conn.execute(
        text(
            f"SELECT external_id, name, {'class' if table == 'roads' else 'kind'}, "
            f"ST_AsBinary(geom) FROM basemap.{table} WHERE source = :s ORDER BY external_id"
        ),
        {"s": source},
    ).all()


def _write_osm(path, street_name: str = "中山大道") -> None:
    """A tiny extract: a named trunk road, a river line 20 m wide, a park, a school node,
    a named residential compound and a footway."""
    d = 0.001
    nodes = {
        i: (LON + x * d, LAT + y * d)
        for i, (x, y) in enumerate(
            [
                (0, 0),
                (5, 0),
                (0, 2),
                (5, 2),
                (1, 3),
                (2, 3),
                (2, 4),
                (1, 4),
                (3, 3),
                (4, 3),
                (4, 4),
                (3, 4),
                (0, 6),
                (1, 6),
            ],
            start=1,
        )
    }
    path.unlink(missing_ok=True)  # the writer refuses to overwrite
    writer = osmium.SimpleWriter(str(path))
    try:
        for i, (x, y) in nodes.items():
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(x, y), version=1))
        writer.add_node(
            osmium.osm.mutable.Node(
                id=100,
                location=(LON + 0.0025, LAT + 0.001),
                version=1,
                tags={"amenity": "school", "name": "Zhongshan School", "name:zh": "中山小学"},
            )
        )
        ways = [
            (10, [1, 2], {"highway": "trunk", "name": street_name}),
            (11, [3, 4], {"waterway": "river", "name": "珠江", "width": "20"}),
            (12, [5, 6, 7, 8, 5], {"leisure": "park", "name": "人民公园"}),
            (13, [9, 10, 11, 12, 9], {"landuse": "residential", "name": "翠竹苑"}),
            (14, [13, 14], {"highway": "footway"}),
            (15, [13, 1], {"highway": "proposed"}),  # not a base-map road: skipped
        ]
        for way_id, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()


def test_an_osm_extract_fills_every_table_with_names_and_classes(conn, tmp_path):
    path = tmp_path / "city.osm.pbf"
    _write_osm(path)
    report = import_basemap(conn, path, commit=True)
    assert report.rejected == []
    roads = _rows(conn, "roads", "osm")
    assert [(r[0], r[1], r[2]) for r in roads] == [
        ("w10", "中山大道", "trunk"),
        ("w14", None, "path"),
    ]
    (river,) = _rows(conn, "water", "osm")
    assert river[:3] == ("w11", "珠江", "river")
    width_m = conn.execute(
        text(
            "SELECT ST_Area(geom::geography) / ST_Length(ST_GeomFromText(:l, 4326)::geography) "
            "FROM basemap.water WHERE external_id = 'w11'"
        ),
        {"l": LineString([(LON, LAT + 0.002), (LON + 0.005, LAT + 0.002)]).wkt},
    ).scalar_one()
    assert width_m == pytest.approx(20, rel=0.02)  # the width tag, in metres
    assert [r[:3] for r in _rows(conn, "green", "osm")] == [("w12", "人民公园", "park")]
    assert [r[:3] for r in _rows(conn, "places", "osm")] == [("n100", "中山小学", "school")]
    compounds = conn.execute(
        text("SELECT external_id, name FROM basemap.compounds WHERE source = 'osm'")
    ).all()
    assert compounds == [("w13", "翠竹苑")]


def test_importing_the_same_extract_again_replaces_its_rows(conn, tmp_path):
    path = tmp_path / "city.osm.pbf"
    _write_osm(path)
    import_basemap(conn, path, commit=True)
    _write_osm(path, street_name="先烈路")
    report = import_basemap(conn, path, commit=True)
    assert report.inserted == 0 and report.updated == 6
    names = conn.execute(text("SELECT name FROM basemap.roads WHERE external_id = 'w10'"))
    assert names.scalars().all() == ["先烈路"]


def test_without_commit_nothing_is_written(conn, tmp_path):
    path = tmp_path / "city.osm.pbf"
    _write_osm(path)
    report = import_basemap(conn, path)
    assert report.dry_run and report.inserted == 6
    assert conn.execute(text("SELECT count(*) FROM basemap.roads")).scalar_one() == 0


def _gpkg_4547(path) -> tuple:
    """Roads and parks in CGCS2000 / 3-degree GK CM 114E (metres), with Chinese columns."""
    lines = gpd.GeoDataFrame(
        {"编号": ["R1", "R2"], "路名": ["天河路", "环市东路"], "等级": ["主干道", "次干道"]},
        geometry=[
            LineString([(LON, LAT), (LON + 0.01, LAT)]),
            LineString([(LON, LAT + 0.01), (LON + 0.01, LAT + 0.01)]),
        ],
        crs=4326,
    ).to_crs(4547)
    parks = gpd.GeoDataFrame(
        {"名称": ["天河公园"]}, geometry=[shapely.box(LON, LAT, LON + 0.002, LAT + 0.002)], crs=4326
    ).to_crs(4547)
    lines.to_file(path, layer="道路", driver="GPKG")
    parks.to_file(path, layer="公园", driver="GPKG")
    return lines, parks


MAPPING = """
[[layers]]
layer = "道路"
table = "roads"
class = "等级"
name = "路名"
id = "编号"
[layers.values]
"主干道" = "primary"
"次干道" = "secondary"

[[layers]]
layer = "公园"
table = "green"
fixed = "park"
name = "名称"
"""


def test_a_geopackage_in_epsg_4547_is_reprojected_with_its_mapping(conn, tmp_path):
    path, mapping = tmp_path / "map.gpkg", tmp_path / "map.toml"
    _gpkg_4547(path)
    mapping.write_text(MAPPING, encoding="utf-8")
    report = import_basemap(conn, path, mapping=mapping, commit=True)
    assert report.rejected == [] and report.inserted == 3
    roads = _rows(conn, "roads", "file")
    assert [(r[0], r[1], r[2]) for r in roads] == [
        ("R1", "天河路", "primary"),
        ("R2", "环市东路", "secondary"),
    ]
    first = shapely.from_wkb(bytes(roads[0][3]))
    expected = shapely.multilinestrings([LineString([(LON, LAT), (LON + 0.01, LAT)])])
    assert first.equals_exact(expected, 1e-7)  # back in lon/lat, to ~1 cm
    assert [r[:3] for r in _rows(conn, "green", "file")] == [("公园:1", "天河公园", "park")]


def test_a_broken_file_leaves_nothing_behind(conn, tmp_path):
    lines, parks = _gpkg_4547(tmp_path / "ok.gpkg")
    bad = tmp_path / "bad.gpkg"
    lines.loc[1, "等级"] = "高速铁路"  # no such road class
    lines.to_file(bad, layer="道路", driver="GPKG")
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])  # repaired: two triangles
    collapsed = Polygon([(0, 0), (0, 0), (0, 0), (0, 0)])  # nothing left once made valid
    parks = gpd.GeoDataFrame({"名称": ["a", "b"]}, geometry=[bowtie, collapsed], crs=4547)
    parks.geometry = parks.geometry.translate(*lines.geometry.iloc[0].coords[0])
    parks.to_file(bad, layer="公园", driver="GPKG")
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    report = import_basemap(conn, bad, mapping=mapping, commit=True)
    reasons = {(i.row, i.field): i.reason for i in report.rejected}
    assert "高速铁路" in reasons[(2, "class")]
    assert reasons[(2, "geometry")].startswith("green: geometry is not a polygon")
    assert (
        conn.execute(
            text(
                "SELECT (SELECT count(*) FROM basemap.roads) + (SELECT count(*) FROM basemap.green)"
            )
        ).scalar_one()
        == 0
    )


@pytest.mark.parametrize(
    "name, content, field",
    [
        ("city.osm.pbf", b"not protobuf at all", "path"),
        ("map.gpkg", b"<OGRVRTDataSource><OGRVRTLayer name='x'/></OGRVRTDataSource>", "path"),
        ("map.geojson", b'{"type": "FeatureCollection", "features": [', "path"),
        ("map.vrt", b"<OGRVRTDataSource/>", "path"),
    ],
)
def test_unreadable_or_disguised_files_are_refused_naming_the_field(
    conn, tmp_path, name, content, field
):
    path = tmp_path / name
    path.write_bytes(content)
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        import_basemap(conn, path, mapping=mapping, commit=True)
    assert refused.value.field == field


def test_a_zip_with_more_than_a_shapefile_is_refused(conn, tmp_path):
    path = tmp_path / "roads.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("roads.shp", b"\x00\x00\x27\x0a")
        zipped.writestr("roads.vrt", b"<OGRVRTDataSource/>")
    with pytest.raises(InvalidInput) as refused:
        import_basemap(conn, path, mapping=tmp_path / "none.toml")
    assert refused.value.field == "path"


def test_a_zipped_shapefile_is_unpacked_and_read_as_a_local_file(conn, tmp_path):
    lines, _ = _gpkg_4547(tmp_path / "src.gpkg")
    folder = tmp_path / "shape"
    folder.mkdir()
    lines.rename(columns={"编号": "ID", "路名": "NAME", "等级": "CLASS"}).to_file(
        folder / "roads.shp", encoding="utf-8"
    )
    path = tmp_path / "roads.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, f"roads/{part.name}")
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[[layers]]\ntable = "roads"\nclass = "CLASS"\nname = "NAME"\n'
        'id = "ID"\n[layers.values]\n"主干道" = "primary"\n"次干道" = "secondary"\n',
        encoding="utf-8",
    )
    report = import_basemap(conn, path, mapping=mapping, commit=True)
    assert report.rejected == [] and report.inserted == 2
    assert [r[:3] for r in _rows(conn, "roads", "file")] == [
        ("R1", "天河路", "primary"),
        ("R2", "环市东路", "secondary"),
    ]


def test_a_mapping_naming_a_layer_the_file_lacks_is_refused_naming_the_mapping(conn, tmp_path):
    path, mapping = tmp_path / "map.gpkg", tmp_path / "map.toml"
    _gpkg_4547(path)
    mapping.write_text(MAPPING.replace('layer = "公园"', 'layer = "绿地"'), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        import_basemap(conn, path, mapping=mapping, commit=True)
    assert refused.value.field == "mapping"
    assert "绿地" in str(refused.value) and "公园" in str(refused.value)


def test_unnamed_osm_places_are_skipped_and_counted_not_refused(conn, tmp_path):
    path = tmp_path / "city.osm.pbf"
    path.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(path))
    try:
        for i, tags in enumerate(
            [
                {"amenity": "clinic"},
                {"amenity": "school", "name": " "},
                {"amenity": "school", "name": "中山小学"},
            ],
            start=1,
        ):
            writer.add_node(
                osmium.osm.mutable.Node(id=i, location=(LON + i * 0.001, LAT), version=1, tags=tags)
            )
    finally:
        writer.close()
    report = import_basemap(conn, path, commit=True)
    assert report.rejected == []
    assert report.counts["places"] == {"rows": 1, "inserted": 1, "updated": 0, "skipped_unnamed": 2}
    assert "skipped_unnamed" in report.summary()
    assert [r[:3] for r in _rows(conn, "places", "osm")] == [("n3", "中山小学", "school")]


def _vrt_over(source: str) -> bytes:
    return f"""<OGRVRTDataSource>
  <OGRVRTLayer name="道路">
    <SrcDataSource>{source}</SrcDataSource>
    <LayerSRS>EPSG:4326</LayerSRS>
  </OGRVRTLayer>
</OGRVRTDataSource>
""".encode()


@pytest.mark.parametrize(
    "name", ["map.gpkg", "map.geojson", "map.json", "city.osm.pbf", "city.osm", "roads.zip"]
)
def test_a_vrt_pointing_at_a_url_fetches_nothing_in_any_disguise(
    conn,
    tmp_path,
    counting_server,  # noqa: F811  (the imported fixture)
    name,
):
    base, hits = counting_server
    vrt = _vrt_over(f"/vsicurl/{base}/roads.geojson")
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zipped:
            for part in ("roads.shp", "roads.shx", "roads.dbf"):
                zipped.writestr(part, vrt)
    else:
        path.write_bytes(vrt)
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        import_basemap(conn, path, mapping=mapping, commit=True)
    assert refused.value.field == "path"
    assert hits == []
