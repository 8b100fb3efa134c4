"""Report photos: type sniffed from the bytes, limits refused naming the field, public copy
and thumbnail free of metadata and upright, EXIF time and place kept for staff."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from core.clock import CHINA_TZ
from core.errors import InvalidInput, TooLarge
from incidents.intake.photos import (
    PUBLIC_MAX_SIDE,
    THUMBNAIL_MAX_SIDE,
    GpsFix,
    inspect_photo,
)

FIELD = "photos[1]"
MB = 2**20
SECRET_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp-location</x:xmpmeta>'


def _inspect(data: bytes, **limits):
    limits.setdefault("max_bytes", 10 * MB)
    return inspect_photo(data, field=FIELD, **limits)


def _encode(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def _two_tone(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue: shows where the pixels went after a rotation."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image


def _camera_exif(orientation: int = 6) -> Image.Exif:
    """What a phone writes: orientation, time taken with its offset, and a GPS fix."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.Exif] = {
        ExifTags.Base.DateTimeOriginal: "2024:05:01 14:30:00",
        ExifTags.Base.OffsetTimeOriginal: "+08:00",
    }
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (116.0, 23.0, 30.0),
    }
    return exif


def _phone_jpeg(orientation: int = 6, *, with_icc: bool = False) -> bytes:
    """A 40×20 sensor image with EXIF (orientation, time, GPS), XMP, a comment, maybe an ICC."""
    options = {"exif": _camera_exif(orientation), "xmp": SECRET_XMP, "comment": b"secret-comment"}
    if with_icc:
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _encode(_two_tone(), "JPEG", **options)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes claiming width×height RGB pixels: refused before any decoding."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


def _assert_no_metadata(data: bytes) -> Image.Image:
    reopened = Image.open(io.BytesIO(data))
    assert dict(reopened.getexif()) == {}
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"):
        assert key not in reopened.info
    for secret in (b"Exif\x00\x00", b"secret", b"PhoneMaker", b"xmpmeta"):
        assert secret not in data
    return reopened


def _refusal(data: bytes, error=InvalidInput, **limits) -> InvalidInput | TooLarge:
    with pytest.raises(error) as caught:
        _inspect(data, **limits)
    assert caught.value.field == FIELD
    return caught.value


# --- accepted photos ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_media_type_is_sniffed_from_the_bytes(kind, media_type):
    data = _encode(_two_tone(), kind)
    photo = _inspect(data)
    assert photo.media_type == media_type
    assert Image.open(io.BytesIO(photo.public)).format == kind
    assert (photo.width, photo.height) == (40, 20)
    assert photo.original == data
    assert photo.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("with_icc", [False, True], ids=["plain", "icc-profile"])
def test_public_copy_and_thumbnail_of_a_phone_jpeg_have_no_metadata(with_icc):
    photo = _inspect(_phone_jpeg(with_icc=with_icc))
    assert b"secret-xmp-location" in photo.original  # staff keep the evidence
    _assert_no_metadata(photo.public)
    thumbnail = _assert_no_metadata(photo.thumbnail)
    assert thumbnail.format == "JPEG"


def test_orientation_6_is_applied_to_the_pixels():
    photo = _inspect(_phone_jpeg(orientation=6))
    assert (photo.width, photo.height) == (20, 40)
    public = Image.open(io.BytesIO(photo.public)).convert("RGB")
    assert public.size == (20, 40)
    # Orientation 6 means "turn 90° clockwise to view": the sensor's left half is the top.
    top, bottom = public.getpixel((10, 5)), public.getpixel((10, 34))
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50
    assert Image.open(io.BytesIO(photo.thumbnail)).size == (20, 40)


def test_upright_photo_keeps_its_shape():
    photo = _inspect(_phone_jpeg(orientation=1))
    assert (photo.width, photo.height) == (40, 20)
    assert Image.open(io.BytesIO(photo.public)).size == (40, 20)


def test_time_taken_and_gps_are_read_from_the_original():
    photo = _inspect(_phone_jpeg())
    assert photo.taken_at == datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=8)))
    assert photo.gps == pytest.approx(
        GpsFix(lon=116 + 23 / 60 + 30 / 3600, lat=39 + 54 / 60 + 27 / 3600)
    )
    assert "original" not in repr(photo)  # bytes stay out of logs


def test_southern_and_western_gps_is_negative_and_time_without_offset_is_china_time():
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2023:12:31 23:59:58"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S",
        ExifTags.GPS.GPSLatitude: (33.0, 52.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (70.0, 30.0, 0.0),
    }
    photo = _inspect(_encode(_two_tone(), "JPEG", exif=exif))
    assert photo.taken_at == datetime(2023, 12, 31, 23, 59, 58, tzinfo=CHINA_TZ)
    assert photo.gps == pytest.approx(GpsFix(lon=-70.5, lat=-(33 + 52 / 60)))


def test_photo_without_exif_has_no_time_or_place():
    photo = _inspect(_encode(_two_tone(), "JPEG"))
    assert photo.taken_at is None
    assert photo.gps is None


