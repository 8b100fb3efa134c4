"""Photo decompression bombs (issue 15, item 7): a PNG of a few hundred KB declaring ~40
megapixels (120 MB decoded) is refused from its header, before any pixel is decoded,
naming photos[i]; and however many photos arrive at once, only a bounded number are
decoded at the same time."""

from __future__ import annotations

import io
import struct
import threading
import time
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageFile

from core.errors import InvalidInput
from incidents.intake import photos
from incidents.intake.photos import MAX_CONCURRENT_DECODES, MAX_PIXELS, inspect_photo
from tests.factories import make_world, metres_point

MB = 2**20


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _bomb_png(width: int = 7680, height: int = 5170) -> bytes:
    """A valid, all-black RGB PNG of width×height (39.7 MP as in the attack), compressed
    to about a thousandth of its decoded size."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb_png()


def test_a_40_megapixel_png_is_refused_from_its_header_without_decoding(bomb, monkeypatch):
    assert len(bomb) < 300 * 1024  # small on the wire...
    assert Image.open(io.BytesIO(bomb)).size == (7680, 5170)  # ...39.7 MP declared

    def never(*_args, **_kwargs):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    monkeypatch.setattr(Image.Image, "load", never)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InvalidInput) as refused:
            inspect_photo(bomb, field="photos[3]", max_bytes=10 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.field == "photos[3]"
    assert "over the limit of 24,000,000 pixels" in refused.value.message_en
    assert "7680×5170" in refused.value.message_en
    # The decoded image would be 119 MB; the refusal costs the compressed bytes at most.
    assert peak < 2 * MB
    assert time.perf_counter() - started < 0.5


def test_the_limit_is_24_megapixels_and_pillows_own_guard_agrees():
    assert MAX_PIXELS == 24_000_000
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


async def test_the_api_refuses_the_bomb_naming_the_photo(client, db, bomb):
    await make_world(db)
    lon, lat = metres_point(250, 250)
    small = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(small, format="PNG")
    files = [("photos", ("ok.png", small.getvalue(), "image/png"))] + [
        ("photos", (f"b{n}.png", bomb, "image/png")) for n in range(5)
    ]
    answer = await client.post(
        "/reports",
        files=files,
        data={"category": "fire.blocked_exit", "lon": str(lon), "lat": str(lat)},
    )
    assert answer.status_code == 422, answer.text
    fields = answer.json()["error"]["fields"]
    assert fields[0]["field"] == "photos[1]" and "pixels" in fields[0]["reason"]


async def test_the_api_limit_comes_from_the_settings(db, settings):
    from httpx import ASGITransport, AsyncClient

    from tests.factories import app_on_session

    await make_world(db)
    app = app_on_session(settings.model_copy(update={"max_photo_megapixels": 1}), db)
    image = io.BytesIO()
    Image.new("RGB", (1200, 1000)).save(image, format="PNG")  # 1.2 MP
    lon, lat = metres_point(250, 250)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.post(
            "/reports",
            data={"category": "fire.blocked_exit", "lon": str(lon), "lat": str(lat)},
            files=[("photos", ("big.png", image.getvalue(), "image/png"))],
        )
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"][0]["field"] == "photos[0]"


def test_only_a_bounded_number_of_photos_decode_at_once(monkeypatch):
    image = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(image, format="JPEG")
    data = image.getvalue()
    lock, running, most = threading.Lock(), [0], [0]
    real_render = photos._render_upright

    def counted_render(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the others to pile up
            return real_render(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(photos, "_render_upright", counted_render)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda n: inspect_photo(data, field=f"photos[{n}]", max_bytes=10 * MB), range(8)
            )
        )
    assert len(results) == 8 and all(r.width == 800 for r in results)
    assert most[0] == MAX_CONCURRENT_DECODES
