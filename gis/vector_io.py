"""Opening GIS files that someone else made (a contractor, another office's export):
GDAL reads only the format the file's name promises, checked against the file's first
bytes, and never follows what the file names: other files, URLs, databases, programs.

Every register, base-map or other import opens vector files with `read_vector` (or
checks them with `check_vector_file` first); nothing else calls pyogrio to read."""

from __future__ import annotations

import re
import threading
import warnings
from pathlib import Path

import geopandas as gpd

from core.errors import InvalidInput

# The formats gridgov reads, by file suffix, and the GDAL driver that alone may read each.
DRIVERS_BY_SUFFIX = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".osm": "OSM",
    ".pbf": "OSM",
}
# GDAL's own "<DRIVER>:path" syntax forces the driver; the Shapefile and OSM drivers have
# none, so for them the first-bytes check and the removed drivers below do the work.
_FORCING_PREFIX = {"GeoJSON": "GeoJSON:", "GPKG": "GPKG:", "CSV": "CSV:"}

# Drivers that read whatever another dataset, URL, database or program a file names
# (the OGR VRT's <SrcDataSource> is how an "import" once read .env), removed from this
# process's GDAL before the first read so that no file can be handed to them.
REFUSED_DRIVERS = (
    "OGR_VRT",
    "VRT",
    "GDALG",
    "GTI",
    "ADBC",
    "AIVector",
    "AmigoCloud",
    "Carto",
    "CSW",
    "EEDA",
    "EEDAI",
    "Elasticsearch",
    "GPSBabel",
    "HTTP",
    "NGW",
    "OAPIF",
    "OGCAPI",
    "PLSCENES",
    "WFS",
    "WMS",
    "WMTS",
    "WCS",
    "PostgreSQL",
    "MySQL",
    "ODBC",
    "MSSQLSpatial",
    "OCI",
    "MongoDBv3",
    "PDS4",
    "STACIT",
    "STACTA",
    "DAAS",
)
# GDAL configuration that keeps reads off the network whatever a file says (see GDAL's
# "Security considerations" and "Configuration options" pages).
GDAL_SAFETY_OPTIONS = {
    # /vsicurl/ and the cloud handlers built on it only open names with these endings:
    # one no URL has, so every /vsicurl/, /vsis3/, /vsiaz/ ... path is refused.
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".gridgov-no-network",
    # No directory listings of remote "directories" when a driver looks for side files.
    "GDAL_DISABLE_READDIR_ON_OPEN": "TRUE",
    # Plain HTTP fetches (a GeoJSON "crs" of type link, a GML schema) go through this
    # proxy, which is a closed port: they fail at once. A deployment's NO_PROXY would
    # exempt its hosts, hence also the GeoJSON check below.
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTPS_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    # Never look for cloud credentials: that asks the metadata service (169.254.169.254).
    "AWS_NO_SIGN_REQUEST": "YES",
    "GS_NO_SIGN_REQUEST": "YES",
    "AZURE_NO_SIGN_REQUEST": "YES",
    "CPL_GCE_CHECK_LOCAL_FILES": "NO",
    "CPL_MACHINE_IS_GCE": "NO",
    # GeoPackage views and triggers may not call OGR's SQL functions (ogr_geocode fetches
    # URLs), nor may Python run inside VRT pixel functions.
    "ALLOW_OGR_SQL_FUNCTIONS_FROM_TRIGGER_AND_VIEW": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
}

_hardened = False
_harden_lock = threading.Lock()
_HEAD_BYTES = 4096
_SCAN_CHUNK = 1 << 22
# A GeoJSON "crs" of type link/url makes GDAL fetch its href; ASCII written as \u00XX
# escapes of letters is how such a member would hide from a byte scan (exporters escape
# only non-ASCII text and punctuation), so both are refused.
_GEOJSON_FETCHING_CRS = re.compile(rb'"type"\s*:\s*"(?:link|url)"', re.IGNORECASE)
_ESCAPED_ASCII = re.compile(rb"\\u00(?:4[1-9a-fA-F]|5[0-9aA]|6[1-9a-fA-F]|7[0-9aA])")


def harden_gdal() -> None:
    """Remove the referencing drivers and set the no-network options, once a process."""
    global _hardened
    if _hardened:
        return
    with _harden_lock:
        if _hardened:
            return
        import pyogrio
        from pyogrio._ogr import _register_drivers

        skip = (pyogrio.get_gdal_config_option("GDAL_SKIP") or "").split()
        pyogrio.set_gdal_config_options(
            {**GDAL_SAFETY_OPTIONS, "GDAL_SKIP": " ".join(dict.fromkeys([*skip, *REFUSED_DRIVERS]))}
        )
        # GDAL applies GDAL_SKIP when drivers are registered: registering again (the ones
        # present are kept) deregisters the skipped ones. Names this build lacks warn.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _register_drivers()
        present = set(pyogrio.list_drivers())
        if present & set(REFUSED_DRIVERS):
            raise RuntimeError(f"GDAL still has {sorted(present & set(REFUSED_DRIVERS))}")
        _hardened = True


