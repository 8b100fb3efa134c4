"""The demo city's outline and named road network (in metres): a wiggly grid, two
diagonal avenues and a ring road, with Chinese road names."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from demo.city_geometry import CRS_LONLAT, HALF_HEIGHT, HALF_WIDTH, to_lonlat

ROAD_HALF_WIDTH = 10.0  # buildings keep this far from a cell's edge (the road)
ROAD_STEMS = (
    "人民",
    "建设",
    "中山",
    "解放",
    "和平",
    "东风",
    "新华",
    "胜利",
    "友谊",
    "光明",
    "长江",
    "黄河",
    "珠江",
    "天河",
    "体育",
    "花城",
    "五羊",
    "文明",
    "民主",
    "环市",
    "科技",
    "创新",
    "学府",
    "迎宾",
    "滨江",
    "沿江",
    "华夏",
    "金穗",
    "兴华",
    "东湖",
    "青年",
    "工业",
    "先烈",
    "广园",
    "白云",
    "龙口",
    "振兴",
    "繁荣",
    "幸福",
    "团结",
    "复兴",
    "富强",
    "康乐",
    "南华",
    "长安",
    "春风",
    "翠湖",
    "银河",
    "凤凰",
    "云景",
    "锦绣",
    "百花",
    "桂花",
    "木棉",
    "紫荆",
    "梧桐",
    "朝阳",
    "海印",
    "晓港",
    "江南",
    "北秀",
    "福田",
    "黄埔",
    "沙面",
    "芳村",
    "石溪",
)


@dataclass(frozen=True)
class Road:
    """A named road in metres; `along`/`offset` describe it as offset = f(along)."""

    name: str
    kind: str  # "vertical", "horizontal", "diagonal" or "ring"
    line: LineString
    start: float  # where the road enters the city: house numbers count from here
    along: np.ndarray | None = None
    offset: np.ndarray | None = None


def city_outline(rng: np.random.Generator, cx: float, cy: float) -> Polygon:
    """An irregular, rounded city outline: a superellipse with a few random harmonics."""
    theta = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    exponent = 3.0
    radius = (
        np.abs(np.cos(theta) / HALF_WIDTH) ** exponent
        + np.abs(np.sin(theta) / HALF_HEIGHT) ** exponent
    ) ** (-1 / exponent)
    wobble = np.ones_like(theta)
    for k in range(2, 7):
        wobble += rng.uniform(0.01, 0.045) * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    ring = np.column_stack(
        [cx + radius * wobble * np.cos(theta), cy + radius * wobble * np.sin(theta)]
    )
    # Opening then closing rounds off notches and spikes the harmonics may leave.
    shape = Polygon(ring).buffer(-300, quad_segs=6).buffer(300, quad_segs=6)
    return shapely.simplify(shape, 2.0)


def _positions(rng: np.random.Generator, low: float, high: float) -> list[float]:
    """Road offsets across [low, high], a block (370-540 m) apart."""
    out, pos = [], low + rng.uniform(250, 450)
    while pos < high - 250:
        out.append(pos)
        pos += rng.uniform(370, 540)
    return out


def _wiggle(rng: np.random.Generator, along: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Add a gentle sine bend and smoothed jitter, so roads are not ruler-straight."""
    amplitude, wavelength = rng.uniform(15, 60), rng.uniform(2500, 6500)
    phase = rng.uniform(0, 2 * np.pi)
    jitter = np.convolve(rng.normal(0, 7, along.size), np.ones(3) / 3, mode="same")
    return base + amplitude * np.sin(2 * np.pi * along / wavelength + phase) + jitter


def _road_names(rng: np.random.Generator, kinds: list[str]) -> list[str]:
    """Unique Chinese road names; avenues and ring roads get their own suffixes."""
    stems = list(rng.permutation(ROAD_STEMS))
    if len(stems) < len(kinds):
        raise ValueError(f"{len(kinds)} roads but only {len(stems)} road names")
    names = []
    for i, (stem, kind) in enumerate(zip(stems, kinds, strict=False)):
        if kind == "diagonal":
            suffix = "大道"
        elif kind == "ring":
            suffix = "环路"
        else:
            suffix = ("大道", "路", "路", "街", "路")[i % 5]
        names.append(f"{stem}{suffix}")
    return names


