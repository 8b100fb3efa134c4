"""A deterministic synthetic demo city: regions, grid cells, buildings, workers and accounts,
and the people living in it (`demo.people`).

Pure geometry, no database: `generate_demo_city` builds everything in metres (UTM 49N),
then hands lon/lat (EPSG:4326) results to `demo.load`. The same seed gives the
same city, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from faker import Faker
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon

from demo.people import DemoPopulation, generate_demo_population
from gis.crs import STORAGE_SRID, transformer
from grid.roles import Role

DEFAULT_SEED = 20261124
CENTER_LON, CENTER_LAT = 113.30, 23.12
WORK_EPSG = 32649  # UTM zone 49N: metric work around the centre
CRS_LONLAT = f"EPSG:{STORAGE_SRID}"

CITY_CODE, CITY_NAME = "990100", "示范市"
DISTRICT_NAMES = ("云山区", "明珠区", "江湾区")  # west to east
STREETS_PER_DISTRICT = (3, 3, 4)  # 10 streets, each split 2x2 into communities
HALF_WIDTH, HALF_HEIGHT = 6000.0, 4500.0  # the city is about 12 km x 9 km
ROAD_HALF_WIDTH = 10.0  # buildings keep this far from a cell's edge (the road)
MIN_CELL_AREA = 40_000.0  # smaller faces (slivers at crossings, edge scraps) are merged
MIN_INSET_AREA = 15_000.0  # and so are faces too thin to hold buildings
ASSIGNMENT_START = date(2026, 1, 1)
UNSTAFFED_CELLS = 5  # cells deliberately left without a worker, to show the gap
BACKUP_SHARE = 0.2

DEMO_DISTRICT = "990101"
DEMO_STREET = DEMO_DISTRICT + "001"
DEMO_COMMUNITY = DEMO_STREET + "001"
DEMO_CELL = DEMO_COMMUNITY + "001"

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
STREET_STEMS = (
    "望江",
    "金沙",
    "石牌",
    "沙河",
    "龙洞",
    "五山",
    "花园",
    "新港",
    "凤凰",
    "棠溪",
    "明月",
    "翠屏",
)
COMMUNITY_STEMS = (
    "桃园",
    "翠竹",
    "柳岸",
    "兰苑",
    "梅林",
    "荷塘",
    "松涛",
    "杏坛",
    "枫林",
    "竹园",
    "锦华",
    "金碧",
    "银湾",
    "碧水",
    "青山",
    "白鹭",
    "晨光",
    "东升",
    "春晖",
    "秋实",
    "丰泽",
    "安居",
    "康宁",
    "福寿",
    "和谐",
    "友邻",
    "嘉禾",
    "瑞景",
    "华庭",
    "雅苑",
    "怡景",
    "悦城",
    "书香",
    "文苑",
    "星河",
    "月湾",
    "海棠",
    "紫薇",
    "玉兰",
    "芙蓉",
    "丁香",
    "榕树",
    "凤岗",
    "龙湖",
    "鹤鸣",
    "燕园",
    "荔枝",
    "杨柳",
)


@dataclass(frozen=True)
class DemoPerson:
    """An account to create: staff are bound to a region code, others to none."""

    username: str
    display_name: str
    phone: str | None
    role: str
    region_code: str | None


@dataclass(frozen=True)
class DemoAssignment:
    """A worker responsible for a cell from `valid_from` on."""

    cell_code: str
    username: str
    kind: str
    valid_from: date


@dataclass
class DemoCity:
    """Everything the demo loader writes; geometries are EPSG:4326 (lon/lat)."""

    regions: gpd.GeoDataFrame  # code, name, level, parent_code, boundary; top-down order
    cells: gpd.GeoDataFrame  # code, name, community_code, boundary
    buildings: gpd.GeoDataFrame  # external_id, cell_code, address, use, floors, footprint
    roads: gpd.GeoDataFrame  # name, kind, geometry (for maps; not stored in the register)
    workers: list[DemoPerson]  # grid workers, including the demo "worker" account
    managers: list[DemoPerson]  # one per community, street and district
    accounts: list[DemoPerson]  # the six demo accounts, one per role
    assignments: list[DemoAssignment]  # primary and backup workers of the cells
    population: DemoPopulation  # houses, households, people and residences in the buildings

    @property
    def users(self) -> list[DemoPerson]:
        """Every account once: demo accounts, managers, then workers."""
        seen: dict[str, DemoPerson] = {}
        for person in [*self.accounts, *self.managers, *self.workers]:
            seen.setdefault(person.username, person)
        return list(seen.values())


@dataclass(frozen=True)
class _Road:
    """A named road in metres; `along`/`offset` describe it as offset = f(along)."""

    name: str
    kind: str  # "vertical", "horizontal", "diagonal" or "ring"
    line: LineString
    start: float  # where the road enters the city: house numbers count from here
    along: np.ndarray | None = None
    offset: np.ndarray | None = None


@dataclass(frozen=True)
class _Profile:
    """How one kind of block is built up: lot grid, building sizes and uses."""

    pitch: tuple[float, float]  # lot size along and across the block's main direction
    width: tuple[float, float]  # building size range along, then across
    depth: tuple[float, float]
    uses: tuple[str, ...]  # what a lot's building is used for, with these odds
    weights: tuple[float, ...]
    big_chance: float  # chance that a 2x2 block of lots holds one large building
    big_uses: tuple[str, ...]
    empty: float  # share of lots left open (green space, car parks)
    park_chance: float  # chance of a pocket park somewhere in the block
    regular: bool = False  # an estate: one slab or tower type repeated in even rows


PROFILES: dict[str, _Profile] = {
    "residential": _Profile(
        pitch=(50, 36),
        width=(16, 40),
        depth=(10, 16),
        uses=("residential", "mixed", "commercial", "other"),
        weights=(0.9, 0.04, 0.04, 0.02),
        big_chance=0.03,
        big_uses=("public",),
        empty=0.12,
        park_chance=0.35,
        regular=True,
    ),
    "mixed": _Profile(
        pitch=(46, 38),
        width=(14, 36),
        depth=(10, 26),
        uses=("residential", "mixed", "commercial", "office", "other"),
        weights=(0.55, 0.2, 0.15, 0.07, 0.03),
        big_chance=0.05,
        big_uses=("commercial", "public", "office"),
        empty=0.12,
        park_chance=0.2,
    ),
    "business": _Profile(
        pitch=(58, 46),
        width=(20, 50),
        depth=(14, 36),
        uses=("office", "commercial", "mixed", "residential"),
        weights=(0.45, 0.35, 0.15, 0.05),
        big_chance=0.12,
        big_uses=("commercial", "office"),
        empty=0.15,
        park_chance=0.1,
    ),
    "industrial": _Profile(
        pitch=(82, 62),
        width=(30, 72),
        depth=(20, 52),
        uses=("industrial", "office", "other"),
        weights=(0.85, 0.05, 0.1),
        big_chance=0.1,
        big_uses=("industrial",),
        empty=0.2,
        park_chance=0.0,
    ),
    "campus": _Profile(
        pitch=(62, 48),
        width=(20, 46),
        depth=(12, 30),
        uses=("public", "residential", "other"),
        weights=(0.7, 0.2, 0.1),
        big_chance=0.2,
        big_uses=("public",),
        empty=0.2,
        park_chance=0.3,
    ),
}
PROFILE_NAMES = tuple(PROFILES)
PROFILE_WEIGHTS = (0.55, 0.2, 0.1, 0.08, 0.07)  # before the centre/edge adjustment


def generate_demo_city(
    seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> DemoCity:
    """Build the whole synthetic city for a seed; the same seed gives the same city."""
    report = progress or (lambda _message: None)
    rng = np.random.default_rng(seed)
    cx, cy = transformer(STORAGE_SRID, WORK_EPSG).transform(CENTER_LON, CENTER_LAT)

    report("demo city: outline and road network")
    outline = _outline(rng, cx, cy)
    roads = _roads(rng, outline)

    report("demo city: blocks between the roads")
    faces = _faces(outline, roads)
    faces = _merge_small_faces(faces)
    faces = _merge_superblocks(rng, faces)

    report(f"demo city: {len(faces)} grid cells into districts, streets and communities")
    cells_m = _assign_hierarchy(rng, faces, roads)
    cells = _cells_lonlat(cells_m)
    regions = _regions(cells, cells_m)

    report("demo city: building footprints")
    buildings = _buildings(rng, cells_m, roads)

    report("demo city: grid workers, managers and demo accounts")
    people = _people(seed, rng, cells_m, regions)

    report(f"demo city: {len(regions)} regions, {len(cells)} cells, {len(buildings)} buildings")
    report("demo city: houses, households and people")
    population = generate_demo_population(seed, buildings, progress=report)
    return DemoCity(
        regions=regions,
        cells=cells,
        buildings=buildings,
        roads=_road_frame(roads),
        population=population,
        **people,
    )


# --- outline and roads ---------------------------------------------------------------


def _outline(rng: np.random.Generator, cx: float, cy: float) -> Polygon:
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


# kind, vertices, and for grid roads the along/offset arrays (see _Road)
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


def _roads(rng: np.random.Generator, outline: Polygon) -> list[_Road]:
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
        roads.append(_Road(name, kind, line, _entry(line, outline), along, off))
    return roads


def _road_frame(roads: list[_Road]) -> gpd.GeoDataFrame:
    """The roads in lon/lat, for maps."""
    return gpd.GeoDataFrame(
        {
            "name": [r.name for r in roads],
            "kind": [r.kind for r in roads],
            "geometry": _to_lonlat(np.array([r.line for r in roads], dtype=object)),
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


# --- blocks (grid cells) -------------------------------------------------------------


def _faces(outline: Polygon, roads: list[_Road]) -> list[Polygon]:
    """The blocks the roads cut the outline into (polygonize the noded road network)."""
    inside = shapely.intersection(np.array([r.line for r in roads], dtype=object), outline)
    noded = shapely.union_all([*inside, outline.exterior])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [f for f in faces if f.area > 0]


def _too_small(face: Polygon) -> bool:
    """Slivers at crossings and thin scraps along the outline cannot be real cells."""
    return face.area < MIN_CELL_AREA or face.buffer(-ROAD_HALF_WIDTH - 5).area < MIN_INSET_AREA


def _shared_lengths(faces: list[Polygon], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the faces next to face i and the length of boundary each shares with it."""
    tree = shapely.STRtree(faces)
    near = tree.query(faces[i], predicate="intersects")
    near = near[near != i]
    edge = faces[i].boundary
    shared = shapely.length(shapely.intersection(edge, shapely.boundary(tree.geometries[near])))
    return near, shared


