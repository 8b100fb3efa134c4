"""SDF glyph ranges for the map's labels, built from a font Debian installs (fonts-noto-cjk),
so Chinese and Latin names are drawn with no font server on the internet.

A range is what MapLibre asks for at `{fontstack}/{start}-{end}.pbf`: the glyphs of 256
code points, each a signed distance field of the glyph drawn at 24 px with a 3 px buffer,
in the protobuf layout of Mapbox's glyphs.proto (the one fontnik writes). Pillow draws each
glyph; the distance field is the one MapLibre's TinySDF computes for local glyphs (radius
8, cutoff 0.25), so server glyphs and locally drawn ideographs look alike side by side.

`scripts/setup` builds the ranges ahead (`python -m maps.glyphs`) into `build/glyphs`; a
range not built there is built on first request and kept in memory.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
GLYPH_DIR = Path(__file__).resolve().parent.parent / "build" / "glyphs"
SIZE = 24
BUFFER = 3
RADIUS = 8
CUTOFF = 0.25
# Server glyphs' `top` is measured from an origin above the em box, not the baseline;
# MapLibre aligns its local glyphs with 27.5 (glyph_manager.ts), so we take the same.
TOP_ADJUSTMENT = 27
LAST_RANGE_START = 0xFFFF - 255  # the Basic Multilingual Plane; above it, empty ranges
# A private-use code point no font here draws: what a missing glyph looks like.
_MISSING = "\ue000"


@dataclass(frozen=True)
class FontFace:
    """A font stack name as the style spells it, and the face that draws it."""

    name: str
    file: str
    index: int  # the face in a TrueType collection: 2 is Simplified Chinese


FONTS = {
    face.name: face
    for face in (
        FontFace("Noto Sans CJK SC Regular", "NotoSansCJK-Regular.ttc", 2),
        FontFace("Noto Sans CJK SC Bold", "NotoSansCJK-Bold.ttc", 2),
    )
}
REGULAR = "Noto Sans CJK SC Regular"
BOLD = "Noto Sans CJK SC Bold"


def face_for(fontstack: str) -> FontFace | None:
    """The first font of a comma-separated stack that gridgov has, else None."""
    for name in fontstack.split(","):
        face = FONTS.get(name.strip())
        if face is not None:
            return face
    return None


def fonts_installed() -> bool:
    """Whether the glyphs' fonts are on this machine."""
    return all((FONT_DIR / face.file).is_file() for face in FONTS.values())


# --- protobuf, by hand: three small messages, so no generated code -----------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


@dataclass(frozen=True)
class Glyph:
    """One glyph: its code point, distance field and metrics in pixels at 24 px."""

    id: int
    bitmap: bytes
    width: int
    height: int
    left: int
    top: int
    advance: int

    def encode(self) -> bytes:
        """The glyph message (glyphs.proto: id 1, bitmap 2, width 3 ... advance 7)."""
        out = _field_varint(1, self.id)
        if self.bitmap:
            out += _field_bytes(2, self.bitmap)
        return (
            out
            + _field_varint(3, self.width)
            + _field_varint(4, self.height)
            + _field_varint(5, _zigzag(self.left))
            + _field_varint(6, _zigzag(self.top))
            + _field_varint(7, self.advance)
        )


def encode_range(stack: str, start: int, glyphs: list[Glyph]) -> bytes:
    """A glyphs message holding one font stack's range."""
    body = _field_bytes(1, stack.encode()) + _field_bytes(2, f"{start}-{start + 255}".encode())
    for glyph in glyphs:
        body += _field_bytes(3, glyph.encode())
    return _field_bytes(1, body)


# --- drawing ------------------------------------------------------------------------


def _squared_distances(seed: np.ndarray) -> np.ndarray:
    """The exact squared distance transform of a sampled function (inf: no seed), one
    axis after the other (the transform is separable): each step a minimum over a small
    (side x side x side) array, which for a 30 px glyph is a few tens of thousands."""
    h, w = seed.shape
    rows, cols = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    dy = (rows[:, None] - rows[None, :]) ** 2
    down = (dy[:, :, None] + seed[None, :, :]).min(axis=1)
    dx = (cols[:, None] - cols[None, :]) ** 2
    return (down[:, None, :] + dx[None, :, :]).min(axis=2)


