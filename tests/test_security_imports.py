"""Hostile import files (issue 15, items 2 and 16): an OGR VRT dressed as GeoJSON,
GeoPackage or a zipped Shapefile reads no local file and fetches no URL; a GeoJSON whose
"crs" is a link fetches nothing; a bad `crs` or `encoding` is a 422 naming the field over
the API and a clean error (no traceback) on the command line."""

from __future__ import annotations

import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator

import pyogrio
import pytest
from click.testing import CliRunner

from cli.main import main as cli
from core.errors import InvalidInput
from core.settings import get_settings
from gis.vector_io import REFUSED_DRIVERS, harden_gdal, read_vector
from tests.test_admin_api import admin  # noqa: F401  (the admin client fixture)

MARKER = "GRIDGOV-SECRET-MARKER-7f3a"


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A tiny HTTP server on loopback that counts every request made to it."""
    handler = type("Handler", (_Counter,), {"hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret_csv(tmp_path):
    """A local file the attacker wants: one line carries the marker."""
    path = tmp_path / "secret.csv"
    path.write_text(f"id,x,y\n{MARKER},116.4,39.9\n", encoding="utf-8")
    return path


def _vrt(source: str, layer: str) -> bytes:
    return f"""<OGRVRTDataSource>
  <OGRVRTLayer name="buildings">
    <SrcDataSource>{source}</SrcDataSource>
    <SrcLayer>{layer}</SrcLayer>
    <GeometryType>wkbPoint</GeometryType>
    <LayerSRS>EPSG:4326</LayerSRS>
    <GeometryField encoding="PointFromColumns" x="x" y="y"/>
    <Field name="external_id" src="id"/>
  </OGRVRTLayer>
</OGRVRTDataSource>
""".encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def _disguises(vrt: bytes) -> list[tuple[str, bytes, str]]:
    """(upload name, bytes, the name the refusal must give) for each disguise."""
    return [
        ("b.geojson", vrt, ".geojson"),
        ("b.json", vrt, ".json"),
        ("b.gpkg", vrt, ".gpkg"),
        ("b.zip", _zip({"layer.shp": vrt, "layer.dbf": b"", "layer.shx": b""}), "layer.shp"),
    ]


def _assert_refused_naming_file(response, name: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "file"
    assert name in error["fields"][0]["reason"]


def test_the_vrt_driver_and_other_referencing_drivers_are_gone_after_hardening():
    harden_gdal()
    assert not set(REFUSED_DRIVERS) & set(pyogrio.list_drivers())
    assert {"GeoJSON", "GPKG", "ESRI Shapefile", "CSV", "OSM"} <= set(pyogrio.list_drivers())


@pytest.mark.parametrize("endpoint", ["/admin/imports/buildings", "/admin/imports/regions"])
async def test_a_vrt_reading_a_local_file_is_refused_in_every_disguise(admin, secret_csv, endpoint):  # noqa: F811
    vrt = _vrt(f"CSV:{secret_csv}", "secret")
    for upload, data, name in _disguises(vrt):
        response = await admin.post(endpoint, files={"file": (upload, data)})
        _assert_refused_naming_file(response, name)
        assert MARKER not in response.text


async def test_a_vrt_pointing_at_a_url_fetches_nothing(admin, counting_server):  # noqa: F811
    base, hits = counting_server
    vrt = _vrt(f"/vsicurl/{base}/secret.csv", "secret")
    for upload, data, name in _disguises(vrt):
        response = await admin.post("/admin/imports/buildings", files={"file": (upload, data)})
        _assert_refused_naming_file(response, name)
    assert hits == []


def _geojson_with_crs(crs: dict) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "crs": crs,
            "features": [
                {
                    "type": "Feature",
                    "properties": {"BID": "B-1"},
                    "geometry": {"type": "Point", "coordinates": [116.4, 39.9]},
                }
            ],
        }
    ).encode()


async def test_a_geojson_whose_crs_is_a_link_fetches_nothing(admin, counting_server):  # noqa: F811
    base, hits = counting_server
    link = {"type": "link", "properties": {"href": f"{base}/crs", "type": "proj4"}}
    hidden = _geojson_with_crs(link).replace(b'"link"', b'"\\u006cink"')
    for data in (_geojson_with_crs(link), hidden):
        response = await admin.post("/admin/imports/buildings", files={"file": ("b.geojson", data)})
        _assert_refused_naming_file(response, "upload.geojson")
    assert hits == []


def test_gdal_follows_no_vsicurl_path_even_when_asked_directly(counting_server):
    base, hits = counting_server
    harden_gdal()
    with pytest.raises(Exception):  # noqa: B017  (GDAL's own "not found" error)
        pyogrio.read_dataframe(f"/vsicurl/{base}/buildings.geojson")
    assert hits == []


def test_the_opener_refuses_remote_paths_and_reads_honest_files(tmp_path):
    with pytest.raises(InvalidInput) as refused:
        read_vector("/vsicurl/http://127.0.0.1:9/b.geojson")
    assert refused.value.field == "file"
    honest = tmp_path / "b.geojson"
    honest.write_bytes(
        _geojson_with_crs({"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}})
    )
    frame = read_vector(honest)
    assert list(frame["BID"]) == ["B-1"] and frame.crs.to_epsg() == 4326


# --- item 16: a bad crs or encoding names the field ------------------------------------

CSV_ROWS = "BID,lon,lat\nB-1,116.4,39.9\n"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"crs": "EPSG:999999999"}, "crs"),
        ({"crs": "not a crs"}, "crs"),
        ({"crs": "EPSG:4326", "encoding": "no-such-encoding"}, "encoding"),
    ],
)
async def test_a_bad_crs_or_encoding_on_a_csv_import_is_a_422_naming_it(admin, form, field):  # noqa: F811
    response = await admin.post(
        "/admin/imports/buildings", data=form, files={"file": ("b.csv", CSV_ROWS.encode())}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field


@pytest.mark.parametrize("endpoint", ["/admin/imports/regions", "/admin/imports/people"])
async def test_an_unknown_encoding_is_a_422_on_the_other_imports(admin, endpoint):  # noqa: F811
    upload = (
        ("r.csv", CSV_ROWS.encode())
        if endpoint.endswith("people")
        else ("r.geojson", _geojson_with_crs({"type": "name", "properties": {"name": "EPSG:4326"}}))
    )
    response = await admin.post(
        endpoint, data={"encoding": "no-such-encoding"}, files={"file": upload}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "encoding"


async def test_csv_bytes_that_are_not_the_named_encoding_are_a_422(admin):  # noqa: F811
    response = await admin.post(
        "/admin/imports/buildings",
        data={"crs": "EPSG:4326", "encoding": "utf-8"},
        files={"file": ("b.csv", "BID,lon,lat\n测试楼,116.4,39.9\n".encode("gbk"))},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "encoding"


@pytest.fixture
def cli_on_test_database(settings, migrated_db, monkeypatch):
    """The command line pointed at this run's test database."""
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", migrated_db)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--crs", "not a crs"], "crs"),
        (["--crs", "EPSG:4326", "--encoding", "no-such-encoding"], "encoding"),
    ],
)
def test_the_cli_reports_a_bad_crs_or_encoding_without_a_traceback(
    cli_on_test_database, tmp_path, options, field
):
    path = tmp_path / "b.csv"
    path.write_text(CSV_ROWS, encoding="utf-8")
    result = cli_on_test_database.invoke(
        cli, ["import", "buildings", str(path), "--dry-run", *options]
    )
    assert result.exit_code == 1
    assert f"Error: {field}:" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