# kind, vertices, and for grid roads the along/offset arrays (see Road)
_RoadSpec = tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None]


def _grid_roads(rng: np.random.Generator, bounds: tuple[float, ...]) -> list[_RoadSpec]:
    """Wiggly north-south ("vertical") and east-west ("horizontal") roads, running 300 m
    past the outline so they cross it cleanly."""
    minx, miny, maxx, maxy = bounds
    pad = 300.0
    ys = np.arange(miny - pad, maxy + pad + 1, 100.0)
    xs = np.arange(minx - pad, maxx + pad + 1, 100.0)
    specs: list[_RoadSpec] = []
    for x0 in _positions(rng, minx, maxx):
        off = _wiggle(rng, ys, np.full(ys.size, x0))
        specs.append(("vertical", np.column_stack([off, ys]), ys, off))
    for y0 in _positions(rng, miny, maxy):
        off = _wiggle(rng, xs, np.full(xs.size, y0))
        specs.append(("horizontal", np.column_stack([xs, off]), xs, off))
    return specs


def _diagonal_roads(rng: np.random.Generator, bounds: tuple[float, ...]) -> list[_RoadSpec]:
    """Two avenues across the grid, bent a little across their direction."""
    minx, miny, maxx, maxy = bounds
    w, h = maxx - minx, maxy - miny
    specs: list[_RoadSpec] = []
    for (x1, y1), (x2, y2) in (
        ((minx, miny + 0.2 * h), (maxx, maxy - 0.1 * h)),
        ((minx + 0.15 * w, maxy), (maxx - 0.35 * w, miny)),
    ):
        t = np.linspace(0, 1, 120)
        length = np.hypot(x2 - x1, y2 - y1)
        bend = _wiggle(rng, t * length, np.zeros(t.size))
        nx, ny = -(y2 - y1) / length, (x2 - x1) / length
        pts = np.column_stack([x1 + t * (x2 - x1) + bend * nx, y1 + t * (y2 - y1) + bend * ny])
        specs.append(("diagonal", pts, None, None))
    return specs


def _ring_road(rng: np.random.Generator, outline: Polygon) -> _RoadSpec:
    """A closed, slightly lobed ring road around the centre: curved cells inside."""
    cx, cy = outline.centroid.x, outline.centroid.y
    theta = np.linspace(0, 2 * np.pi, 181)[:-1]
    bend = 1 + 0.06 * np.sin(3 * theta + rng.uniform(0, 2 * np.pi))
    ring = np.column_stack([cx + 2300 * bend * np.cos(theta), cy + 1700 * bend * np.sin(theta)])
    return ("ring", np.vstack([ring, ring[:1]]), None, None)


def road_network(rng: np.random.Generator, outline: Polygon) -> list[Road]:
    """The named road network: a wiggly grid, two diagonal avenues and a ring road."""
    specs = [
        *_grid_roads(rng, outline.bounds),
        *_diagonal_roads(rng, outline.bounds),
        _ring_road(rng, outline),
    ]
    names = _road_names(rng, [kind for kind, *_ in specs])
    roads = []
    for name, (kind, pts, along, off) in zip(names, specs, strict=True):
        line = LineString(pts)
        roads.append(Road(name, kind, line, _entry(line, outline), along, off))
    return roads


def road_frame(roads: list[Road]) -> gpd.GeoDataFrame:
    """The roads in lon/lat, for maps."""
    return gpd.GeoDataFrame(
        {
            "name": [r.name for r in roads],
            "kind": [r.kind for r in roads],
            "geometry": to_lonlat(np.array([r.line for r in roads], dtype=object)),
        },
        geometry="geometry",
        crs=CRS_LONLAT,
    )


def _entry(line: LineString, outline: Polygon) -> float:
    """Distance along a road to where it first enters the city outline."""
    inside = shapely.get_parts(shapely.intersection(line, outline))
    if inside.size == 0:
        return 0.0
    firsts = shapely.get_point(inside, 0)
    return float(shapely.line_locate_point(line, firsts).min())
