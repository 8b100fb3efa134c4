"""The demo city's grid cells and regions: the blocks between the roads, merged where
too small, coded and named into districts, streets and communities by position."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon

from demo.city_geometry import CRS_LONLAT, WORK_EPSG, as_multi, multi, to_lonlat
from demo.city_roads import ROAD_HALF_WIDTH, Road

CITY_CODE, CITY_NAME = "990100", "示范市"
DISTRICT_NAMES = ("云山区", "明珠区", "江湾区")  # west to east
STREETS_PER_DISTRICT = (3, 3, 4)  # 10 streets, each split 2x2 into communities
MIN_CELL_AREA = 40_000.0  # smaller faces (slivers at crossings, edge scraps) are merged
MIN_INSET_AREA = 15_000.0  # and so are faces too thin to hold buildings
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


def blocks(outline: Polygon, roads: list[Road]) -> list[Polygon]:
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


def merge_small_faces(faces: list[Polygon]) -> list[Polygon]:
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


def merge_superblocks(rng: np.random.Generator, faces: list[Polygon]) -> list[Polygon]:
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
    roads: list[Road], kind: str, along: np.ndarray, across: np.ndarray
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


def assign_hierarchy(
    rng: np.random.Generator, faces: list[Polygon], roads: list[Road]
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


def cells_lonlat(cells_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The public cell table: code, name, community code and a lon/lat MultiPolygon."""
    boundary = as_multi(to_lonlat(cells_m.geometry.to_numpy()))
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


def regions_of_cells(cells: gpd.GeoDataFrame, cells_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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
            "boundary": multi(shapely.union_all(cell_geoms)),
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
                    "boundary": multi(shapely.union_all(cell_geoms[members])),
                }
            )
    frame = gpd.GeoDataFrame(rows, geometry="boundary", crs=CRS_LONLAT)
    frame["parent_code"] = frame["parent_code"].astype(object)
    frame.loc[frame["level"] == "city", "parent_code"] = None  # pandas made it NaN
    return frame
