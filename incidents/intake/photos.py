"""Report photos: the real type sniffed from the bytes, size and pixel limits, a public copy
and a thumbnail re-encoded without any metadata, and the EXIF time and place kept for staff.

Accepted: JPEG (including the multi-picture JPEG many phones write), PNG and WebP, as
still images. Refused, with a message naming the field:
- HEIC/HEIF (and AVIF): Pillow cannot open HEIC without a plugin; the message says to
  send JPEG, which every phone can be set to.
- GIF: no camera takes photos as GIF; it is a 256-colour graphics and animation format.
- Animated PNG or WebP: a report photo is one still picture, and the public copy must
  show exactly what staff approved.
- Anything else (PDF, SVG, text...) and bytes that do not decode (truncated, damaged).

The caller must cap how much of the upload it reads (stop at `max_bytes + 1`); this
module refuses oversize bytes before decoding and oversize images from the header
before the pixels are decoded (a PNG of a few KB can declare 40 megapixels, 120 MB once
decoded), and at most MAX_CONCURRENT_DECODES photos are decoded at once in the process,
so memory stays bounded however many arrive together. Decoding is CPU work: call
`inspect_photo` from a worker thread (`run_in_threadpool`), not on the event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import math
import struct
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from PIL import ExifTags, Image, ImageCms

from core.clock import CHINA_TZ
from core.errors import InvalidInput, TooLarge

# 24 MP is a 6000x4000 phone photo; far more is a decompression bomb, not evidence.
MAX_PIXELS = 24_000_000
# Pillow's own guard (it raises at twice this, warns above it) as the last line behind
# the explicit header check below.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Photos decoded at once in this process: each may take ~3 bytes a pixel (72 MB at the
# limit) while it is decoded; later ones wait their turn in their worker thread.
MAX_CONCURRENT_DECODES = 2
_DECODES = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)
# The public copy is for web pages: long side at most this, which also bounds its size.
PUBLIC_MAX_SIDE = 2048
THUMBNAIL_MAX_SIDE = 320
THUMBNAIL_MEDIA_TYPE = "image/jpeg"

_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED_MEDIA_TYPES = tuple(_MEDIA_TYPES.values())
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {},
    "WEBP": {"quality": 85},
}
# ISO base media "ftyp" brands of HEIF containers (HEIC, AVIF and their sequences).
_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}
_REFUSALS = {
    "HEIF": (
        "HEIC/HEIF photos are not accepted; send the photo as JPEG "
        "(on an iPhone: Settings > Camera > Formats > Most Compatible)",
        "不支持 HEIC/HEIF 格式的照片，请以 JPEG 格式发送"
        "（iPhone：设置 > 相机 > 格式 > 兼容性最佳）",
    ),
    "GIF": (
        "GIF is not accepted; send the photo as JPEG, PNG or WebP",
        "不支持 GIF，请以 JPEG、PNG 或 WebP 格式发送照片",
    ),
    None: (
        "not a JPEG, PNG or WebP image",
        "不是 JPEG、PNG 或 WebP 格式的图片",
    ),
}
# What Pillow's plugins raise on malformed input (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)
# EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class GpsFix(NamedTuple):
    """Where the device says the photo was taken, in degrees (normally WGS 84, EPSG:4326)."""

    lon: float
    lat: float


@dataclasses.dataclass(frozen=True, slots=True)
class Photo:
    """An accepted photo: the original for staff, and metadata-free copies for everyone else.

    `width` and `height` are the original's, upright (EXIF orientation applied). `public` is
    in `media_type`, upright, at most PUBLIC_MAX_SIDE on its long side; `thumbnail` is a
    THUMBNAIL_MEDIA_TYPE at most THUMBNAIL_MAX_SIDE. `taken_at` and `gps` come from the
    original's EXIF: evidence for staff only, never shown publicly. `taken_at` is aware when
    the camera recorded its UTC offset, else naive in the camera's (unknown) local time.
    """

    media_type: str
    width: int
    height: int
    sha256: str
    original: bytes = dataclasses.field(repr=False)
    public: bytes = dataclasses.field(repr=False)
    thumbnail: bytes = dataclasses.field(repr=False)
    taken_at: datetime | None = None
    gps: GpsFix | None = None


def inspect_photo(
    data: bytes, *, field: str, max_bytes: int, max_pixels: int = MAX_PIXELS
) -> Photo:
    """Check an uploaded photo and build its public copies; refuse it naming `field`."""
    if len(data) > max_bytes:
        raise TooLarge(
            f"the photo is {_readable_size(len(data))}, over the limit of "
            f"{_readable_size(max_bytes)}",
            f"照片大小 {_readable_size(len(data))}，超过上限 {_readable_size(max_bytes)}",
            field=field,
        )
    kind = _sniff(data)
    if kind not in _MEDIA_TYPES:
        raise InvalidInput(*_REFUSALS[kind], field=field)
    try:
        # formats=: only the plugin the bytes were sniffed as may parse them.
        # Image.open reads the header only; no pixel is decoded before the check.
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            _check_header(image, field=field, max_pixels=max_pixels)
            orientation, taken_at, gps = _read_exif(image)
            width, height = image.size
            with _DECODES:
                upright = _render_upright(image, kind, orientation)
                public = _encode(upright, kind)
                thumbnail = _encode(_thumbnail(upright), "JPEG", quality=80)
                del upright  # freed before the next decode starts
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            "the image declares far too many pixels", "图片像素数量过大", field=field
        ) from exc
    except _DECODE_ERRORS as exc:
        raise InvalidInput(
            "the file cannot be read as an image (damaged or truncated?)",
            "无法读取该图片（文件可能已损坏或不完整）",
            field=field,
        ) from exc
    if orientation in (5, 6, 7, 8):  # a quarter turn
        width, height = height, width
    return Photo(
        media_type=_MEDIA_TYPES[kind],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        original=data,
        public=public,
        thumbnail=thumbnail,
        taken_at=taken_at,
        gps=gps,
    )


def _sniff(data: bytes) -> str | None:
    """The format the bytes start like: 'JPEG', 'PNG', 'WEBP', 'HEIF', 'GIF' or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def _check_header(image: Image.Image, *, field: str, max_pixels: int) -> None:
    """Refuse animations and images over `max_pixels`, from the header alone."""
    # A phone's multi-picture JPEG (MPO) holds the photo plus previews or a depth map.
    if getattr(image, "n_frames", 1) > 1 and image.format != "MPO":
        raise InvalidInput(
            "animated images are not accepted; send a still photo",
            "不支持动图，请发送静态照片",
            field=field,
        )
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidInput(
            f"the image is {width}×{height} pixels, over the limit of {max_pixels:,} pixels",
            f"图片为 {width}×{height} 像素，超过上限 {max_pixels:,} 像素",
            field=field,
        )


