"""The demo city's assets (部件), derived from the generated city (same seed, same
assets): hydrants, manhole covers and street lights along its roads, extinguisher
cabinets and e-bike charging points at its buildings, a few of each damaged."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from demo.city import DemoCity
from demo.city_geometry import CRS_LONLAT, WORK_EPSG
from grid.assets import ASSET_KINDS
from grid.linking import CellIndex

SOURCE = "demo"
# Metres between assets along a road, and each one's offset from the centre line (a
# hydrant or a lamp stands at the kerb; a manhole cover lies in the carriageway).
ALONG_ROADS = {
    "fire_hydrant": (250.0, 9.0),
    "street_light": (300.0, -8.0),
    "manhole_cover": (400.0, 2.0),
}
# Share of buildings (by use) with an extinguisher cabinet or an e-bike charging point.
CABINET_USES, CABINET_SHARE = ("residential", "mixed", "commercial", "public"), 0.04
CHARGER_USES, CHARGER_SHARE = ("residential", "mixed"), 0.025
DAMAGED_SHARE = 0.03


def demo_assets(city: DemoCity, seed: int = 0) -> gpd.GeoDataFrame:
    """The assets for a generated city, in lon/lat: code, kind, status, name, geometry."""
    rng = np.random.default_rng(seed + 16)
    cells = city.cells.to_crs(WORK_EPSG)
    outline = shapely.union_all(cells.geometry.to_numpy())
    roads = city.roads.to_crs(WORK_EPSG)
    parts = [_along_roads(roads, outline, kind, *spacing) for kind, spacing in ALONG_ROADS.items()]
    buildings = city.buildings.to_crs(WORK_EPSG)
    parts.append(
        _at_buildings(rng, buildings, "extinguisher_cabinet", CABINET_USES, CABINET_SHARE, 1.0)
    )
    parts.append(_at_buildings(rng, buildings, "ebike_charger", CHARGER_USES, CHARGER_SHARE, 4.0))
    assets = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs=WORK_EPSG
    )
    # The county code is the district's: the first six digits of the nearest cell's code.
    near = gpd.sjoin_nearest(assets, cells[["code", cells.geometry.name]], how="left")
    county = near[~near.index.duplicated(keep="first")]["code"].str[:6].to_numpy()
    majors = assets["kind"].map(lambda k: ASSET_KINDS[k].major).to_numpy()
    minors = assets["kind"].map(lambda k: ASSET_KINDS[k].minors[0]).to_numpy()
    classes = pd.Series([f"{c}{a}{b}" for c, a, b in zip(county, majors, minors, strict=True)])
    serial = classes.groupby(classes).cumcount() + 1
    assets["code"] = classes + serial.map("{:06d}".format)
    assets["status"] = np.where(rng.random(len(assets)) < DAMAGED_SHARE, "damaged", "in_service")
    return assets.to_crs(CRS_LONLAT)


def _along_roads(
    roads: gpd.GeoDataFrame, outline, kind: str, spacing: float, offset: float
) -> pd.DataFrame:
    """Points every `spacing` metres along each road inside the city, `offset` metres to
    its left (negative: right)."""
    lines = roads.assign(geometry=roads.geometry.intersection(outline)).explode(index_parts=False)
    lines = lines[lines.geometry.geom_type == "LineString"]
    names, points = [], []
    for name, line in zip(lines["name"], lines.geometry, strict=True):
        at = np.arange(spacing / 2, line.length, spacing)
        if len(at) == 0:
            continue
        here = shapely.line_interpolate_point(line, at)
        ahead = shapely.line_interpolate_point(line, np.minimum(at + 1.0, line.length))
        behind = shapely.line_interpolate_point(line, np.maximum(at - 1.0, 0.0))
        d = shapely.get_coordinates(ahead) - shapely.get_coordinates(behind)
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
        xy = shapely.get_coordinates(here) + normal * offset
        points.extend(shapely.points(xy))
        names.extend([f"{name}{ASSET_KINDS[kind].label_zh}"] * len(at))
    return pd.DataFrame({"kind": kind, "name": names, "geometry": points})


def _at_buildings(
    rng: np.random.Generator,
    buildings: gpd.GeoDataFrame,
    kind: str,
    uses: tuple[str, ...],
    share: float,
    outward: float,
) -> pd.DataFrame:
    """A point `outward` metres outside the walls of a share of the buildings of `uses`."""
    chosen = buildings[
        buildings["use"].isin(uses).to_numpy() & (rng.random(len(buildings)) < share)
    ]
    rings = shapely.get_exterior_ring(shapely.get_geometry(chosen.geometry.to_numpy(), 0))
    on_wall = shapely.line_interpolate_point(rings, rng.random(len(chosen)), normalized=True)
    centre = shapely.get_coordinates(shapely.centroid(chosen.geometry.to_numpy()))
    wall = shapely.get_coordinates(on_wall)
    away = wall - centre
    xy = wall + away / np.maximum(np.hypot(away[:, 0], away[:, 1]), 1e-9)[:, None] * outward
    label = ASSET_KINDS[kind].label_zh
    return pd.DataFrame(
        {
            "kind": kind,
            "name": [f"{a}{label}" for a in chosen["address"]],
            "geometry": shapely.points(xy),
        }
    )


def load_demo_assets(
    connection: Connection,
    city: DemoCity,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Replace the demo's assets with this city's, linked to the cells in force, in one
    set-based statement; returns {"city_assets": rows}."""
    (progress or (lambda _m: None))("demo assets: hydrants, lights, covers, cabinets, chargers")
    assets = demo_assets(city, seed)
    points = assets.geometry.to_numpy()
    cell_ids = CellIndex.load(connection).cell_ids_for_points(points)
    connection.execute(text("DELETE FROM city_assets WHERE source = :source"), {"source": SOURCE})
    inserted = connection.execute(
        text("""
        INSERT INTO city_assets (code, kind, status, name, cell_id, location, source)
        SELECT code, kind, status, name, NULLIF(cell_id, -1),
               ST_SetSRID(ST_MakePoint(lon, lat), 4326), :source
        FROM unnest(CAST(:codes AS text[]), CAST(:kinds AS text[]), CAST(:statuses AS text[]),
                    CAST(:names AS text[]), CAST(:cell_ids AS int[]),
                    CAST(:lons AS float8[]), CAST(:lats AS float8[]))
             AS t(code, kind, status, name, cell_id, lon, lat)
    """),
        {
            "source": SOURCE,
            "codes": assets["code"].tolist(),
            "kinds": assets["kind"].tolist(),
            "statuses": assets["status"].tolist(),
            "names": [n[:100] for n in assets["name"]],
            "cell_ids": cell_ids.tolist(),
            "lons": shapely.get_x(points).tolist(),
            "lats": shapely.get_y(points).tolist(),
        },
    ).rowcount
    return {"city_assets": inserted}


def assets_are_empty(connection: Connection) -> bool:
    """True when city_assets holds no row (of any source)."""
    return not connection.execute(text("SELECT EXISTS (SELECT 1 FROM city_assets)")).scalar()
