"""Uploaded import files: streamed to a temporary directory with a size cap, zips
unpacked safely, and the one dataset inside found."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastapi import UploadFile

from core.errors import InvalidInput, TooLarge
from gis.archives import DATASET_SUFFIXES, unzip_dataset

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
            f"不支持的文件类型：{name}（Shapefile 请打包为 zip）",
            field=field,
        )
    target = directory / f"upload{suffix}"
    written = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise TooLarge(
                    f"{field} is larger than {max_bytes // 2**20} MB",
                    f"文件超过 {max_bytes // 2**20} MB",
                    field=field,
                )
            out.write(chunk)
    if suffix != ".zip":
        return target
    return unzip_dataset(target, directory / "unzipped", max_bytes * _MAX_EXPANSION, field)
