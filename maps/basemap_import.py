"""`gridgov import basemap`: an OpenStreetMap extract (.osm.pbf, GDAL's OSM driver) or a
GeoPackage / zipped Shapefile / GeoJSON in any CRS with a TOML mapping, into the basemap
schema. Vectorised; every row checked first; written in the caller's transaction only
when no row is rejected, replacing rows by (source, external_id)."""

from __future__ import annotations

import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Connection

from core.errors import InvalidInput
from core.settings import get_settings
from gis.archives import DATASET_SUFFIXES, unzip_dataset
from gis.crs import STORAGE_SRID, utm_epsg_for
from gis.vector_io import check_vector_file, harden_gdal, read_vector
from grid.importing.report import ImportReport, RowIssue
from maps.basemap import GREEN_KINDS, PLACE_KINDS, ROAD_CLASSES, WATER_KINDS
from maps.basemap_write import TABLE_COLUMNS, upsert_features

VOCABULARY = {
    "roads": ROAD_CLASSES,
    "water": WATER_KINDS,
    "green": GREEN_KINDS,
    "places": PLACE_KINDS,
    "compounds": None,
}
DEFAULT_RIVER_WIDTH_M = 8.0
# A zip may expand to this many times the import size limit (zip bombs).
ZIP_EXPANSION = 4

# --- OpenStreetMap tag vocabularies -> ours ----------------------------------------
OSM_HIGHWAYS = {
    "motorway": "motorway",
    "motorway_link": "motorway",
    "trunk": "trunk",
    "trunk_link": "trunk",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "tertiary",
    "tertiary_link": "tertiary",
    "residential": "residential",
    "unclassified": "residential",
    "living_street": "residential",
    "service": "service",
    "footway": "path",
    "path": "path",
    "pedestrian": "path",
    "cycleway": "path",
    "steps": "path",
    "track": "path",
}
OSM_WATERWAYS = {"river": "river", "stream": "river", "canal": "canal", "drain": "canal"}
OSM_WATER = {
    "river": "river",
    "lake": "lake",
    "pond": "pond",
    "reservoir": "reservoir",
    "canal": "canal",
    "oxbow": "lake",
    "basin": "pond",
}
OSM_AMENITIES = {
    "school": "school",
    "kindergarten": "school",
    "college": "school",
    "university": "school",
    "marketplace": "market",
    "hospital": "hospital",
    "clinic": "clinic",
    "doctors": "clinic",
    "fire_station": "fire_station",
    "police": "police",
    "townhall": "government",
    "community_centre": "community_centre",
    "bus_station": "transit",
}
OSM_GREEN = {
    ("leisure", "park"): "park",
    ("leisure", "garden"): "garden",
    ("landuse", "forest"): "forest",
    ("natural", "wood"): "forest",
    ("landuse", "grass"): "grass",
    ("landuse", "meadow"): "grass",
    ("landuse", "recreation_ground"): "park",
    ("place", "square"): "square",
}


def _refuse(field: str, en: str, zh: str) -> InvalidInput:
    return InvalidInput(en, zh, field=field)


def _dataset(path: Path, scratch: Path) -> tuple[Path, str]:
    """The local file to read and its driver: the file itself, or the one dataset of a zip
    unpacked into `scratch` (GDAL never reads through /vsizip/), checked by the one safe
    opener's rules before GDAL sees it."""
    path = Path(path)
    if path.suffix.lower() == ".csv":  # a CSV has no geometry the base map could use
        raise _refuse(
            "path",
            f"{path.name}: a base map is an .osm.pbf, .gpkg, .geojson or zipped Shapefile",
            f"{path.name}：底图应为 .osm.pbf、.gpkg、.geojson 或 Shapefile 压缩包",
        )
    if path.suffix.lower() == ".zip":
        if not path.is_file():
            raise _refuse("path", f"file not found: {path.name}", f"文件不存在：{path.name}")
        limit = get_settings().max_import_mb * 2**20 * ZIP_EXPANSION
        path = unzip_dataset(
            path,
            scratch / "unzipped",
            limit,
            "path",
            suffixes=tuple(s for s in DATASET_SUFFIXES if s != ".csv"),
        )
    return path, check_vector_file(path, field="path")


