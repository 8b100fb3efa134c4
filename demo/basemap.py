"""The demo city's base map, derived from the generated city (same seed, same map): its
named roads classed by the borders they run along, the river 珠江 on its south bank and a
creek, parks in the open ground of blocks, places of interest and residential compounds."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from sqlalchemy import Connection, text

from demo.city import DemoCity
from demo.city_cells import COMMUNITY_STEMS
from demo.city_geometry import CRS_LONLAT, WORK_EPSG
from demo.load import DEMO_VERSION_SOURCE
from maps.basemap import ROAD_CLASSES, SCHEMA
from maps.basemap_write import TABLE_COLUMNS, delete_source, upsert_features

SOURCE = "demo"
BORDER_TOLERANCE = 3.0  # metres: a road piece this close to a border runs along it
COMPOUND_SUFFIXES = ("苑", "花园", "小区", "家园", "雅居", "新村", "华庭", "名门")
COMPOUND_MIN_HOMES = 4  # residential buildings a block needs to count as a 小区
PARKS, GARDENS, LAKES = 30, 60, 10  # the largest open grounds, in this order


def _rank(road_class: str) -> int:
    return ROAD_CLASSES.index(road_class)  # smaller is more important


def demo_basemap(city: DemoCity, seed: int = 0) -> dict[str, gpd.GeoDataFrame]:
    """The base-map layers for a generated city, in lon/lat, keyed by table name."""
    rng = np.random.default_rng(seed + 14)
    cells = city.cells.to_crs(WORK_EPSG)
    buildings = city.buildings.to_crs(WORK_EPSG)
    outline = shapely.union_all(cells.geometry.to_numpy())
    compounds = _compounds(rng, cells, buildings)
    green, lakes = _green(rng, cells, buildings)
    frames = {
        "roads": _roads(city.roads.to_crs(WORK_EPSG), cells, outline),
        "water": pd.concat(
            [_river(city.roads.to_crs(WORK_EPSG), outline, _border(cells, 15)), lakes],
            ignore_index=True,
        ),
        "green": green,
        "places": _places(rng, cells, buildings, city.regions),
        "compounds": compounds,
    }
    return {
        table: gpd.GeoDataFrame(frame, geometry="geometry", crs=WORK_EPSG).to_crs(CRS_LONLAT)
        for table, frame in frames.items()
    }


def load_demo_basemap(
    connection: Connection,
    city: DemoCity,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Replace the demo's base map with the one for this city; returns rows per table."""
    report = progress or (lambda _message: None)
    report("demo base map: roads, water, parks, places and compounds")
    frames = demo_basemap(city, seed)
    delete_source(connection, SOURCE)
    counts = {}
    for table in TABLE_COLUMNS:
        inserted, _ = upsert_features(connection, table, frames[table], SOURCE)
        counts[f"basemap.{table}"] = inserted
    return counts


def basemap_is_empty(connection: Connection) -> bool:
    """True when no base-map table holds a row (of any source)."""
    probes = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {SCHEMA}.{t})" for t in TABLE_COLUMNS)
    return bool(connection.execute(text(f"SELECT {probes}")).scalar_one())


def holds_demo_city(connection: Connection, city: DemoCity) -> bool:
    """Whether the register's demo cells are this city's (same seed): a base map drawn
    for another seed's roads would not fit the cells on the screen."""
    first = city.cells.iloc[0]
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM grid_cells c JOIN boundary_versions v "
                "ON v.id = c.version_id WHERE v.source = :source AND c.code = :code "
                "AND ST_HausdorffDistance(c.boundary, ST_GeomFromWKB(:wkb, 4326)) < 1e-7)"
            ),
            {
                "source": DEMO_VERSION_SOURCE,
                "code": first["code"],
                "wkb": shapely.to_wkb(first["boundary"]),
            },
        ).scalar_one()
    )


def demo_is_loaded(connection: Connection) -> bool:
    """Whether `gridgov demo` loaded its cells (a boundary version of source demo)."""
    return bool(
        connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM boundary_versions WHERE source = :source)"),
            {"source": DEMO_VERSION_SOURCE},
        ).scalar_one()
    )


# --- roads ---------------------------------------------------------------------------


def _border(cells: gpd.GeoDataFrame, digits: int) -> shapely.Geometry:
    """Boundaries between regions whose codes share `digits` digits (15: cells)."""
    groups = cells.geometry.groupby(cells["code"].str[:digits]).agg(shapely.union_all)
    lines = shapely.union_all(shapely.boundary(groups.to_numpy()))
    shapely.prepare(lines)
    return lines


