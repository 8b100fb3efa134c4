"""A large synthetic district for the register benchmark, drawn in metres in EPSG:4547.

One city > district > street > 100 communities; a square of jittered quadrilateral grid
cells (100 m, neighbours share their vertices, so the cells tile the district with no gap
or overlap); small rotated rectangular buildings well inside the cells. Everything comes
from one numpy seed, so the same arguments give the same files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import Polygon

from gis.crs import STORAGE_SRID, transformer
from grid.models import BUILDING_USES

BENCH_CRS = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E, as in tests/factories.py
ORIGIN = (505_000.0, 2_494_000.0)  # south-west corner, ~114.05E 22.55N
CELL_SIZE = 100.0
JITTER = 12.0  # metres a shared vertex moves, so cells are not axis-aligned squares
COMMUNITIES_PER_SIDE = 10  # 100 communities
CITY_CODE, DISTRICT_CODE, STREET_CODE = "770100", "770101", "770101001"
USE_SHARES = (0.55, 0.15, 0.08, 0.05, 0.05, 0.07, 0.05)  # in BUILDING_USES order
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
)
WRITE_CHUNK = 100_000

Say = Callable[[str], None]


@dataclass(frozen=True)
class Region:
    """A region row to insert: code, name, level, parent code, outline in BENCH_CRS."""

    code: str
    name: str
    level: str
    parent: str | None
    outline: Polygon


@dataclass(frozen=True)
class District:
    """The grid's vertices in metres (BENCH_CRS), indexed [ix, iy] from the south-west."""

    side: int
    nodes: np.ndarray  # (side + 1, side + 1, 2)

    @property
    def cells_per_community_side(self) -> int:
        return self.side // COMMUNITIES_PER_SIDE

    def regions(self) -> list[Region]:
        """City, district and street share the district's outline; then the communities."""
        whole = self._block_outline(0, 0, self.side)
        regions = [
            Region(CITY_CODE, "基准市", "city", None, whole),
            Region(DISTRICT_CODE, "基准区", "district", CITY_CODE, whole),
            Region(STREET_CODE, "基准街道", "street", DISTRICT_CODE, whole),
        ]
        k = self.cells_per_community_side
        for cy in range(COMMUNITIES_PER_SIDE):
            for cx in range(COMMUNITIES_PER_SIDE):
                number = cy * COMMUNITIES_PER_SIDE + cx + 1
                regions.append(
                    Region(
                        community_code(number),
                        f"基准{number}社区",
                        "community",
                        STREET_CODE,
                        self._block_outline(cx * k, cy * k, k),
                    )
                )
        return regions

    def cells(self) -> gpd.GeoDataFrame:
        """Every cell with its 15-digit code and name, ordered by code."""
        ix, iy = np.meshgrid(np.arange(self.side), np.arange(self.side), indexing="ij")
        ix, iy = ix.ravel(), iy.ravel()
        k = self.cells_per_community_side
        community = (iy // k) * COMMUNITIES_PER_SIDE + (ix // k) + 1
        number = (iy % k) * k + (ix % k) + 1
        codes = np.array(
            [
                community_code(c) + f"{n:03d}"
                for c, n in zip(community.tolist(), number.tolist(), strict=True)
            ]
        )
        order = np.argsort(codes, kind="stable")
        ix, iy, codes = ix[order], iy[order], codes[order]
        corners = self.corners(ix, iy)
        ring = np.stack([*corners, corners[0]], axis=1)  # (n, 5, 2), counter-clockwise
        return gpd.GeoDataFrame(
            {"code": codes, "name": [f"网格{c[-6:]}" for c in codes], "ix": ix, "iy": iy},
            geometry=shapely.polygons(ring),
            crs=BENCH_CRS,
        )

    def corners(self, ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, ...]:
        """South-west, south-east, north-east, north-west corners of cells (ix, iy)."""
        n = self.nodes
        return n[ix, iy], n[ix + 1, iy], n[ix + 1, iy + 1], n[ix, iy + 1]

    def _block_outline(self, x0: int, y0: int, size: int) -> Polygon:
        """The ring of grid vertices around a square block of cells (shared exactly with
        the cells on its edge, so communities and cells agree to the last bit)."""
        n, x1, y1 = self.nodes, x0 + size, y0 + size
        ring = [
            *(n[i, y0] for i in range(x0, x1)),
            *(n[x1, j] for j in range(y0, y1)),
            *(n[i, y1] for i in range(x1, x0, -1)),
            *(n[x0, j] for j in range(y1, y0, -1)),
        ]
        return Polygon(ring)


def community_code(number: int) -> str:
    """The 12-digit code of community `number` (1-based) of the benchmark street."""
    return f"{STREET_CODE}{number:03d}"


def make_district(cells: int, seed: int) -> District:
    """A square district of `cells` cells; vertices jittered, outline kept straight."""
    side = math.isqrt(cells)
    if side * side != cells or side % COMMUNITIES_PER_SIDE:
        raise ValueError(
            f"--cells must be a square of a multiple of {COMMUNITIES_PER_SIDE} "
            f"(e.g. 10000 = 100 x 100), got {cells}"
        )
    if (side // COMMUNITIES_PER_SIDE) ** 2 > 999:
        raise ValueError("too many cells per community for a 3-digit cell number")
    rng = np.random.default_rng(seed)
    grid = np.arange(side + 1, dtype=float) * CELL_SIZE
    nodes = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)
    jitter = rng.uniform(-JITTER, JITTER, size=nodes.shape)
    jitter[[0, -1], :, 0] = 0.0  # west and east edges stay on their line
    jitter[:, [0, -1], 1] = 0.0  # south and north edges too
    nodes = nodes + jitter + np.asarray(ORIGIN)
    return District(side, nodes)


def make_buildings(
    district: District, cells: gpd.GeoDataFrame, count: int, seed: int
) -> gpd.GeoDataFrame:
    """`count` rotated rectangles (6-16 m x 5-12 m) spread evenly over the cells, each
    well inside its cell (centre in the middle half of the cell's bilinear square)."""
    rng = np.random.default_rng(seed + 1)
    per_cell = np.full(len(cells), count // len(cells))
    per_cell[: count % len(cells)] += 1
    cell_of = np.repeat(np.arange(len(cells)), per_cell)
    ix, iy = cells["ix"].to_numpy()[cell_of], cells["iy"].to_numpy()[cell_of]
    a, b, c, d = district.corners(ix, iy)
    u = rng.uniform(0.25, 0.75, (count, 1))
    v = rng.uniform(0.25, 0.75, (count, 1))
    centre = (1 - u) * (1 - v) * a + u * (1 - v) * b + u * v * c + (1 - u) * v * d
    half = np.column_stack([rng.uniform(3, 8, count), rng.uniform(2.5, 6, count)])
    angle = rng.uniform(0, math.pi, count)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    signs = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    local = signs[None, :, :] * half[:, None, :]  # (count, 5, 2)
    ring = np.empty_like(local)
    ring[..., 0] = centre[:, None, 0] + local[..., 0] * cos - local[..., 1] * sin
    ring[..., 1] = centre[:, None, 1] + local[..., 0] * sin + local[..., 1] * cos

    first_in_cell = np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
    house_no = (np.arange(count) - first_in_cell) * 2 + 1
    roads = np.array(ROAD_STEMS)[iy % len(ROAD_STEMS)]
    return gpd.GeoDataFrame(
        {
            "external_id": [f"BJ{i:07d}" for i in range(count)],
            "address": [
                f"{r}路{ix_}-{n}号"
                for r, ix_, n in zip(roads.tolist(), ix.tolist(), house_no.tolist(), strict=True)
            ],
            "use": rng.choice(np.array(BUILDING_USES), size=count, p=USE_SHARES),
            "floors": rng.integers(1, 34, count).astype("int32"),
        },
        geometry=shapely.polygons(ring),
        crs=BENCH_CRS,
    )


def write_geopackage(frame: gpd.GeoDataFrame, path: Path, layer: str, say: Say) -> None:
    """Write in chunks (progress per chunk) to a temporary name, then rename, so an
    interrupted run never leaves a half-written file under the final name."""
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    partial.unlink(missing_ok=True)
    for start in range(0, len(frame), WRITE_CHUNK):
        chunk = frame.iloc[start : start + WRITE_CHUNK]
        pyogrio.write_dataframe(
            chunk, partial, layer=layer, driver="GPKG", geometry_type="Polygon", append=start > 0
        )
        say(f"  {layer}: {min(start + WRITE_CHUNK, len(frame)):,} / {len(frame):,} written")
    os.replace(partial, path)


def random_points(district: District, count: int, seed: int) -> np.ndarray:
    """`count` lon/lat points spread uniformly over the district, shape (count, 2)."""
    rng = np.random.default_rng(seed + 2)
    span = district.side * CELL_SIZE
    x = ORIGIN[0] + rng.uniform(0, span, count)
    y = ORIGIN[1] + rng.uniform(0, span, count)
    lon, lat = transformer(BENCH_CRS, STORAGE_SRID).transform(x, y)
    return np.column_stack([lon, lat])