def _layers(path: Path) -> list[str]:
    """The layer names of a file already checked by check_vector_file, listed only after
    GDAL is hardened (read_info would also open what a VRT names)."""
    harden_gdal()
    try:
        return [str(name) for name in pyogrio.list_layers(str(path))[:, 0]]
    except Exception as exc:  # GDAL says what is wrong with the file
        raise _refuse(
            "path", f"cannot read {path.name}: {exc}", f"无法读取文件 {path.name}：{exc}"
        ) from exc


def _read(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    frame = read_vector(path, field="path", layer=layer, on_invalid="warn")
    if frame.crs is None:
        raise _refuse(
            "crs",
            f"{path.name} declares no coordinate reference system",
            f"{path.name} 未声明坐标系，不会猜测",
        )
    return frame if frame.crs.to_epsg() == STORAGE_SRID else frame.to_crs(STORAGE_SRID)


# --- candidate rows: one frame per table with row, external_id, value, name, geometry --


def _candidates(
    frame: pd.DataFrame, table: str, row: np.ndarray, external_id, value, name, geometry
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": table,
            "row": row,
            "external_id": external_id,
            "value": value,
            "name": name,
            "geometry": geometry,
        },
        index=frame.index,
    )


def _osm_tag(frame: pd.DataFrame, key: str) -> pd.Series:
    """A tag from its own column or from other_tags ("k"=>"v",...), vectorised."""
    own = frame[key] if key in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    if "other_tags" not in frame.columns:
        return own
    pattern = '"' + key.replace(":", r"\:") + r'"=>"((?:[^"\\]|\\.)*)"'
    extra = frame["other_tags"].astype("string").str.extract(pattern, expand=False)
    return own.where(own.notna(), extra.astype(object)).where(lambda s: s.notna(), None)


def _osm_name(frame: pd.DataFrame) -> pd.Series:
    return _osm_tag(frame, "name:zh").combine_first(_osm_tag(frame, "name"))