def check_vector_file(path: Path, *, field: str = "file") -> str:
    """The GDAL driver for `path`, after checking that the file is a local file of the
    format its name promises; InvalidInput (naming the file) for anything else."""
    path = Path(path)
    name = path.name
    text = str(path)
    if text.startswith("/vsi") or "://" in text:
        raise InvalidInput(
            f"{name}: only local files are read", f"{name}：只读取本地文件", field=field
        )
    driver = DRIVERS_BY_SUFFIX.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(
            f"{name} is not one of {', '.join(sorted(set(DRIVERS_BY_SUFFIX)))}",
            f"不支持的文件类型：{name}",
            field=field,
        )
    if not path.is_file():
        raise InvalidInput(f"file not found: {name}", f"文件不存在：{name}", field=field)
    with path.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    if not _looks_like(driver, path, head):
        raise InvalidInput(
            f"{name} is not a {driver} file (its content is another format, e.g. a GDAL "
            "VRT); only the format its name says is read",
            f"{name} 的内容不是 {driver} 格式（例如是 GDAL VRT），只按文件名所示格式读取",
            field=field,
        )
    if driver == "GeoJSON":
        _refuse_fetching_geojson(path, field)
    return driver


def read_vector(path: Path, *, field: str = "file", **options) -> gpd.GeoDataFrame:
    """Read a checked file with its one driver (pyogrio keyword arguments such as layer
    and encoding pass through); InvalidInput naming the file when GDAL cannot."""
    import pyogrio

    harden_gdal()
    path = Path(path)
    driver = check_vector_file(path, field=field)
    prefix = _FORCING_PREFIX.get(driver)
    # "GPKG:a:b" means table b of a; a path with a colon goes without the prefix (the
    # first-bytes check and the removed drivers still hold).
    source = f"{prefix}{path}" if prefix and ":" not in str(path) else str(path)
    try:
        return pyogrio.read_dataframe(source, **options)
    except (LookupError, ValueError) as exc:  # an unknown encoding name
        if options.get("encoding"):
            raise InvalidInput(
                f"cannot read {path.name} as {options['encoding']}: {exc}",
                f"无法按 {options['encoding']} 编码读取 {path.name}",
                field="encoding",
            ) from exc
        raise _unreadable(path, exc, field) from exc
    except Exception as exc:  # GDAL says what is wrong with the file
        raise _unreadable(path, exc, field) from exc


def _unreadable(path: Path, exc: Exception, field: str) -> InvalidInput:
    return InvalidInput(
        f"cannot read {path.name}: {exc}", f"无法读取文件 {path.name}：{exc}", field=field
    )


def _looks_like(driver: str, path: Path, head: bytes) -> bool:
    """Whether the first bytes are those of the format (magic numbers, first character)."""
    if driver == "GPKG":
        return head.startswith(b"SQLite format 3\x00")
    if driver == "ESRI Shapefile":
        # File code 9994 big-endian, version 1000 little-endian.
        return (
            len(head) >= 100
            and head[:4] == b"\x00\x00\x27\x0a"
            and head[28:32] == b"\xe8\x03\x00\x00"
        )
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if driver == "GeoJSON":
        return text.startswith(b"{")
    if driver == "OSM":
        if path.suffix.lower() == ".pbf":
            return head[4:6] == b"\x0a\x09" and head[6:15] == b"OSMHeader"
        return text.startswith(b"<") and b"<osm" in head and b"<OGRVRT" not in head
    # CSV: text, not markup.
    return b"\x00" not in head and not text.startswith(b"<")


def _refuse_fetching_geojson(path: Path, field: str) -> None:
    """Refuse a GeoJSON whose "crs" would make GDAL fetch a URL, or which hides ASCII
    behind escapes; read in chunks (an import may be hundreds of MB)."""
    overlap = b""
    with path.open("rb") as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            window = overlap + chunk
            if _GEOJSON_FETCHING_CRS.search(window) or _ESCAPED_ASCII.search(window):
                raise InvalidInput(
                    f"{path.name} names a coordinate system by link or hides text behind "
                    "\\u escapes; give the CRS by name (e.g. EPSG:4326) and plain text",
                    f"{path.name} 以链接指定坐标系或用 \\u 转义隐藏文字；请用名称（如 "
                    "EPSG:4326）指定坐标系",
                    field=field,
                )
            # Keep the tail, with a whitespace run of any length folded to one space, so
            # a member split across chunks (or padded with blanks) is still seen.
            overlap = window.rstrip()[-64:] + (b" " if window[-1:].isspace() else b"")