def _distance_field(alpha: np.ndarray) -> bytes:
    """TinySDF's field of an antialiased mask (0..1): distances to the edge from outside
    and from inside, seeded with the sub-pixel edge of grey pixels."""
    a = alpha.astype(np.float32)
    outer = np.where(a >= 1, 0, np.where(a <= 0, np.inf, np.maximum(0, 0.5 - a) ** 2))
    inner = np.where(a <= 0, 0, np.where(a >= 1, np.inf, np.maximum(0, a - 0.5) ** 2))
    distance = np.sqrt(_squared_distances(outer.astype(np.float32))) - np.sqrt(
        _squared_distances(inner.astype(np.float32))
    )
    value = np.round(255 - 255 * (distance / RADIUS + CUTOFF))
    return np.clip(value, 0, 255).astype(np.uint8).tobytes()


@functools.lru_cache(maxsize=4)
def _font(face: FontFace) -> ImageFont.FreeTypeFont:
    # One glyph at a time, unshaped: what a glyph range holds.
    return ImageFont.truetype(
        str(FONT_DIR / face.file), SIZE, index=face.index, layout_engine=ImageFont.Layout.BASIC
    )


def _mask(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int, int, int], bytes]:
    bbox = font.getbbox(char, anchor="ls")
    return bbox, bytes(font.getmask(char, mode="L"))


def draw_glyph(face: FontFace, code: int) -> Glyph | None:
    """The glyph of one code point, or None when the font has none."""
    font = _font(face)
    char = chr(code)
    if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF:
        return None
    bbox, mask = _mask(font, char)
    if (bbox, mask) == _mask(font, _MISSING) and char != _MISSING:
        return None
    advance = round(font.getlength(char))
    x0, y0, x1, y1 = bbox
    width, height = max(0, x1 - x0), max(0, y1 - y0)
    if width == 0 or height == 0:  # a space: metrics only
        return Glyph(code, b"", 0, 0, 0, -TOP_ADJUSTMENT, advance)
    image = Image.new("L", (width + 2 * BUFFER, height + 2 * BUFFER), 0)
    ImageDraw.Draw(image).text((BUFFER - x0, BUFFER - y0), char, font=font, fill=255, anchor="ls")
    alpha = np.asarray(image, dtype=np.float64) / 255.0
    return Glyph(code, _distance_field(alpha), width, height, x0, -y0 - TOP_ADJUSTMENT, advance)


def build_range(face: FontFace, start: int) -> bytes:
    """The encoded range of 256 code points from `start` (a multiple of 256)."""
    glyphs: list[Glyph] = []
    if start <= LAST_RANGE_START:
        for code in range(start, start + 256):
            glyph = draw_glyph(face, code)
            if glyph is not None:
                glyphs.append(glyph)
    return encode_range(face.name, start, glyphs)


def range_path(face: FontFace, start: int, root: Path = GLYPH_DIR) -> Path:
    """Where the set-up keeps a built range."""
    return root / face.name / f"{start}-{start + 255}.pbf"


@functools.lru_cache(maxsize=128)
def glyph_range(face: FontFace, start: int) -> bytes:
    """A range: the one built at set-up, else built now (and kept in memory)."""
    try:
        return range_path(face, start).read_bytes()
    except OSError:
        return build_range(face, start)


# Built ahead at set-up: Latin, punctuation, CJK symbols and full-width forms (the
# ideographs are drawn by the browser through MapLibre's localIdeographFontFamily, and
# built here on first request for a client that turns that off).
SETUP_RANGES = (0, 256, 8192, 8448, 12288, 65280)


def build_all(root: Path = GLYPH_DIR, starts: tuple[int, ...] = SETUP_RANGES) -> int:
    """Write the set-up's ranges of every font; the number written."""
    written = 0
    for face in FONTS.values():
        for start in starts:
            path = range_path(face, start, root)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(build_range(face, start))
            written += 1
    return written


if __name__ == "__main__":
    if not fonts_installed():
        sys.exit(f"glyphs: the Noto Sans CJK fonts are not in {FONT_DIR} (fonts-noto-cjk)")
    print(f"glyphs: {build_all()} ranges written to {GLYPH_DIR}")
