"""The demo city's buildings: footprints on lot grids turned to each block, uses and
storeys by kind of block, and addresses from the nearest road."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon

from demo.city_geometry import CRS_LONLAT, HALF_HEIGHT, HALF_WIDTH, as_multi, to_lonlat
from demo.city_roads import ROAD_HALF_WIDTH, Road


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


def _addresses(roads: list[Road], points: np.ndarray, districts: np.ndarray) -> np.ndarray:
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


def city_buildings(
    rng: np.random.Generator, cells_m: gpd.GeoDataFrame, roads: list[Road]
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
            "footprint": as_multi(to_lonlat(footprints)),
        },
        geometry="footprint",
        crs=CRS_LONLAT,
    )