def _osm_ids(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """n/w/r plus the OSM id: unique across an extract, so a re-import replaces rows."""
    ids = frame["osm_id"].astype("string")
    if "osm_way_id" in frame.columns:  # multipolygons: closed ways have osm_way_id
        ways = frame["osm_way_id"].astype("string")
        return ("w" + ways).where(ways.notna(), "r" + ids).astype(object)
    return (prefix + ids).astype(object)


def _buffer_lines_m(lines: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Buffer lon/lat lines by widths in metres, in each line's UTM zone (never degrees)."""
    out = np.empty(lines.size, dtype=object)
    centres = shapely.centroid(lines)
    zones = np.array(
        [
            utm_epsg_for(x, y)
            for x, y in zip(shapely.get_x(centres), shapely.get_y(centres), strict=True)
        ]
    )
    for zone in np.unique(zones):
        mine = zones == zone
        metric = gpd.GeoSeries(lines[mine], crs=STORAGE_SRID).to_crs(zone)
        buffered = shapely.buffer(metric.to_numpy(), widths[mine] / 2, cap_style="flat")
        out[mine] = gpd.GeoSeries(buffered, crs=zone).to_crs(STORAGE_SRID).to_numpy()
    return out


def _osm_candidates(path: Path) -> tuple[list[pd.DataFrame], int, int]:
    """Base-map candidates from the OSM layers, the rows read and the unnamed places
    skipped; features of no base-map kind are skipped too."""
    out, read, unnamed = [], 0, 0
    for layer in ("points", "lines", "multipolygons"):
        frame = _read(path, layer)
        read += len(frame)
        if frame.empty:
            continue
        frame = frame.reset_index(drop=True)
        geoms, rows = frame.geometry.to_numpy(), np.arange(1, len(frame) + 1)
        names = _osm_name(frame)
        prefix = {"points": "n", "lines": "w"}.get(layer, "")
        ids = _osm_ids(frame, prefix)
        amenity = _osm_tag(frame, "amenity").map(OSM_AMENITIES)
        railway = _osm_tag(frame, "railway")
        place_kind = amenity.where(
            amenity.notna(), railway.map({"station": "transit", "halt": "transit"})
        )
        if layer in ("points", "multipolygons"):
            # Most shops, clinics and bus stops in a real extract carry no name: a label
            # layer has nothing to show for them, so they are skipped, not refused.
            named = names.notna() & (names.astype("string").str.strip() != "")
            unnamed += int((place_kind.notna() & ~named).sum())
            mask = place_kind.notna() & named
            point = shapely.point_on_surface(geoms[mask.to_numpy()]) if mask.any() else []
            out.append(
                _candidates(
                    frame[mask],
                    "places",
                    rows[mask],
                    ids[mask],
                    place_kind[mask],
                    names[mask],
                    point,
                )
            )
        if layer == "lines":
            road = _osm_tag(frame, "highway").map(OSM_HIGHWAYS)
            mask = road.notna()
            out.append(
                _candidates(
                    frame[mask],
                    "roads",
                    rows[mask],
                    ids[mask],
                    road[mask],
                    names[mask],
                    geoms[mask.to_numpy()],
                )
            )
            water = _osm_tag(frame, "waterway").map(OSM_WATERWAYS)
            mask = water.notna()
            if mask.any():
                width = pd.to_numeric(
                    _osm_tag(frame, "width")[mask]
                    .astype("string")
                    .str.extract(r"^\s*([0-9.]+)", expand=False),
                    errors="coerce",
                ).fillna(DEFAULT_RIVER_WIDTH_M)
                areas = _buffer_lines_m(geoms[mask.to_numpy()], width.to_numpy(float))
                out.append(
                    _candidates(
                        frame[mask], "water", rows[mask], ids[mask], water[mask], names[mask], areas
                    )
                )
        if layer == "multipolygons":
            water = _osm_tag(frame, "water").map(OSM_WATER)
            natural, landuse = _osm_tag(frame, "natural"), _osm_tag(frame, "landuse")
            water = water.where(water.notna() | (natural != "water"), "lake")
            water = water.where(landuse != "reservoir", "reservoir")
            water = water.where(_osm_tag(frame, "waterway") != "riverbank", "river")
            mask = water.notna() & place_kind.isna()
            out.append(
                _candidates(
                    frame[mask],
                    "water",
                    rows[mask],
                    ids[mask],
                    water[mask],
                    names[mask],
                    geoms[mask.to_numpy()],
                )
            )
            green = pd.Series(None, index=frame.index, dtype=object)
            for (key, tag_value), kind in OSM_GREEN.items():
                green = green.where(green.notna() | (_osm_tag(frame, key) != tag_value), kind)
            mask = green.notna() & water.isna() & place_kind.isna()
            out.append(
                _candidates(
                    frame[mask],
                    "green",
                    rows[mask],
                    ids[mask],
                    green[mask],
                    names[mask],
                    geoms[mask.to_numpy()],
                )
            )
            compound = names.notna() & (
                (landuse == "residential") | (_osm_tag(frame, "place") == "neighbourhood")
            )
            mask = compound & water.isna() & green.isna() & place_kind.isna()
            out.append(
                _candidates(
                    frame[mask],
                    "compounds",
                    rows[mask],
                    ids[mask],
                    None,
                    names[mask],
                    geoms[mask.to_numpy()],
                )
            )
    return [c for c in out if not c.empty], read, unnamed


# --- mapped files ----------------------------------------------------------------------


def load_mapping(path: Path | None) -> list[dict]:
    """[[layers]] tables: table, layer, class or kind (a column) or fixed (a value), name,
    id, and [layers.values] translating the class column's values."""
    if path is None:
        raise _refuse(
            "mapping",
            "a GeoPackage, Shapefile or GeoJSON needs --mapping "
            "(which layer and columns give the table, class/kind and name)",
            "GeoPackage/Shapefile/GeoJSON 需要字段映射文件（--mapping）",
        )
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _refuse(
            "mapping",
            f"the mapping is not readable UTF-8 TOML: {exc}",
            f"字段映射文件不是有效的 UTF-8 TOML：{exc}",
        ) from exc
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _refuse(
            "mapping",
            "the mapping needs at least one [[layers]] table",
            "字段映射文件至少需要一个 [[layers]]",
        )
    allowed = {"table", "layer", "class", "kind", "fixed", "name", "id", "values"}
    for k, entry in enumerate(layers, start=1):
        unknown = set(entry) - allowed
        if entry.get("table") not in TABLE_COLUMNS or unknown:
            raise _refuse(
                "mapping",
                f"[[layers]] #{k}: table must be one of "
                f"{', '.join(TABLE_COLUMNS)}"
                + (f"; unknown keys {sorted(unknown)}" if unknown else ""),
                f"[[layers]] 第 {k} 项：table 无效或含未知键",
            )
    return layers


def _mapped_candidates(path: Path, mapping: list[dict]) -> tuple[list[pd.DataFrame], int]:
    out, read = [], 0
    named = {entry["layer"] for entry in mapping if entry.get("layer") is not None}
    if named:
        layers = _layers(path)
        if missing := sorted(named - set(layers)):
            raise _refuse(
                "mapping",
                f"no layer {', '.join(map(repr, missing))} in "
                f"{path.name} (it has: {', '.join(layers)})",
                f"{path.name} 中没有图层 {', '.join(missing)}",
            )
    for entry in mapping:
        frame = _read(path, entry.get("layer")).reset_index(drop=True)
        read += len(frame)
        table = entry["table"]
        column = entry.get("class", entry.get("kind"))
        for key in ("name", "id") + ((column,) if column else ()):
            wanted = entry.get(key, key) if key in ("name", "id") else key
            if key in ("name", "id") and key not in entry:
                continue
            if wanted not in frame.columns:
                raise _refuse(
                    "mapping",
                    f"{table}: no column {wanted!r} in the file (it has: "
                    f"{', '.join(c for c in frame.columns if c != 'geometry')})",
                    f"{table}：文件中没有列 {wanted!r}",
                )
        if column:
            value = (
                frame[column]
                .astype("string")
                .map(
                    lambda v, t=entry.get("values", {}): t.get(v, v) if isinstance(v, str) else None
                )
            )
        else:
            value = pd.Series(entry.get("fixed"), index=frame.index, dtype=object)
        names = frame[entry["name"]] if "name" in entry else pd.Series(None, index=frame.index)
        label = entry.get("layer") or table
        ids = (
            frame[entry["id"]].astype("string").astype(object)
            if "id" in entry
            else pd.Series([f"{label}:{i}" for i in range(1, len(frame) + 1)])
        )
        out.append(
            _candidates(
                frame,
                table,
                np.arange(1, len(frame) + 1),
                ids,
                value,
                names.where(names.notna(), None).astype(object),
                frame.geometry.to_numpy(),
            )
        )
    return out, read


# --- checks ----------------------------------------------------------------------------


def _check(candidates: pd.DataFrame) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Rows fit for their table (geometry made the table's type, repaired where it can
    be), and the rejected rows with the field and reason."""
    table = candidates["table"].iloc[0]
    attribute, geometry_type = TABLE_COLUMNS[table]
    reasons = pd.Series(None, index=candidates.index, dtype=object)
    fields = pd.Series(None, index=candidates.index, dtype=object)

    def reject(mask, field, reason):
        fresh = mask & reasons.isna()
        reasons[fresh] = reason if isinstance(reason, str) else reason[fresh]
        fields[fresh] = field

    geoms = np.asarray(candidates["geometry"].to_numpy(), dtype=object)
    missing = pd.Series(shapely.is_missing(geoms) | shapely.is_empty(geoms), candidates.index)
    reject(missing, "geometry", "geometry is missing or empty")
    geoms = np.where(missing, None, geoms)
    invalid = pd.Series(~missing & ~shapely.is_valid(geoms), candidates.index)
    geoms = np.where(invalid, shapely.make_valid(geoms), geoms)
    geoms = _as_type(geoms, geometry_type)
    reject(
        pd.Series(~missing & shapely.is_missing(geoms), candidates.index),
        "geometry",
        f"geometry is not a {geometry_type.removeprefix('Multi').lower()}",
    )
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        wild = (
            (bounds[:, 0] < -180)
            | (bounds[:, 2] > 180)
            | (bounds[:, 1] < -90)
            | (bounds[:, 3] > 90)
        )
    reject(
        pd.Series(wild, candidates.index),
        "geometry",
        "coordinates outside longitude/latitude range after reprojection",
    )
    if attribute:
        vocabulary = VOCABULARY[table]
        value = candidates["value"]
        unknown = ~value.isin(vocabulary)
        reject(
            unknown,
            attribute,
            "'"
            + value.astype("string").fillna("").astype(str)
            + f"' is not one of {', '.join(vocabulary)}",
        )
    if table in ("places", "compounds"):
        reject(
            candidates["name"].isna() | (candidates["name"].astype("string").str.strip() == ""),
            "name",
            "a name is required",
        )
    reject(candidates["name"].astype("string").str.len() > 200, "name", "longer than 200")
    reject(candidates["external_id"].astype("string").str.len() > 64, "id", "longer than 64")
    reject(
        candidates["external_id"].isna() | candidates["external_id"].duplicated(keep=False),
        "id",
        "missing or repeated id",
    )
    ok = reasons.isna()
    issues = [
        RowIssue(int(r), None if pd.isna(e) else str(e), f, f"{table}: {why}")
        for r, e, f, why in zip(
            candidates["row"][~ok],
            candidates["external_id"][~ok],
            fields[~ok],
            reasons[~ok],
            strict=True,
        )
    ]
    good = pd.DataFrame(
        {"external_id": candidates["external_id"][ok], "name": candidates["name"][ok]}
    )
    if attribute:
        good[attribute] = candidates["value"][ok]
    return gpd.GeoDataFrame(good, geometry=geoms[ok.to_numpy()], crs=STORAGE_SRID), issues


def _as_type(geoms: np.ndarray, geometry_type: str) -> np.ndarray:
    """The parts of each geometry of the wanted kind, as Multi* (None when there are none)."""
    kind = {
        "MultiLineString": shapely.GeometryType.LINESTRING,
        "MultiPolygon": shapely.GeometryType.POLYGON,
        "Point": shapely.GeometryType.POINT,
    }[geometry_type]
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == kind
    out = np.full(geoms.size, None, dtype=object)
    if kind == shapely.GeometryType.POINT:
        single = np.bincount(owner[keep], minlength=geoms.size) == 1
        out[owner[keep][single[owner[keep]]]] = parts[keep][single[owner[keep]]]
        return out
    if keep.any():
        build = (
            shapely.multilinestrings
            if kind == shapely.GeometryType.LINESTRING
            else shapely.multipolygons
        )
        made = build(parts[keep], indices=owner[keep])
        out[np.unique(owner[keep])] = made
    return out


# --- the import --------------------------------------------------------------------------


def import_basemap(
    connection: Connection,
    path: Path,
    *,
    mapping: Path | None = None,
    commit: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Read, check every row, and (with commit, when no row is rejected) upsert; returns the
    report. A rejected row stops the write: a base map half-imported is worse than none."""
    report_progress = progress or (lambda _message: None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gridgov-basemap-") as scratch:
        dataset, driver = _dataset(Path(path), Path(scratch))
        report = ImportReport(kind="basemap", source=str(path), dry_run=not commit)
        report_progress(f"reading {Path(path).name} ({driver})")
        unnamed = 0
        if driver == "OSM":
            candidates, report.read, unnamed = _osm_candidates(dataset)
        else:
            candidates, report.read = _mapped_candidates(dataset, load_mapping(mapping))
    source = "osm" if driver == "OSM" else "file"
    checked: dict[str, list[gpd.GeoDataFrame]] = {}
    for frame in candidates:
        good, issues = _check(frame)
        report.rejected += issues
        checked.setdefault(frame["table"].iloc[0], []).append(good)
    frames = {t: pd.concat(f, ignore_index=True) for t, f in checked.items()}
    for table, frame in frames.items():  # the same feature twice across layers: refuse
        twice = frame["external_id"].duplicated()
        report.rejected += [
            RowIssue(0, e, "id", f"{table}: repeated id") for e in frame["external_id"][twice]
        ]
    report.counts = {t: {"rows": len(f)} for t, f in frames.items()}
    if unnamed:
        report.counts.setdefault("places", {"rows": 0})["skipped_unnamed"] = unnamed
    if commit and not report.rejected:
        for table, frame in frames.items():
            report_progress(f"writing {len(frame)} rows to basemap.{table}")
            inserted, updated = upsert_features(
                connection, table, gpd.GeoDataFrame(frame, crs=STORAGE_SRID), source
            )
            report.inserted += inserted
            report.updated += updated
            report.counts[table] |= {"inserted": inserted, "updated": updated}
    else:
        report.dry_run = True
        report.inserted = sum(len(f) for f in frames.values())
    report.seconds = time.monotonic() - started
    return report
