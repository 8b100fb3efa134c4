"""Reading import files: a GIS file into a GeoDataFrame in EPSG:4326 with field mapping
applied, and a CSV as text in its encoding."""

from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from core.errors import InvalidInput
from gis.crs import STORAGE_SRID
from gis.vector_io import read_vector

_BOM = b"\xef\xbb\xbf"
# GB 18030 decodes every GBK/GB 2312 file and also the rare characters found in names.
_GB_SUPERSET = {"gbk": "gb18030", "gb2312": "gb18030"}


@dataclass(frozen=True)
class FieldMapping:
    """Target field -> source column, and per-field value translations
    (e.g. 用途 "住宅" -> "residential"). Loaded from a small TOML file."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> FieldMapping:
        """Read `[fields]` and `[values.<field>]` tables from a TOML file (or none)."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise _bad_mapping(f"not valid UTF-8 TOML: {exc}") from exc
        columns, values = data.get("fields", {}), data.get("values", {})
        if not _table_of_strings(columns):
            raise _bad_mapping("[fields] must map gridgov fields to column names (text)")
        if not (
            isinstance(values, dict) and all(_table_of_strings(table) for table in values.values())
        ):
            raise _bad_mapping("each [values.<field>] must map values to values (text)")
        return cls(columns=dict(columns), values=dict(values))

    def check_columns(
        self, frame: pd.DataFrame, fields: list[str], required: list[str], kind: str
    ) -> None:
        """Refuse a mapping that names unknown fields or absent columns, and a file lacking
        a required column: every row would be rejected for the same reason."""
        problems = [f"[fields] {t}: not a {kind} field" for t in self.columns if t not in fields]
        problems += [
            f"[fields] {t} = {c!r}: no such column"
            for t, c in self.columns.items()
            if t in fields and c not in frame.columns
        ]
        problems += [
            f"no column for {t} (map it in [fields])"
            for t in required
            if t not in self.columns and t not in frame.columns
        ]
        if problems:
            geometry = getattr(frame, "_geometry_column_name", None)
            columns = ", ".join(c for c in frame.columns if c != geometry)
            raise InvalidInput(
                "; ".join(problems) + f" (the file has: {columns})",
                "字段映射与文件列不符：" + "；".join(problems),
                field="mapping",
            )

    def apply(self, frame: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
        """A frame with target names: mapped columns renamed, values translated; target
        columns that are neither mapped nor present come out as missing."""
        out = pd.DataFrame(index=frame.index)
        for target in targets:
            source = self.columns.get(target, target)
            column = (
                frame[source]
                if source in frame.columns
                else pd.Series([None] * len(frame), index=frame.index, dtype=object)
            )
            if target in self.values:
                table = self.values[target]
                column = column.map(lambda v, t=table: t.get(str(v), v) if v is not None else v)
            out[target] = column
        return out


def _table_of_strings(table: object) -> bool:
    return isinstance(table, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    )


def _bad_mapping(reason: str) -> InvalidInput:
    return InvalidInput(
        f"the field mapping is wrong: {reason}", f"字段映射文件有误：{reason}", field="mapping"
    )


def read_geodata(
    path: Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    csv_crs: str | None = None,
    csv_x: str = "lon",
    csv_y: str = "lat",
) -> gpd.GeoDataFrame:
    """Read any supported file, refuse a missing CRS, and reproject to EPSG:4326.

    Shapefile encodings come from the .cpg file unless `encoding` is given. A CSV has
    no CRS of its own, so `csv_crs` is required for it."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"file not found: {path}", f"文件不存在：{path}", field="path")
    if encoding is not None:
        _check_encoding(encoding)
    if path.suffix.lower() == ".csv":
        frame = _read_csv_points(path, encoding, csv_crs, csv_x, csv_y)
    else:
        # The one safe opener: the driver the name promises, no VRT, no network.
        frame = read_vector(path, layer=layer, encoding=encoding)
    if frame.crs is None:
        raise InvalidInput(
            f"{path.name} declares no coordinate reference system; add a .prj or convert it",
            f"{path.name} 未声明坐标系（缺少 .prj 等），不会猜测",
            field="crs",
        )
    return frame.to_crs(STORAGE_SRID) if frame.crs.to_epsg() != STORAGE_SRID else frame


def _read_csv_points(
    path: Path, encoding: str | None, crs: str | None, x: str, y: str
) -> gpd.GeoDataFrame:
    if not crs:
        raise InvalidInput(
            "a CSV needs --crs (e.g. EPSG:4326 or EPSG:4547)",
            "CSV 文件需要指定坐标系（--crs）",
            field="crs",
        )
    try:
        crs = CRS.from_user_input(crs)
    except CRSError as exc:
        raise InvalidInput(
            f"crs {crs!r} is not a coordinate reference system (e.g. EPSG:4326 or EPSG:4547)",
            f"坐标系 {crs!r} 无法识别（例如 EPSG:4547）",
            field="crs",
        ) from exc
    try:
        frame = pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=str)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not {encoding or 'UTF-8'} text; pass the file's encoding (e.g. GBK)",
            f"{path.name} 不是 {encoding or 'UTF-8'} 编码；请指定编码（如 GBK）",
            field="encoding",
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(
            f"{path.name} is not a readable CSV: {exc}",
            f"{path.name} 不是可读取的 CSV",
            field="file",
        ) from exc
    for column in (x, y):
        if column not in frame.columns:
            raise InvalidInput(
                f"the CSV has no {column} column", f"CSV 缺少 {column} 列", field=column
            )
    xs = pd.to_numeric(frame[x], errors="coerce")
    ys = pd.to_numeric(frame[y], errors="coerce")
    geometry = gpd.points_from_xy(xs, ys)
    # Rows without numbers get no geometry; they are rejected later, row by row.
    geometry[(xs.isna() | ys.isna()).to_numpy()] = None
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)


def _check_encoding(encoding: str) -> None:
    """Refuse an encoding name Python does not know, naming the field (not a 500)."""
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise InvalidInput(
            f"unknown encoding {encoding!r} (e.g. UTF-8, GBK, GB18030)",
            f"未知编码：{encoding}（例如 UTF-8、GBK）",
            field="encoding",
        ) from exc


def read_csv_text(path: Path, encoding: str | None) -> pd.DataFrame:
    """A CSV with every cell as text (blank is ""), UTF-8 unless `encoding` says (GBK read
    as GB 18030); a byte-order mark wins. InvalidInput on field "encoding" when the bytes
    are not that encoding, on "path" when the file is missing or not CSV."""
    if not path.exists():
        raise InvalidInput(f"file not found: {path}", f"文件不存在：{path}", field="path")
    with path.open("rb") as head:
        has_bom = head.read(3) == _BOM
    chosen = "utf-8-sig" if has_bom or encoding is None else _codec(encoding)
    try:
        return pd.read_csv(path, encoding=chosen, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not {chosen} text; pass the file's encoding (e.g. --encoding GBK)",
            f"{path.name} 不是 {chosen} 编码；请用 --encoding 指定编码（如 GBK）",
            field="encoding",
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(
            f"cannot read {path.name} as CSV: {exc}",
            f"无法按 CSV 读取 {path.name}：{exc}",
            field="path",
        ) from exc


def _codec(encoding: str) -> str:
    """The Python codec for an encoding name, GBK family widened to GB 18030."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InvalidInput(
            f"unknown encoding {encoding!r}", f"未知编码：{encoding}", field="encoding"
        ) from exc
    return _GB_SUPERSET.get(name, name)