def _roads(roads: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, outline) -> pd.DataFrame:
    """Roads cut into their ~100 m pieces, each classed by the border it runs along:
    district trunk, street primary, community secondary, between cells tertiary; pieces
    that run through a merged block (no border) are left out. The ring road is a trunk
    and the avenues at least primary."""
    borders = [
        ("trunk", _border(cells, 6)),
        ("primary", _border(cells, 9)),
        ("secondary", _border(cells, 12)),
        ("tertiary", _border(cells, 15)),
    ]
    rows = []
    for k, (name, kind, line) in enumerate(
        zip(roads["name"], roads["kind"], roads.geometry, strict=True)
    ):
        coords = shapely.get_coordinates(line)
        pieces = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
        middles = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
        found = np.full(pieces.size, "", dtype=object)
        for road_class, border in reversed(borders):  # the most important border wins
            found[shapely.dwithin(middles, border, BORDER_TOLERANCE)] = road_class
        floor = {"ring": "trunk", "diagonal": "primary"}.get(kind)
        if floor:
            found[found != ""] = [min(c, floor, key=_rank) for c in found[found != ""]]
        for road_class in dict.fromkeys(c for c in found if c):
            merged = shapely.line_merge(shapely.union_all(pieces[found == road_class]))
            rows.append(
                {
                    "external_id": f"road:{k}:{road_class}",
                    "name": name,
                    "class": road_class,
                    "geometry": _multi_lines(merged),
                }
            )
    return pd.DataFrame(rows)


def _multi_lines(geom) -> shapely.Geometry:
    return shapely.multilinestrings(shapely.get_parts(geom))


def _multi_polygon(geom) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.multipolygons(parts)


# --- water and green -----------------------------------------------------------------


def _river(roads: gpd.GeoDataFrame, outline, cell_edges) -> pd.DataFrame:
    """珠江 along the city's south bank (about 450 m wide, never over a block) and 沙河涌,
    a 12 m creek along the middle north-south road to the river (inside the road's
    corridor, where no building stands)."""
    minx, miny, maxx, _ = outline.bounds
    xs = np.linspace(minx - 1500, maxx + 1500, 200)
    ys = miny + 120 + 160 * np.sin((xs - minx) / 2200.0)
    river = shapely.difference(
        LineString(np.column_stack([xs, ys])).buffer(225), outline.buffer(25)
    )
    verticals = roads[roads["kind"] == "vertical"]
    middle = verticals.geometry.distance(outline.centroid).idxmin()
    # Only where the road is a block's edge: through a merged block buildings stand on it.
    course = shapely.union(
        shapely.intersection(cell_edges, outline), shapely.difference(outline.buffer(60), outline)
    )
    creek = shapely.intersection(
        verticals.geometry[middle].buffer(6, cap_style="flat"), course.buffer(6)
    )
    return pd.DataFrame(
        [
            {
                "external_id": "water:zhujiang",
                "name": "珠江",
                "kind": "river",
                "geometry": _multi_polygon(river),
            },
            {
                "external_id": "water:shahechong",
                "name": "沙河涌",
                "kind": "canal",
                "geometry": _multi_polygon(creek),
            },
        ]
    )


