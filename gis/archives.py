"""Zipped datasets (a Shapefile travels as a zip of its parts): unpacked to a local
directory refusing escapes and bombs, so that `gis.vector_io.read_vector` reads a plain
local file and GDAL never opens anything through /vsizip/."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from core.errors import InvalidInput, TooLarge

DATASET_SUFFIXES = (".gpkg", ".geojson", ".json", ".csv", ".shp")


def unzip_dataset(
    archive: Path,
    into: Path,
    max_bytes: int,
    field: str,
    suffixes: tuple[str, ...] = DATASET_SUFFIXES,
) -> Path:
    """Extract a zip into `into` (which must not exist) refusing escapes and bombs;
    return its one dataset (a file with one of `suffixes`)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > max_bytes:
                raise TooLarge(
                    "the zip expands beyond the size limit", "压缩包解压后超过大小限制", field=field
                )
            for member in members:
                path = PurePosixPath(member.filename)
                if path.is_absolute() or ".." in path.parts or "\\" in member.filename:
                    raise InvalidInput(
                        f"unsafe path in zip: {member.filename}",
                        f"压缩包内路径不安全：{member.filename}",
                        field=field,
                    )
            into.mkdir()
            zipped.extractall(into, members)
    # Encrypted members (RuntimeError), unknown compression (NotImplementedError), names
    # the file system refuses (OSError): all the sender's file, never a server fault.
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
        raise InvalidInput(f"not a readable zip: {exc}", "无法读取 zip 文件", field=field) from exc
    datasets = sorted(
        p for p in into.rglob("*") if p.suffix.lower() in suffixes and not p.name.startswith("._")
    )  # macOS resource forks
    if len(datasets) != 1:
        found = ", ".join(p.name for p in datasets) or "none"
        raise InvalidInput(
            f"the zip must hold exactly one dataset (found: {found})",
            f"压缩包内应恰有一个数据文件（找到：{found}）",
            field=field,
        )
    return datasets[0]
