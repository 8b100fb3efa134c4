"""Uploaded import files: streamed to a temporary directory with a size cap, zips
unpacked safely, and the one dataset inside found."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from fastapi import UploadFile

from gis.errors import InvalidInput, TooLarge

DATASET_SUFFIXES = (".gpkg", ".geojson", ".json", ".csv", ".shp")
UPLOAD_SUFFIXES = (*DATASET_SUFFIXES[:-1], ".zip")
_CHUNK = 1 << 20
# A zip may not expand to more than this many times the size limit (zip bombs).
_MAX_EXPANSION = 4


async def save_upload(upload: UploadFile, directory: Path, max_bytes: int, field: str) -> Path:
    """Write the upload under `directory` and return the dataset to read: the file itself,
    or the single dataset inside a zip (a Shapefile travels as a zip of its parts)."""
    name = PurePosixPath(upload.filename or "").name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidInput(
            f"{name or 'the file'} is not one of {', '.join(UPLOAD_SUFFIXES)}; "
            "send a Shapefile as a .zip of its .shp, .shx, .dbf, .prj (and .cpg)",
            f"不支持的文件类型：{name}（Shapefile 请打包为 zip）", field=field,
        )
    target = directory / f"upload{suffix}"
    written = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise TooLarge(f"{field} is larger than {max_bytes // 2**20} MB",
                               f"文件超过 {max_bytes // 2**20} MB", field=field)
            out.write(chunk)
    if suffix != ".zip":
        return target
    return _unzip_dataset(target, directory / "unzipped", max_bytes * _MAX_EXPANSION, field)


def _unzip_dataset(archive: Path, into: Path, max_bytes: int, field: str) -> Path:
    """Extract a zip refusing escapes and bombs; return its one dataset."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > max_bytes:
                raise TooLarge("the zip expands beyond the size limit",
                               "压缩包解压后超过大小限制", field=field)
            for member in members:
                path = PurePosixPath(member.filename)
                if path.is_absolute() or ".." in path.parts or "\\" in member.filename:
                    raise InvalidInput(f"unsafe path in zip: {member.filename}",
                                       f"压缩包内路径不安全：{member.filename}", field=field)
            into.mkdir()
            zipped.extractall(into, members)
    # Encrypted members (RuntimeError), unknown compression (NotImplementedError), names
    # the file system refuses (OSError): all the sender's file, never a server fault.
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
        raise InvalidInput(f"not a readable zip: {exc}", "无法读取 zip 文件", field=field) from exc
    datasets = sorted(p for p in into.rglob("*") if p.suffix.lower() in DATASET_SUFFIXES
                      and not p.name.startswith("._"))  # macOS resource forks
    if len(datasets) != 1:
        found = ", ".join(p.name for p in datasets) or "none"
        raise InvalidInput(f"the zip must hold exactly one dataset (found: {found})",
                           f"压缩包内应恰有一个数据文件（找到：{found}）", field=field)
    return datasets[0]