def _open_ground(cells: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The largest open piece of each block: the block less its roadside strip and its
    buildings with 6 m around them, opened by 12 m so slivers between houses drop out."""
    built = buildings.geometry.buffer(6).groupby(buildings["cell_code"]).agg(shapely.union_all)
    built = built.reindex(cells["code"]).to_numpy()
    built = np.where(pd.isna(built), shapely.Point(), built)  # type: ignore[arg-type]
    insets = shapely.buffer(cells.geometry.to_numpy(), -14)
    ground = shapely.buffer(shapely.buffer(shapely.difference(insets, built), -12), 12)
    parts, owner = shapely.get_parts(ground, return_index=True)
    frame = pd.DataFrame({"owner": owner, "area": shapely.area(parts), "part": parts})
    best = frame.sort_values("area", ascending=False).drop_duplicates("owner")
    best = best.set_index("owner").reindex(range(len(cells)))
    return gpd.GeoSeries(best["part"].to_numpy(), crs=WORK_EPSG)


def _green(
    rng: np.random.Generator, cells: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parks in the largest open ground of blocks (named; the largest hold a lake) and
    gardens in the next largest (from 3,000 m²)."""
    ground = _open_ground(cells, buildings)
    area = ground.area.fillna(0).to_numpy()
    order = np.argsort(-area, kind="stable")
    stems = list(rng.permutation(COMMUNITY_STEMS))
    green, water = [], []
    for rank, k in enumerate(order[: PARKS + GARDENS]):
        if area[k] < 3000:
            break
        code, geom = cells["code"].iloc[k], ground.iloc[k]
        if rank >= PARKS:
            green.append(
                {
                    "external_id": f"green:{code}",
                    "name": None,
                    "kind": "garden",
                    "geometry": _multi_polygon(geom),
                }
            )
            continue
        stem = stems[rank % len(stems)]
        green.append(
            {
                "external_id": f"green:{code}",
                "name": f"{stem}公园",
                "kind": "park",
                "geometry": _multi_polygon(geom),
            }
        )
        lake = shapely.buffer(geom, -30)
        if rank < LAKES and lake.area >= 5000:
            water.append(
                {
                    "external_id": f"water:{code}",
                    "name": stem.removesuffix("湖") + "湖",
                    "kind": "lake",
                    "geometry": _multi_polygon(lake),
                }
            )
    return pd.DataFrame(green), pd.DataFrame(water)


# --- compounds and places ------------------------------------------------------------


def _compounds(
    rng: np.random.Generator, cells: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
) -> pd.DataFrame:
    """A 小区 around the homes of each block with enough of them: their hull 6 m out,
    inside the block's roadside strip; named from a stem and a suffix, all different."""
    homes = buildings[buildings["use"].isin(["residential", "mixed"])]
    counts = homes.groupby("cell_code").size()
    homes = homes[homes["cell_code"].isin(counts.index[counts >= COMPOUND_MIN_HOMES])]
    hulls = homes.geometry.groupby(homes["cell_code"]).agg(
        lambda g: shapely.convex_hull(shapely.union_all(g.to_numpy()))
    )
    blocks = cells.set_index("code").geometry.reindex(hulls.index).to_numpy()
    shapes = shapely.intersection(shapely.buffer(hulls.to_numpy(), 6), shapely.buffer(blocks, -4))
    stems = list(rng.permutation(COMMUNITY_STEMS))
    names = [
        f"{stems[i % len(stems)]}{COMPOUND_SUFFIXES[(i // len(stems)) % 8]}"
        + (f"{i // (8 * len(stems)) + 1}期" if i >= 8 * len(stems) else "")
        for i in range(len(hulls))
    ]
    return pd.DataFrame(
        {
            "external_id": [f"compound:{c}" for c in hulls.index],
            "name": names,
            "geometry": [_multi_polygon(s) for s in shapes],
        }
    )


# kind, how many per street, name pattern ({street}: the street's stem, {n}: a number)
_PLACES_PER_STREET = (
    ("school", 2, "{street}第{n}小学"),
    ("market", 1, "{street}市场"),
    ("clinic", 1, "{street}街社区卫生服务中心"),
    ("police", 1, "{street}派出所"),
    ("fire_station", 1, "{street}消防救援站"),
    ("government", 1, "{street}街道办事处"),
)


def _places(
    rng: np.random.Generator,
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Per street: schools, a market, a clinic, a police and a fire station and the street
    office, each at a building of the street; per district a hospital; per community its
    party-and-people service centre (党群服务中心)."""
    names = dict(zip(regions["code"], regions["name"], strict=True))
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    street_of = buildings["cell_code"].str[:9].to_numpy()
    community_of = buildings["cell_code"].str[:12].to_numpy()
    uses = buildings["use"].to_numpy()
    rows = []

    def pick(mask: np.ndarray, prefer: tuple[str, ...], count: int) -> list[int]:
        candidates = np.flatnonzero(mask & np.isin(uses, prefer))
        if candidates.size < count:
            candidates = np.flatnonzero(mask)
        return sorted(rng.choice(candidates, min(count, candidates.size), replace=False))

    taken = np.zeros(len(buildings), dtype=bool)
    for code in regions.loc[regions["level"] == "street", "code"]:
        stem = names[code].removesuffix("街道")
        for kind, count, pattern in _PLACES_PER_STREET:
            prefer = ("commercial", "mixed") if kind == "market" else ("public", "office")
            for n, b in enumerate(pick((street_of == code) & ~taken, prefer, count), start=1):
                taken[b] = True
                rows.append(
                    {
                        "external_id": f"place:{kind}:{code}:{n}",
                        "kind": kind,
                        "name": pattern.format(street=stem, n=n),
                        "geometry": points[b],
                    }
                )
    for code in regions.loc[regions["level"] == "district", "code"]:
        for b in pick((np.char.startswith(street_of.astype(str), code)) & ~taken, ("public",), 1):
            taken[b] = True
            rows.append(
                {
                    "external_id": f"place:hospital:{code}",
                    "kind": "hospital",
                    "name": f"{names[code].removesuffix('区')}区人民医院",
                    "geometry": points[b],
                }
            )
    for code in regions.loc[regions["level"] == "community", "code"]:
        for b in pick((community_of == code) & ~taken, ("public", "mixed", "office"), 1):
            taken[b] = True
            rows.append(
                {
                    "external_id": f"place:community_centre:{code}",
                    "kind": "community_centre",
                    "name": f"{names[code]}党群服务中心",
                    "geometry": points[b],
                }
            )
    return pd.DataFrame(rows)