def _read_exif(image: Image.Image) -> tuple[int, datetime | None, GpsFix | None]:
    """Orientation (1 = upright), time taken and GPS fix; bad EXIF just means unknown."""
    try:
        exif = image.getexif()
        orientation = exif.get(ExifTags.Base.Orientation, 1)
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps_tags = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except _DECODE_ERRORS:
        return 1, None, None
    if orientation not in _UPRIGHT:
        orientation = 1
    if ExifTags.Base.DateTimeOriginal in details:
        taken_at = _exif_time(
            details[ExifTags.Base.DateTimeOriginal], details.get(ExifTags.Base.OffsetTimeOriginal)
        )
    else:
        taken_at = _exif_time(
            exif.get(ExifTags.Base.DateTime), details.get(ExifTags.Base.OffsetTime)
        )
    return orientation, taken_at, _gps_fix(gps_tags)


_EARLIEST_PHOTO = datetime(1990, 1, 1, tzinfo=UTC)


def _exif_time(stamp: object, offset: object) -> datetime | None:
    """Parse EXIF's 'YYYY:MM:DD HH:MM:SS' in its '+08:00' offset, or China time when it
    has none; None when missing, garbled or implausible."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.strptime(stamp.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # blank ("    :  :     :  :  ") or garbled
        return None
    zone = CHINA_TZ  # no offset recorded: a phone's clock here runs on China time
    if isinstance(offset, str):
        with contextlib.suppress(ValueError):  # a garbled offset: keep China time
            zone = datetime.strptime(offset.strip("\x00 "), "%z").tzinfo or CHINA_TZ
    moment = moment.replace(tzinfo=zone)
    # A camera clock never set (0001-01-01) or far in the future is no evidence.
    if not _EARLIEST_PHOTO <= moment <= datetime.now(UTC) + timedelta(days=1):
        return None
    return moment


def _gps_fix(tags: dict[int, Any]) -> GpsFix | None:
    """The GPS IFD's position, or None when absent, malformed or the 0,0 of 'no fix'."""
    try:
        lat = _degrees(tags[ExifTags.GPS.GPSLatitude], tags.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(tags[ExifTags.GPS.GPSLongitude], tags.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0 and lon == 0:
        return None
    return GpsFix(lon=lon, lat=lat)


def _degrees(dms: Any, ref: object, negative_ref: str) -> float:
    """Degrees, minutes, seconds (rationals) and an N/S or E/W reference -> signed degrees."""
    degrees, minutes, seconds = (float(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip("\x00 ").upper() == negative_ref else value


def _render_upright(image: Image.Image, kind: str, orientation: int) -> Image.Image:
    """The public pixels: sRGB, at most PUBLIC_MAX_SIDE, upright, with no metadata at all."""
    if kind == "JPEG":
        # Let libjpeg decode at 1/2..1/8 scale when the photo is far larger than needed.
        image.draft(None, (PUBLIC_MAX_SIDE, PUBLIC_MAX_SIDE))
    image.load()
    keep_alpha = kind != "JPEG" and image.has_transparency_data
    mode = "RGBA" if keep_alpha else "RGB"
    # Already in the mode: work on the decoded pixels, not a second full-size copy.
    pixels = image if image.mode == mode else image.convert(mode)
    pixels = _to_srgb(pixels, image.info.get("icc_profile"))
    pixels.thumbnail((PUBLIC_MAX_SIDE, PUBLIC_MAX_SIDE))
    if orientation in _UPRIGHT:
        pixels = pixels.transpose(_UPRIGHT[orientation])
    # Encoders fall back to info for the ICC profile, comments and more: start empty.
    pixels.info = {}
    return pixels


def _to_srgb(pixels: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert RGB pixels from their embedded profile (say Display P3) to sRGB, so the
    public copy keeps its colours once the profile is dropped."""
    if not icc_profile:
        return pixels
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if source.profile.xcolor_space != "RGB ":
            return pixels
        return ImageCms.profileToProfile(pixels, source, _srgb(), outputMode=pixels.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return pixels  # an unusable profile: keep the pixels as they are


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _thumbnail(upright: Image.Image) -> Image.Image:
    """A small RGB copy for lists and map pop-ups; transparency becomes white."""
    small = upright.copy()
    small.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    if small.mode == "RGBA":
        flat = Image.new("RGB", small.size, "white")
        flat.paste(small, mask=small.getchannel("A"))
        small = flat
    small.info = {}
    return small


def _encode(pixels: Image.Image, kind: str, **options: Any) -> bytes:
    """Encode with no metadata: nothing is passed but quality options."""
    out = io.BytesIO()
    pixels.save(out, format=kind, **(_SAVE_OPTIONS[kind] | options))
    return out.getvalue()


def _readable_size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
