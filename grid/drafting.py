"""Grid drafting: cut a community into square, hexagonal or building-count cells and
store them, coded, as a draft boundary version (checked and activated like an import)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, text

from core.errors import InvalidInput, NotFound
from gis.crs import STORAGE_SRID, transformer, utm_epsg_for
from grid.sql_fragments import cell_in_force
from grid.versions import create_draft_version

SHAPES = ("square", "hex", "buildings")
# A cell code is the community's 12 digits plus a 3-digit sequence.
MAX_CELLS = 999
# Clipped pieces under this share of a whole cell are merged into a neighbour: no tiny
# cells along the boundary, and no gaps either.
SLIVER_SHARE = 0.1
# Edges shared by two pieces are computed in two separate clips; allow for float noise.
EDGE_TOLERANCE_M = 0.01
# Bounds the memory of a tiling whose extent is huge next to its cell size.
MAX_TILES = 250_000
HEX_AREA_FACTOR = math.sqrt(3) / 2  # a hexagon of width w across flats has area 0.87 w²


@dataclass(frozen=True)
class Draft:
    """A drafted version: its id, how many cells, their areas (m², local UTM)."""

    version_id: int
    community_code: str
    shape: str
    cells: int
    min_area_m2: float
    max_area_m2: float
    replaces_cells_in_force: int  # cells in force that activation would retire


@dataclass(frozen=True)
class _Community:
    id: int
    code: str
    boundary: shapely.Geometry  # in EPSG:4326
    cells_in_force: int


def draft_cells(
    conn: Connection,
    community_code: str,
    *,
    shape: str,
    size_m: float | None = None,
    buildings_per_cell: int | None = None,
    label: str | None = None,
) -> Draft:
    """Draft cells for a community as a new draft version inside the caller's transaction.

    shape 'square': squares of side size_m aligned to the community's north-west corner;
    'hex': pointy-top hexagons size_m wide across flats (about the area of a size_m
    square); 'buildings': cells grown to hold about buildings_per_cell buildings each.
    Cells are clipped to the community and coded in reading order (north to south, west
    to east). A community that already has cells in force may be drafted again: the
    draft replaces them when activated."""
    _check_options(shape, size_m, buildings_per_cell, label)
    community = _load_community(conn, community_code)
    centre = shapely.centroid(community.boundary)
    metric = utm_epsg_for(centre.x, centre.y)
    boundary = _reproject(community.boundary, STORAGE_SRID, metric)
    if shape == "buildings":
        points = _reproject(_building_points(conn, community), STORAGE_SRID, metric)
        cells, anchors, row_height = _cells_by_buildings(boundary, points, buildings_per_cell)
    else:
        cells, anchors, row_height = _tiled_cells(boundary, shape, size_m)
    cells = cells[_reading_order(anchors, row_height)]
    first = _first_free_serial(conn, community)
    _refuse_too_many(
        first - 1 + len(cells), "size_m" if shape != "buildings" else "buildings_per_cell"
    )
    version_id = create_draft_version(
        conn, label or _default_label(community.code, shape, size_m, buildings_per_cell), "draft"
    )
    _insert_cells(conn, version_id, community, _reproject(cells, metric, STORAGE_SRID), first)
    areas = shapely.area(cells)
    return Draft(
        version_id,
        community.code,
        shape,
        len(cells),
        round(float(areas.min()), 1),
        round(float(areas.max()), 1),
        community.cells_in_force,
    )


def _check_options(
    shape: str, size_m: float | None, buildings_per_cell: int | None, label: str | None
) -> None:
    """Refuse options that cannot make a draft, naming the field."""
    if shape not in SHAPES:
        raise InvalidInput(
            f"shape must be one of {', '.join(SHAPES)}",
            "形状须为 square、hex 或 buildings",
            field="shape",
        )
    if shape == "buildings":
        if size_m is not None:
            raise InvalidInput(
                "size_m does not apply to shape 'buildings'",
                "按楼栋划分时不使用 size_m",
                field="size_m",
            )
        if buildings_per_cell is None or buildings_per_cell < 1:
            raise InvalidInput(
                "buildings_per_cell must be a whole number of at least 1",
                "每格楼栋数须为不小于 1 的整数",
                field="buildings_per_cell",
            )
    else:
        if buildings_per_cell is not None:
            raise InvalidInput(
                f"buildings_per_cell does not apply to shape {shape!r}",
                "按尺寸划分时不使用 buildings_per_cell",
                field="buildings_per_cell",
            )
        if size_m is None or not math.isfinite(size_m) or size_m <= 0:
            raise InvalidInput(
                "size_m must be a number of metres greater than 0",
                "网格尺寸（米）须大于 0",
                field="size_m",
            )
    if label is not None and not 0 < len(label) <= 200:
        raise InvalidInput(
            "label must have 1 to 200 characters", "版本名称须为 1 至 200 个字符", field="label"
        )


def _load_community(conn: Connection, code: str) -> _Community:
    """The community's id, boundary and how many cells it has in force."""
    row = conn.execute(
        text(f"""
        SELECT r.id, ST_AsBinary(r.boundary),
               (SELECT count(*) FROM grid_cells c WHERE c.community_id = r.id
                  AND {cell_in_force()})
        FROM regions r WHERE r.code = :code AND r.level = 'community'
    """),
        {"code": code},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no community {code}", f"未找到社区 {code}")
    return _Community(row[0], code, shapely.from_wkb(bytes(row[1])), row[2])


def _building_points(conn: Connection, community: _Community) -> np.ndarray:
    """Point-on-surface of every building inside the community (the point activation
    links by), in one query."""
    wkbs = (
        conn.execute(
            text("""
        SELECT ST_AsBinary(ST_PointOnSurface(b.footprint))
        FROM buildings b JOIN regions r ON r.id = :community
        WHERE b.footprint && r.boundary
          AND ST_Covers(r.boundary, ST_PointOnSurface(b.footprint))
        ORDER BY b.id
    """),
            {"community": community.id},
        )
        .scalars()
        .all()
    )
    if not wkbs:
        raise InvalidInput(
            f"community {community.code} has no buildings to group",
            f"社区 {community.code} 没有楼栋，无法按楼栋划分",
            field="shape",
        )
    return shapely.from_wkb([bytes(w) for w in wkbs])


def _reproject(geoms, src: int, dst: int):
    """Geometries reprojected vertex by vertex (shared vertices stay shared)."""
    project = transformer(src, dst)

    def apply(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(project.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(geoms, apply)


# --- square and hexagonal tilings -----------------------------------------------------


def _tiled_cells(
    boundary: shapely.Geometry, shape: str, size: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Tiles clipped to the boundary, slivers merged; with each cell's tile centre and
    the tiling's row height (for reading order)."""
    cell_area = size * size if shape == "square" else HEX_AREA_FACTOR * size * size
    # Merged slivers never double a cell, so twice the limit is surely too many.
    _refuse_too_many(round(boundary.area / cell_area), "size_m", limit=2 * MAX_CELLS)
    make = _square_tiles if shape == "square" else _hex_tiles
    tiles, centres, row_height = make(shapely.bounds(boundary), size)
    shapely.prepare(boundary)
    hit = shapely.intersects(boundary, tiles)
    pieces, owner = _polygon_parts(shapely.intersection(tiles[hit], boundary))
    cells, anchors = _merge_slivers(pieces, centres[hit][owner], SLIVER_SHARE * cell_area)
    _refuse_too_many(len(cells), "size_m")
    return cells, anchors, row_height


def _square_tiles(bounds: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Squares from the bbox's north-west corner; edges come from one array so that
    neighbours share them exactly."""
    min_x, min_y, max_x, max_y = bounds
    cols = max(math.ceil((max_x - min_x) / size), 1)
    rows = max(math.ceil((max_y - min_y) / size), 1)
    _refuse_huge_tiling(rows * cols)
    xs = min_x + np.arange(cols + 1) * size
    ys = max_y - np.arange(rows + 1) * size
    row, col = np.divmod(np.arange(rows * cols), cols)
    tiles = shapely.box(xs[col], ys[row + 1], xs[col + 1], ys[row])
    centres = np.column_stack([(xs[col] + xs[col + 1]) / 2, (ys[row] + ys[row + 1]) / 2])
    return tiles, centres, size


# Pointy-top hexagon corners in lattice steps of (half the width, quarter the height).
_HEX_CORNERS = np.array([(0, -2), (1, -1), (1, 1), (0, 2), (-1, 1), (-1, -1), (0, -2)])


def _hex_tiles(bounds: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Pointy-top hexagons width across flats, rows from the bbox's north edge. Corners
    sit on an integer lattice so that neighbours share them exactly."""
    min_x, min_y, max_x, max_y = bounds
    half_w, quarter_h = width / 2, width / math.sqrt(3) / 2  # circumradius R = w / sqrt(3)
    row_height = 3 * quarter_h
    rows = math.ceil((max_y - min_y) / row_height) + 2
    cols = math.ceil((max_x - min_x) / width) + 2
    _refuse_huge_tiling(rows * cols)
    row, col = np.divmod(np.arange(rows * cols), cols)
    centre_i = 2 * (col - 1) + row % 2  # odd rows shift half a hexagon east
    centre_j = 3 * row
    corner_i = centre_i[:, None] + _HEX_CORNERS[:, 0]
    corner_j = centre_j[:, None] + _HEX_CORNERS[:, 1]
    corners = np.stack([min_x + corner_i * half_w, max_y - corner_j * quarter_h], axis=-1)
    centres = np.column_stack([min_x + centre_i * half_w, max_y - centre_j * quarter_h])
    return shapely.polygons(corners), centres, row_height


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each polygon of each geometry, with the index of its geometry; clipping leaves
    lines and points where a tile only touches the boundary, and those are dropped."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # A second pass flattens collections nested by make_valid.
    parts, inner = shapely.get_parts(parts, return_index=True)
    owner = owner[inner]
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep]


def _merge_slivers(
    pieces: np.ndarray, anchors: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray]:
    """Merge pieces under min_area into the neighbour sharing their longest edge (the
    nearest piece when they touch none), until none is left; a merged cell keeps the
    anchor of its largest piece."""
    while len(pieces) > 1:
        areas = shapely.area(pieces)
        small = np.flatnonzero(areas < min_area)
        if len(small) == 0:
            break
        groups = _components(len(pieces), small, _best_neighbours(pieces, small))
        frame = gpd.GeoDataFrame(
            {"group": groups, "area": areas, "x": anchors[:, 0], "y": anchors[:, 1]},
            geometry=pieces,
        )
        merged = frame.sort_values("area", ascending=False).dissolve(by="group", aggfunc="first")
        pieces = merged.geometry.to_numpy()
        anchors = merged[["x", "y"]].to_numpy()
    return pieces, anchors


def _best_neighbours(pieces: np.ndarray, small: np.ndarray) -> np.ndarray:
    """For each small piece, the piece it shares the longest edge with."""
    tree = shapely.STRtree(pieces)
    source, target = tree.query(pieces[small], predicate="dwithin", distance=EDGE_TOLERANCE_M)
    other = target != small[source]
    source, target = source[other], target[other]
    shared = shapely.length(
        shapely.intersection(
            shapely.boundary(pieces[small[source]]),
            shapely.buffer(shapely.boundary(pieces[target]), EDGE_TOLERANCE_M),
        )
    )
    best = np.full(len(small), -1)
    if len(source):
        order = np.lexsort((-shared, source))  # per small piece, the longest edge first
        source, target = source[order], target[order]
        first = np.r_[True, source[1:] != source[:-1]]
        best[source[first]] = target[first]
    lonely = np.flatnonzero(best < 0)  # islands: join the nearest piece
    if len(lonely):
        source, target = tree.query_nearest(
            pieces[small[lonely]], exclusive=True, all_matches=False
        )
        best[lonely[source]] = target
    return best


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Group label of each of n items joined by the pairs (a[i], b[i]): the smallest
    index in its group (label propagation with pointer jumping)."""
    labels = np.arange(n)
    while True:
        low = np.minimum(labels[a], labels[b])
        updated = labels.copy()
        np.minimum.at(updated, a, low)
        np.minimum.at(updated, b, low)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            return labels
        labels = updated


# --- cells grown around buildings ------------------------------------------------------


def _cells_by_buildings(
    boundary: shapely.Geometry, points: np.ndarray, per_cell: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Cells holding about per_cell buildings: balanced groups of the buildings, each cell
    the part of the community closer to its group than to any other."""
    count = math.ceil(len(points) / per_cell)
    _refuse_too_many(count, "buildings_per_cell")
    xy = shapely.get_coordinates(points)
    groups = _balanced_groups(xy, count)
    regions, region_groups = _voronoi_regions(xy, groups, boundary)
    frame = gpd.GeoDataFrame({"group": region_groups}, geometry=regions)
    dissolved = frame.dissolve(by="group").geometry.to_numpy()
    cells = shapely.intersection(dissolved, boundary)
    parts, owner = _polygon_parts(cells)
    cells = shapely.multipolygons(parts, indices=owner)
    anchors = shapely.get_coordinates(shapely.centroid(cells))
    return cells, anchors, math.sqrt(boundary.area / count)


def _balanced_groups(xy: np.ndarray, count: int) -> np.ndarray:
    """Label points 0..count-1 in groups of near-equal size: cut the longer side of the
    points' extent where the counts on each side match the groups to make there, and
    recurse (compact, balanced groups)."""
    labels = np.empty(len(xy), dtype=np.int64)
    todo = [(np.arange(len(xy)), count, 0)]
    while todo:
        members, parts, first_label = todo.pop()
        if parts == 1:
            labels[members] = first_label
            continue
        along = xy[members]
        axis = int(np.ptp(along[:, 1]) > np.ptp(along[:, 0]))
        members = members[np.lexsort((along[:, 1 - axis], along[:, axis]))]
        west_parts = parts // 2
        cut = round(len(members) * west_parts / parts)  # never leaves a side empty
        todo.append((members[:cut], west_parts, first_label))
        todo.append((members[cut:], parts - west_parts, first_label + west_parts))
    return labels


def _voronoi_regions(
    xy: np.ndarray, groups: np.ndarray, boundary: shapely.Geometry
) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi regions of the distinct points, covering the boundary, with the group of
    each region's point (buildings sharing a point share its region)."""
    distinct, first = np.unique(xy, axis=0, return_index=True)
    frame = shapely.buffer(shapely.envelope(boundary), 100.0)
    if len(distinct) == 1:
        return np.array([frame]), groups[first]
    regions = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(distinct), extend_to=frame)
    )
    point_idx, region_idx = shapely.STRtree(regions).query(
        shapely.points(distinct), predicate="within"
    )
    region_groups = np.full(len(regions), -1)
    region_groups[region_idx] = groups[first][point_idx]
    return regions, region_groups


# --- codes and storage -----------------------------------------------------------------


def _reading_order(anchors: np.ndarray, row_height: float) -> np.ndarray:
    """Indices ordering cells by rows from the north, then west to east within a row."""
    rows = np.rint((anchors[:, 1].max() - anchors[:, 1]) / row_height)
    return np.lexsort((anchors[:, 0], rows))


def _refuse_too_many(count: int, field: str, limit: int = MAX_CELLS) -> None:
    if count > limit:
        raise InvalidInput(
            f"{field} would give about {count} cells; a community holds at most {MAX_CELLS}",
            f"将得到约 {count} 个网格，每个社区最多 {MAX_CELLS} 个，请调大 {field}",
            field=field,
        )


def _refuse_huge_tiling(tiles: int) -> None:
    if tiles > MAX_TILES:
        raise InvalidInput(
            f"size_m is too small for the community's extent ({tiles} tiles to cut)",
            "网格尺寸相对社区范围过小",
            field="size_m",
        )


def _default_label(
    code: str, shape: str, size_m: float | None, buildings_per_cell: int | None
) -> str:
    if shape == "buildings":
        return f"draft {code}: about {buildings_per_cell} buildings per cell"
    return f"draft {code}: {shape} {size_m:g} m"


def _first_free_serial(conn: Connection, community: _Community) -> int:
    """The serial after the highest one this community ever used. Drafted cells are new
    areas, so they never reuse an old code: activation carries workers over by code, and
    history and incidents refer to codes."""
    highest = conn.execute(
        text("""
        SELECT max(right(code, 3)::int) FROM grid_cells WHERE community_id = :c
    """),
        {"c": community.id},
    ).scalar()
    return (highest or 0) + 1


def _insert_cells(
    conn: Connection, version_id: int, community: _Community, cells: np.ndarray, first: int
) -> None:
    """Write the cells as MultiPolygons with codes <community><first>.. in the given
    order."""
    parts, owner = _polygon_parts(cells)
    invalid = ~shapely.is_valid(parts)
    if invalid.any():  # reprojection can fold a near-degenerate corner; repair it
        parts[invalid] = shapely.make_valid(parts[invalid])
        parts, kept = _polygon_parts(parts)
        owner = owner[kept]
    multis = shapely.set_srid(shapely.multipolygons(parts, indices=owner), STORAGE_SRID)
    wkbs = shapely.to_wkb(multis, hex=True, include_srid=True)
    rows = [
        {
            "v": version_id,
            "code": f"{community.code}{seq:03d}",
            "name": f"网格{seq:03d}",
            "community": community.id,
            "wkb": wkb,
        }
        for seq, wkb in enumerate(wkbs, start=first)
    ]
    # At most 999 cells: one executemany is enough.
    conn.execute(
        text("""
        INSERT INTO grid_cells (version_id, code, name, community_id, boundary)
        VALUES (:v, :code, :name, :community, ST_GeomFromEWKB(decode(:wkb, 'hex')))
    """),
        rows,
    )