def _merge_small_faces(faces: list[Polygon]) -> list[Polygon]:
    """Merge each too-small face, smallest first, into the neighbour it shares most edge with."""
    faces = list(faces)
    small = [_too_small(f) for f in faces]
    while any(small):
        i = min((k for k, s in enumerate(small) if s), key=lambda k: faces[k].area)
        near, shared = _shared_lengths(faces, i)
        if near.size and shared.max() > 1.0:
            j = int(near[np.argmax(shared)])
            faces[j] = _union_polygon(faces[j], faces[i])
            small[j] = _too_small(faces[j])
        del faces[i], small[i]  # a face touching nothing is a stray scrap: dropped
    return faces


def _merge_superblocks(rng: np.random.Generator, faces: list[Polygon]) -> list[Polygon]:
    """Join a few neighbouring blocks (campuses, estates) so cells are not all quadrilaterals."""
    faces = list(faces)
    picks = rng.permutation(len(faces))[: len(faces) // 14]
    merged: set[int] = set()
    gone: set[int] = set()
    for i in (int(p) for p in picks):
        if i in merged or i in gone:
            continue
        near, shared = _shared_lengths(faces, i)
        ok = [
            int(j)
            for j, s in zip(near, shared, strict=True)
            if s > 120
            and int(j) not in merged | gone
            and faces[i].area + faces[int(j)].area < 500_000
        ]
        if not ok:
            continue
        j = ok[int(rng.integers(len(ok)))]
        faces[i] = _union_polygon(faces[i], faces[j])
        merged.add(i)
        gone.add(j)
    return [f for k, f in enumerate(faces) if k not in gone]


def _union_polygon(a: Polygon, b: Polygon) -> Polygon:
    """Union of two faces sharing an edge; they share vertices exactly, so it is clean."""
    result = shapely.union(a, b)
    if not isinstance(result, Polygon):
        raise ValueError(f"merging two faces gave a {result.geom_type}")
    return result


def _roads_before(
    roads: list[_Road], kind: str, along: np.ndarray, across: np.ndarray
) -> np.ndarray:
    """For each point, how many roads of a kind (vertical/horizontal) lie west/south of it."""
    count = np.zeros(along.size, dtype=int)
    for road in roads:
        if road.kind == kind:
            count += np.interp(along, road.along, road.offset) < across
    return count


def _bands(values: np.ndarray, n: int) -> np.ndarray:
    """Split ordered band indices into n contiguous groups of about equal size (0..n-1)."""
    uniq, counts = np.unique(values, return_counts=True)
    if uniq.size < n:
        raise ValueError(f"cannot split {uniq.size} bands into {n} groups")
    cum = np.cumsum(counts)
    cuts, low = [], 0
    for k in range(1, n):
        allowed = np.arange(low, uniq.size - (n - k))
        idx = int(allowed[np.argmin(np.abs(cum[allowed] - k * values.size / n))])
        cuts.append(uniq[idx])
        low = idx + 1
    return np.searchsorted(np.array(cuts), values, side="left")


def _assign_hierarchy(
    rng: np.random.Generator, faces: list[Polygon], roads: list[_Road]
) -> gpd.GeoDataFrame:
    """Codes and names by position: column bands make districts, row bands streets, and
    2x2 sub-bands of a street its communities. Returns cells in metres, ordered by code."""
    geoms = np.array(faces, dtype=object)
    rep = shapely.point_on_surface(geoms)
    px, py = shapely.get_x(rep), shapely.get_y(rep)
    col = _roads_before(roads, "vertical", py, px)
    row = _roads_before(roads, "horizontal", px, py)

    district = _bands(col, len(DISTRICT_NAMES))
    street = np.zeros(geoms.size, dtype=int)
    community = np.zeros(geoms.size, dtype=int)
    for d, n_streets in enumerate(STREETS_PER_DISTRICT):
        in_d = np.flatnonzero(district == d)
        street[in_d] = _bands(-row[in_d], n_streets)  # north first
        for s in range(n_streets):
            in_s = in_d[street[in_d] == s]
            half = _bands(col[in_s], 2)
            for h in (0, 1):
                in_h = in_s[half == h]
                community[in_h] = 2 * _bands(-row[in_h], 2) + h  # NW, NE, SW, SE

    street_stems = list(rng.permutation(STREET_STEMS))
    community_stems = list(rng.permutation(COMMUNITY_STEMS))
    # Reading order (north to south, west to east) inside a community gives cell serials.
    order = np.lexsort((px, -py, col, -row, community, street, district))
    serial: dict[tuple[int, int, int], int] = {}
    rows = []
    for k in order:
        key = (int(district[k]), int(street[k]), int(community[k]))
        serial[key] = serial.get(key, 0) + 1
        d, s, c = key
        s_global = sum(STREETS_PER_DISTRICT[:d]) + s
        district_code = f"99010{d + 1}"
        street_code = f"{district_code}{s + 1:03d}"
        community_code = f"{street_code}{c + 1:03d}"
        community_name = f"{community_stems[4 * s_global + c]}社区"
        rows.append(
            {
                "code": f"{community_code}{serial[key]:03d}",
                "name": f"{community_name}第{serial[key]}网格",
                "community_code": community_code,
                "community_name": community_name,
                "street_code": street_code,
                "street_name": f"{street_stems[s_global]}街道",
                "district_code": district_code,
                "district_name": DISTRICT_NAMES[d],
                "boundary": geoms[k],
            }
        )
    return gpd.GeoDataFrame(rows, geometry="boundary", crs=f"EPSG:{WORK_EPSG}")


def _to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Project metre geometries to lon/lat vertex by vertex (shared vertices stay shared)."""
    project = transformer(WORK_EPSG, STORAGE_SRID)

    def lonlat(xy: np.ndarray) -> np.ndarray:
        lon, lat = project.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, lonlat)


def _multi(geom: Polygon | MultiPolygon) -> MultiPolygon:
    """Wrap a Polygon as a MultiPolygon, as the register stores them."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _as_multi(geoms: np.ndarray) -> np.ndarray:
    """`_multi` over an array of geometries, vectorised."""
    out = np.array(geoms, dtype=object)
    single = shapely.get_type_id(out) == shapely.GeometryType.POLYGON
    out[single] = shapely.multipolygons(out[single], indices=np.arange(int(single.sum())))
    return out


def _cells_lonlat(cells_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The public cell table: code, name, community code and a lon/lat MultiPolygon."""
    boundary = _as_multi(_to_lonlat(cells_m.geometry.to_numpy()))
    return gpd.GeoDataFrame(
        {
            "code": cells_m["code"].to_numpy(),
            "name": cells_m["name"].to_numpy(),
            "community_code": cells_m["community_code"].to_numpy(),
            "boundary": boundary,
        },
        geometry="boundary",
        crs=CRS_LONLAT,
    )


def _regions(cells: gpd.GeoDataFrame, cells_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """City, districts, streets and communities; each boundary is the lon/lat union of
    its cells, so containment holds exactly in the stored CRS."""
    rows = []
    cell_geoms = cells.geometry.to_numpy()
    levels = (
        ("district", "district_code", "district_name", lambda c: CITY_CODE),
        ("street", "street_code", "street_name", lambda c: c[:6]),
        ("community", "community_code", "community_name", lambda c: c[:9]),
    )
    rows.append(
        {
            "code": CITY_CODE,
            "name": CITY_NAME,
            "level": "city",
            "parent_code": None,
            "boundary": _multi(shapely.union_all(cell_geoms)),
        }
    )
    for level, code_col, name_col, parent in levels:
        codes = cells_m[code_col].to_numpy()
        names = cells_m[name_col].to_numpy()
        for code in dict.fromkeys(codes):  # first-seen order = code order
            members = codes == code
            rows.append(
                {
                    "code": code,
                    "name": names[members][0],
                    "level": level,
                    "parent_code": parent(code),
                    "boundary": _multi(shapely.union_all(cell_geoms[members])),
                }
            )
    frame = gpd.GeoDataFrame(rows, geometry="boundary", crs=CRS_LONLAT)
    frame["parent_code"] = frame["parent_code"].astype(object)
    frame.loc[frame["level"] == "city", "parent_code"] = None  # pandas made it NaN
    return frame


# --- buildings -----------------------------------------------------------------------


def _dominant_angle(cell: Polygon) -> float:
    """Direction (radians) of the long side of the cell's minimum rotated rectangle."""
    ring = np.asarray(shapely.oriented_envelope(cell).exterior.coords)
    edges = np.diff(ring, axis=0)
    k = int(np.argmax(np.hypot(edges[:, 0], edges[:, 1])))
    return float(np.arctan2(edges[k, 1], edges[k, 0]))


def _rotate(geoms: np.ndarray, angle: float, origin: tuple[float, float]) -> np.ndarray:
    """Rotate geometries by an angle (radians) about an origin, all vertices at once."""
    cos, sin = np.cos(angle), np.sin(angle)
    ox, oy = origin

    def turn(xy: np.ndarray) -> np.ndarray:
        dx, dy = xy[:, 0] - ox, xy[:, 1] - oy
        return np.column_stack([ox + cos * dx - sin * dy, oy + sin * dx + cos * dy])

    return shapely.transform(geoms, turn)


def _pick_profile(rng: np.random.Generator, cell: Polygon, centre: tuple[float, float]) -> str:
    """Block type: business near the centre, industry towards the edge, homes everywhere."""
    c = cell.centroid
    reach = np.hypot((c.x - centre[0]) / HALF_WIDTH, (c.y - centre[1]) / HALF_HEIGHT)
    weights = np.array(PROFILE_WEIGHTS)
    weights[PROFILE_NAMES.index("business")] *= 3.0 if reach < 0.35 else 0.5
    weights[PROFILE_NAMES.index("industrial")] *= 3.0 if reach > 0.7 else (0 if reach < 0.4 else 1)
    return str(rng.choice(PROFILE_NAMES, p=weights / weights.sum()))


def _lot_grid(rng: np.random.Generator, bounds: tuple[float, ...], pitch: tuple[float, float]):
    """Lower-left corners and (row, column) indices of a lot grid covering the bounds."""
    px, py = pitch
    minx, miny, maxx, maxy = bounds
    x0, y0 = minx - rng.uniform(0, px), miny - rng.uniform(0, py)
    nx = 2 * (int((maxx - x0) // (2 * px)) + 1)  # even, so 2x2 blocks tile the grid
    ny = 2 * (int((maxy - y0) // (2 * py)) + 1)
    rows, cols = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    return x0 + cols * px, y0 + rows * py, rows, cols


def _corner_cut(rng: np.random.Generator, boxes: np.ndarray, cx, cy, w, h) -> np.ndarray:
    """L-shaped footprints: remove one corner (35-55 % of each side) from each box."""
    sx = np.where(rng.random(w.size) < 0.5, -1.0, 1.0)
    sy = np.where(rng.random(w.size) < 0.5, -1.0, 1.0)
    cw, ch = w * rng.uniform(0.35, 0.55, w.size), h * rng.uniform(0.35, 0.55, w.size)
    # The cutter overshoots the box by 1 m so no zero-width sliver survives.
    ex, ey = cx + sx * (w / 2 + 1), cy + sy * (h / 2 + 1)
    ix, iy = cx + sx * (w / 2 - cw), cy + sy * (h / 2 - ch)
    cutter = shapely.box(
        np.minimum(ex, ix), np.minimum(ey, iy), np.maximum(ex, ix), np.maximum(ey, iy)
    )
    return shapely.difference(boxes, cutter)


def _courtyard(boxes: np.ndarray, cx, cy, w, h) -> np.ndarray:
    """Courtyard (回-shaped) footprints for schools and malls: a ring 14-18 m deep."""
    depth = np.clip(np.minimum(w, h) * 0.3, 14, 18)
    inner = shapely.box(
        cx - w / 2 + depth, cy - h / 2 + depth, cx + w / 2 - depth, cy + h / 2 - depth
    )
    return shapely.difference(boxes, inner)


def _lot_sizes(rng: np.random.Generator, profile: _Profile, shape: tuple[int, ...]):
    """Width, depth and placement slack (0-1) of the building on each lot."""
    px, py = profile.pitch
    w_hi, h_hi = min(profile.width[1], px - 4), min(profile.depth[1], py - 4)
    if not profile.regular:
        return (
            rng.uniform(profile.width[0], w_hi, shape),
            rng.uniform(profile.depth[0], h_hi, shape),
            1.0,
        )
    if rng.random() < 0.3:  # point towers
        base_w = rng.uniform(16, 24)
        base_h = min(base_w, h_hi)
    else:  # slab blocks
        base_w = rng.uniform(max(24, profile.width[0]), w_hi)
        base_h = rng.uniform(profile.depth[0], h_hi)
    return (base_w * rng.uniform(0.92, 1.0, shape), base_h * rng.uniform(0.92, 1.0, shape), 0.2)


def _lot_masks(
    rng: np.random.Generator,
    local: Polygon,
    lx: np.ndarray,
    ly: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    profile: _Profile,
):
    """Which lots get a building of their own (`small`) and which 2x2 blocks get one large
    building (`anchor`, at the block's lower-left lot); the rest stay open."""
    px, py = profile.pitch
    shape = rows.shape
    anchor = (rows % 2 == 0) & (cols % 2 == 0) & (rng.random(shape) < profile.big_chance)
    in_big = anchor[rows - rows % 2, cols - cols % 2]
    small = ~in_big & (rng.random(shape) >= profile.empty)
    if rng.random() < profile.park_chance:  # a pocket park: no lots near a random spot
        mx, my = lx + px / 2, ly + py / 2
        inside = np.flatnonzero(shapely.contains_xy(local, mx.ravel(), my.ravel()))
        if inside.size:
            k = inside[rng.integers(inside.size)]
            near = np.hypot(mx - mx.ravel()[k], my - my.ravel()[k])
            small &= near > rng.uniform(50, 110) + max(px, py) / 2
    return small, anchor


def _footprints(
    rng: np.random.Generator,
    lx: np.ndarray,
    ly: np.ndarray,
    small: np.ndarray,
    anchor: np.ndarray,
    profile: _Profile,
):
    """Footprints (local frame), uses and big flags: a box per small lot, at least 2 m
    inside it, and a box per 2x2 block, 3 m inside it; some become L or 回 shapes."""
    px, py = profile.pitch
    shape = lx.shape
    w, h, slack = _lot_sizes(rng, profile, shape)
    uses = rng.choice(profile.uses, p=profile.weights, size=shape)
    cx = lx + px / 2 + rng.uniform(-1, 1, shape) * slack * (px - w - 4) / 2
    cy = ly + py / 2 + rng.uniform(-1, 1, shape) * slack * (py - h - 4) / 2
    bw = rng.uniform(1.1 * px, 2 * px - 6, shape)
    bh = rng.uniform(1.1 * py, 2 * py - 6, shape)
    big_uses = rng.choice(profile.big_uses, size=shape)
    cut_draw, yard_draw = rng.random(shape), rng.random(shape)

    def pick(for_small: np.ndarray, for_big: np.ndarray) -> np.ndarray:
        return np.concatenate([for_small[small], for_big[anchor]])

    x, y = pick(cx, lx + px), pick(cy, ly + py)
    w, h, use = pick(w, bw), pick(h, bh), pick(uses, big_uses)
    big = pick(np.zeros(shape, bool), np.ones(shape, bool))
    geoms = shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    shop = (
        ~big
        & np.isin(use, ("commercial", "office", "mixed"))
        & (w > 18)
        & (pick(cut_draw, cut_draw) < 0.35)
    )
    geoms[shop] = _corner_cut(rng, geoms[shop], x[shop], y[shop], w[shop], h[shop])
    yard = (
        big
        & (np.minimum(w, h) > 50)
        & np.isin(use, ("public", "commercial"))
        & (pick(yard_draw, yard_draw) < 0.6)
    )
    geoms[yard] = _courtyard(geoms[yard], x[yard], y[yard], w[yard], h[yard])
    return geoms, use, big


def _cell_buildings(rng: np.random.Generator, cell: Polygon, profile: _Profile):
    """Footprints (metres), uses and big flags for one cell: lots on a grid turned to the
    cell's main direction, kept only when strictly inside the cell less a road
    half-width. Lots are disjoint, so buildings never overlap."""
    inset = cell.buffer(-ROAD_HALF_WIDTH, join_style="mitre")
    angle = _dominant_angle(cell)
    origin = (cell.centroid.x, cell.centroid.y)
    local = affinity.rotate(inset, -angle, origin=origin, use_radians=True)
    shapely.prepare(local)
    lx, ly, rows, cols = _lot_grid(rng, local.bounds, profile.pitch)
    small, anchor = _lot_masks(rng, local, lx, ly, rows, cols, profile)
    geoms, uses, big = _footprints(rng, lx, ly, small, anchor, profile)
    keep = shapely.contains_properly(local, geoms)
    return _rotate(geoms[keep], angle, origin), uses[keep], big[keep]


def _floors(rng: np.random.Generator, uses: np.ndarray, big: np.ndarray) -> np.ndarray:
    """Plausible storeys per use: walk-ups to high-rises for homes, low sheds for industry."""
    n = uses.size
    pick = rng.random(n)
    home = np.where(
        pick < 0.35,
        rng.integers(4, 8, n),
        np.where(pick < 0.75, rng.integers(8, 19, n), rng.integers(19, 35, n)),
    )
    by_use = {
        "residential": home,
        "mixed": rng.integers(3, 25, n),
        "commercial": np.where(big, rng.integers(3, 9, n), rng.integers(1, 7, n)),
        "office": np.where(big, rng.integers(5, 21, n), rng.integers(6, 41, n)),
        "industrial": rng.integers(1, 5, n),
        "public": rng.integers(2, 7, n),
        "other": rng.integers(1, 4, n),
    }
    floors = np.ones(n, dtype=int)
    for use, values in by_use.items():
        floors = np.where(uses == use, values, floors)
    return np.clip(floors, 1, 40)


def _nearest_road(lines: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest road for each point. Roads are cut into
    short pieces first: a tree of city-long lines has useless bounding boxes."""
    pieces, owner = [], []
    for k, line in enumerate(lines):
        coords = shapely.get_coordinates(line)
        for start in range(0, len(coords) - 1, 8):
            pieces.append(LineString(coords[start : start + 9]))
            owner.append(k)
    tree = shapely.STRtree(pieces)
    (src, piece), dist = tree.query_nearest(points, all_matches=False, return_distance=True)
    order = np.argsort(src, kind="stable")
    return np.array(owner)[piece[order]], dist[order]


def _addresses(roads: list[_Road], points: np.ndarray, districts: np.ndarray) -> np.ndarray:
    """示范市<区><路><N>号: nearest road, number from the position along it (odd on the
    left, even on the right, one pair per 20 m); several buildings on one number get 栋."""
    lines = np.array([r.line for r in roads], dtype=object)
    road, dist = _nearest_road(lines, points)
    line = lines[road]
    pos = shapely.line_locate_point(line, points)
    a = shapely.line_interpolate_point(line, pos - 0.5)
    b = shapely.line_interpolate_point(line, pos + 0.5)
    ax, ay, bx, by = shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b)
    left = (bx - ax) * (shapely.get_y(points) - ay) - (by - ay) * (shapely.get_x(points) - ax) > 0
    starts = np.array([r.start for r in roads])[road]
    pair = (np.maximum(pos - starts, 0) // 20).astype(int)
    number = np.where(left, 2 * pair + 1, 2 * pair + 2)

    frame = pd.DataFrame({"road": road, "number": number, "dist": dist, "pos": pos})
    frame = frame.sort_values(["road", "number", "dist", "pos"], kind="stable")
    frame["nth"] = frame.groupby(["road", "number"]).cumcount() + 1
    frame["many"] = frame.groupby(["road", "number"])["nth"].transform("size") > 1
    frame = frame.sort_index()
    names = np.array([r.name for r in roads], dtype=object)[road]
    return np.array(
        [
            f"示范市{d}{n}{num}号" + (f"{k}栋" if many else "")
            for d, n, num, k, many in zip(
                districts, names, frame["number"], frame["nth"], frame["many"], strict=True
            )
        ],
        dtype=object,
    )


def _buildings(
    rng: np.random.Generator, cells_m: gpd.GeoDataFrame, roads: list[_Road]
) -> gpd.GeoDataFrame:
    """Footprints for every cell, with use, floors, address and a stable external id."""
    minx, miny, maxx, maxy = cells_m.total_bounds
    centre = ((minx + maxx) / 2, (miny + maxy) / 2)
    geoms, uses, big, owner = [], [], [], []
    for k, cell in enumerate(cells_m.geometry):
        g, u, b = _cell_buildings(rng, cell, PROFILES[_pick_profile(rng, cell, centre)])
        if g.size == 0:  # big lots found no room in an odd-shaped block: try small ones
            g, u, b = _cell_buildings(rng, cell, PROFILES["mixed"])
        geoms.append(g)
        uses.append(u)
        big.append(b)
        owner.append(np.full(g.size, k))
    footprints = np.concatenate(geoms)
    use = np.concatenate(uses).astype(object)
    cell_of = np.concatenate(owner)
    floors = _floors(rng, use, np.concatenate(big))
    districts = cells_m["district_name"].to_numpy()[cell_of]
    address = _addresses(roads, shapely.centroid(footprints), districts)
    return gpd.GeoDataFrame(
        {
            "external_id": [f"DEMO-B-{i:06d}" for i in range(1, footprints.size + 1)],
            "cell_code": cells_m["code"].to_numpy()[cell_of],
            "address": address,
            "use": use,
            "floors": floors,
            "footprint": _as_multi(_to_lonlat(footprints)),
        },
        geometry="footprint",
        crs=CRS_LONLAT,
    )


# --- people --------------------------------------------------------------------------


def _touching(cells_m: gpd.GeoDataFrame, k: int) -> list[int]:
    """Cells of the same community sharing an edge with cell k."""
    geoms = cells_m.geometry.to_numpy()
    near = cells_m.sindex.query(geoms[k], predicate="touches")
    community = cells_m["community_code"].to_numpy()
    shared = shapely.length(shapely.intersection(geoms[k].boundary, shapely.boundary(geoms[near])))
    return sorted(
        int(j) for j, s in zip(near, shared, strict=True) if s > 0 and community[j] == community[k]
    )


_PersonMaker = Callable[[str, Role, str | None], DemoPerson]


def _people(
    seed: int, rng: np.random.Generator, cells_m: gpd.GeoDataFrame, regions: gpd.GeoDataFrame
) -> dict[str, list]:
    """Managers for every region, a primary worker per cell (but five), some backups, and
    the six demo accounts, which take the place of the staff of the first area of each."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)

    def person(username: str, role: Role, region_code: str | None) -> DemoPerson:
        return DemoPerson(username, fake.name(), fake.phone_number(), role.value, region_code)

    managers = _managers(person, regions)
    workers, assignments = _cell_staff(rng, person, cells_m)
    staff = {p.username: p for p in [*managers, *workers]}
    accounts = [
        DemoPerson("admin", "演示管理员", fake.phone_number(), Role.ADMIN.value, None),
        staff["district"],
        staff["street"],
        staff["community"],
        staff["worker"],
        person("resident", Role.RESIDENT, None),
    ]
    return {
        "workers": workers,
        "managers": managers,
        "accounts": accounts,
        "assignments": assignments,
    }


def _managers(person: _PersonMaker, regions: gpd.GeoDataFrame) -> list[DemoPerson]:
    """One manager per district, street and community (dm/sm/cm + code); the first of
    each level in the demo chain gets the fixed demo username instead."""
    demo_staff = {DEMO_DISTRICT: "district", DEMO_STREET: "street", DEMO_COMMUNITY: "community"}
    managers = []
    for level, prefix, role in (
        ("district", "dm", Role.DISTRICT_MANAGER),
        ("street", "sm", Role.STREET_MANAGER),
        ("community", "cm", Role.COMMUNITY_MANAGER),
    ):
        for code in regions.loc[regions["level"] == level, "code"]:
            managers.append(person(demo_staff.get(code, prefix + code), role, code))
    return managers


def _cell_staff(
    rng: np.random.Generator, person: _PersonMaker, cells_m: gpd.GeoDataFrame
) -> tuple[list[DemoPerson], list[DemoAssignment]]:
    """Grid workers and their assignments: a primary per cell except UNSTAFFED_CELLS
    (never the demo worker's), and backups for BACKUP_SHARE of the cells, half of them
    the primary of a neighbouring cell in the same community."""
    codes = cells_m["code"].to_numpy()
    communities = cells_m["community_code"].to_numpy()
    unstaffed = set(
        rng.choice(np.flatnonzero(codes != DEMO_CELL), UNSTAFFED_CELLS, replace=False).tolist()
    )
    workers: list[DemoPerson] = []
    assignments: list[DemoAssignment] = []
    primary: dict[int, str] = {}
    for k, code in enumerate(codes):
        if k in unstaffed:
            continue
        username = "worker" if code == DEMO_CELL else f"w{code}"
        workers.append(person(username, Role.GRID_WORKER, communities[k]))
        assignments.append(DemoAssignment(code, username, "primary", ASSIGNMENT_START))
        primary[k] = username

    n_backups = round(BACKUP_SHARE * codes.size)
    for k in sorted(rng.choice(sorted(primary), n_backups, replace=False).tolist()):
        helpers = [j for j in _touching(cells_m, k) if j in primary]
        if helpers and rng.random() < 0.5:  # a neighbour's primary worker stands in
            username = primary[helpers[int(rng.integers(len(helpers)))]]
        else:
            username = f"wb{codes[k]}"
            workers.append(person(username, Role.GRID_WORKER, communities[k]))
        assignments.append(DemoAssignment(codes[k], username, "backup", ASSIGNMENT_START))
    return workers, assignments