def test_garbled_exif_does_not_refuse_the_photo():
    photo = _inspect(_encode(_two_tone(), "JPEG", exif=b"Exif\x00\x00not-a-tiff-header"))
    assert (photo.taken_at, photo.gps) == (None, None)
    _assert_no_metadata(photo.public)


def test_zero_zero_gps_means_no_fix():
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (0.0, 0.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (0.0, 0.0, 0.0),
    }
    assert _inspect(_encode(_two_tone(), "JPEG", exif=exif)).gps is None


def test_png_text_xmp_and_exif_are_stripped_and_transparency_kept():
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret-comment")
    text.add_itxt("XML:com.adobe.xmp", SECRET_XMP.decode())
    image = Image.new("RGBA", (30, 30), (0, 128, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 15, 30))
    photo = _inspect(_encode(image, "PNG", pnginfo=text, exif=_camera_exif()))
    assert photo.gps is not None
    public = _assert_no_metadata(photo.public)
    assert public.mode == "RGBA"
    # Orientation 6 turned the transparent right half to the bottom.
    assert public.getpixel((15, 5))[3] == 255
    assert public.getpixel((15, 25))[3] == 0
    thumbnail = _assert_no_metadata(photo.thumbnail)
    assert thumbnail.mode == "RGB"
    assert thumbnail.getpixel((15, 25)) == pytest.approx((255, 255, 255), abs=3)


def test_webp_exif_and_xmp_are_stripped():
    data = _encode(_two_tone(), "WEBP", exif=_camera_exif(), xmp=SECRET_XMP)
    photo = _inspect(data)
    assert photo.media_type == "image/webp"
    assert photo.gps is not None
    assert (photo.width, photo.height) == (20, 40)
    _assert_no_metadata(photo.public)
    _assert_no_metadata(photo.thumbnail)


def test_phone_multi_picture_jpeg_is_accepted_as_jpeg():
    data = _encode(_two_tone(), "MPO", save_all=True, append_images=[Image.new("RGB", (8, 4))])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = _inspect(data)
    assert photo.media_type == "image/jpeg"
    assert Image.open(io.BytesIO(photo.public)).format == "JPEG"


def test_large_photo_is_scaled_down_for_the_public_copy_and_thumbnail():
    photo = _inspect(_encode(Image.new("RGB", (4400, 4200), "gray"), "JPEG"))
    assert (photo.width, photo.height) == (4400, 4200)
    public = Image.open(io.BytesIO(photo.public))
    assert max(public.size) == PUBLIC_MAX_SIDE
    assert public.size[0] > public.size[1]
    assert max(Image.open(io.BytesIO(photo.thumbnail)).size) == THUMBNAIL_MAX_SIDE


# --- refused photos -------------------------------------------------------------------


def test_oversize_photo_is_refused_with_413_naming_the_field():
    data = _encode(_two_tone(), "JPEG")
    error = _refusal(data, TooLarge, max_bytes=len(data) - 1)
    assert error.status == 413
    assert _inspect(data, max_bytes=len(data)).media_type == "image/jpeg"


def _truncated(kind: str) -> bytes:
    noise = random.Random(7).randbytes(64 * 64 * 3)
    data = _encode(Image.frombytes("RGB", (64, 64), noise), kind)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "not a JPEG, PNG or WebP"),
        (b"just some text, named photo.jpg", "not a JPEG, PNG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not a JPEG"),
        (b"", "not a JPEG"),
        (b"\xff\xd8\xff\xe0 nothing like a JPEG after the marker", "cannot be read"),
        (_truncated("JPEG"), "cannot be read"),
        (_truncated("PNG"), "cannot be read"),
        (_truncated("WEBP"), "cannot be read"),
        (_encode(_two_tone(), "GIF"), "GIF is not accepted"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "send the photo as JPEG"),
    ],
    ids=[
        "pdf",
        "text",
        "svg",
        "empty",
        "jpeg-marker-only",
        "truncated-jpeg",
        "truncated-png",
        "truncated-webp",
        "gif",
        "heic",
    ],
)
def test_non_photo_bytes_are_refused_with_422_naming_the_field(data, says):
    error = _refusal(data)
    assert error.status == 422
    assert says in error.message_en


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_animated_image_is_refused(kind):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    data = _encode(frames[0], kind, save_all=True, append_images=frames[1:])
    assert "animated" in _refusal(data).message_en


def test_image_over_the_pixel_limit_is_refused_from_its_header():
    # 8000×6000 declared with no pixel data at all: refused before decoding is tried.
    error = _refusal(_png_declaring(8000, 6000))
    assert "8000×6000 pixels" in error.message_en
    assert "over the limit" in _refusal(_encode(_two_tone(), "JPEG"), max_pixels=799).message_en


def test_decompression_bomb_is_refused():
    error = _refusal(_png_declaring(100_000, 100_000), max_pixels=10**12)
    assert error.status == 422
    assert "too many pixels" in error.message_en


@pytest.mark.parametrize(
    "stamp", ["0001:01:01 00:00:00", "9999:12:31 23:59:59", "1970:01:01 00:00:00"]
)
def test_an_unset_or_impossible_camera_clock_is_no_time_at_all(stamp):
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = stamp
    assert _inspect(_encode(_two_tone(), "JPEG", exif=exif)).taken_at is None
