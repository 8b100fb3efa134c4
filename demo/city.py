"""A deterministic synthetic demo city: regions, grid cells, buildings, workers and accounts,
and the people living in it (`demo.people`).

Pure geometry, no database: `generate_demo_city` builds everything in metres (UTM 49N)
from roads (`demo.city_roads`), cells and regions (`demo.city_cells`), buildings
(`demo.city_buildings`) and staff (`demo.city_staff`), then hands lon/lat (EPSG:4326)
results to `demo.load`. The same seed gives the same city, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from demo.city_buildings import city_buildings
from demo.city_cells import (
    assign_hierarchy,
    blocks,
    cells_lonlat,
    merge_small_faces,
    merge_superblocks,
    regions_of_cells,
)
from demo.city_geometry import CENTER_LAT, CENTER_LON, WORK_EPSG
from demo.city_roads import city_outline, road_frame, road_network
from demo.city_staff import DemoAssignment, DemoPerson, city_staff
from demo.people import DemoPopulation, generate_demo_population
from demo.seed import DEFAULT_SEED
from gis.crs import STORAGE_SRID, transformer


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


def generate_demo_city(
    seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> DemoCity:
    """Build the whole synthetic city for a seed; the same seed gives the same city."""
    report = progress or (lambda _message: None)
    rng = np.random.default_rng(seed)
    cx, cy = transformer(STORAGE_SRID, WORK_EPSG).transform(CENTER_LON, CENTER_LAT)

    report("demo city: outline and road network")
    outline = city_outline(rng, cx, cy)
    roads = road_network(rng, outline)

    report("demo city: blocks between the roads")
    faces = blocks(outline, roads)
    faces = merge_small_faces(faces)
    faces = merge_superblocks(rng, faces)

    report(f"demo city: {len(faces)} grid cells into districts, streets and communities")
    cells_m = assign_hierarchy(rng, faces, roads)
    cells = cells_lonlat(cells_m)
    regions = regions_of_cells(cells, cells_m)

    report("demo city: building footprints")
    buildings = city_buildings(rng, cells_m, roads)

    report("demo city: grid workers, managers and demo accounts")
    people = city_staff(seed, rng, cells_m, regions)

    report(f"demo city: {len(regions)} regions, {len(cells)} cells, {len(buildings)} buildings")
    report("demo city: houses, households and people")
    population = generate_demo_population(seed, buildings, progress=report)
    return DemoCity(
        regions=regions,
        cells=cells,
        buildings=buildings,
        roads=road_frame(roads),
        population=population,
        **people,
    )
