"""City assets (部件): the code parser, the nearby search for the report page, the tile
layer, and a report that names an asset (intake's asset_code)."""

from __future__ import annotations

import math
from contextlib import asynccontextmanager

import mapbox_vector_tile
import pytest
import shapely
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from core.errors import InvalidInput
from grid.assets import ASSET_KINDS, parse_asset_code
from incidents.asset_categories import CATEGORY_ASSET_KINDS
from tests.factories import app_on_session, make_world, metres_point

HYDRANT = "4401060116000001"
CABINET = "4401060651000002"
LAMP = "4401060118000003"
FAR_HYDRANT = "4401060116000004"
HALF_WORLD = 20037508.342789244


async def _asset(db, code: str, kind: str, x: float, y: float, status: str = "in_service"):
    lon, lat = metres_point(x, y)
    await db.execute(
        text("""
        INSERT INTO city_assets (code, kind, status, location, source, name)
        VALUES (:code, :kind, :status, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'file',
                :name)
    """),
        {
            "code": code,
            "kind": kind,
            "status": status,
            "lon": lon,
            "lat": lat,
            "name": f"{kind} {code[-3:]}",
        },
    )


@pytest.fixture
async def street(db):
    """The test world with a hydrant at (250, 250), a cabinet 20 m east, a street light
    30 m north and another hydrant 80 m west (all in cell a1)."""
    world = await make_world(db)
    await _asset(db, HYDRANT, "fire_hydrant", 250, 250)
    await _asset(db, CABINET, "extinguisher_cabinet", 270, 250)
    await _asset(db, LAMP, "street_light", 250, 280)
    await _asset(db, FAR_HYDRANT, "fire_hydrant", 170, 250)
    return world


@asynccontextmanager
async def _client(settings, db, **overrides):
    app = app_on_session(settings.model_copy(update=overrides), db)
    transport = ASGITransport(app=app, client=("198.51.100.30", 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _lonlat(x, y) -> dict[str, float]:
    lon, lat = metres_point(x, y)
    return {"lon": lon, "lat": lat}


# The parser ------------------------------------------------------------------------------


def test_the_code_splits_into_county_class_subclass_and_serial():
    parsed = parse_asset_code(" 4401060116000001 ")
    assert (parsed.county, parsed.major, parsed.minor, parsed.serial) == (
        "440106",
        "01",
        "16",
        "000001",
    )
    assert parsed.kind is ASSET_KINDS["fire_hydrant"] and str(parsed) == HYDRANT


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "440106011600000",
        "44010601160000011",
        "44010601160000０1",
        "4401060116-00001",
        "4400000116000001",
        "4401060116000000",
    ],
)
def test_anything_but_a_16_digit_county_code_is_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as error:
        parse_asset_code(bad, field="asset_code")
    assert error.value.field == "asset_code"


def test_every_kind_has_labels_and_its_own_class_codes_and_the_category_table_names_kinds():
    seen = set()
    for kind in ASSET_KINDS.values():
        assert kind.label_zh and kind.label_en and len(kind.major) == 2
        for minor in kind.minors:
            assert (kind.major, minor) not in seen
            seen.add((kind.major, minor))
    assert set(CATEGORY_ASSET_KINDS["fire.equipment"]) == {"fire_hydrant", "extinguisher_cabinet"}


# GET /assets/nearby -----------------------------------------------------------------------


async def test_nearby_offers_the_hydrant_within_50_m_measured_in_metres(client, street):
    response = await client.get(
        "/assets/nearby", params={**_lonlat(255, 250), "category": "fire.equipment"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["radius_m"] == 50 and body["limit"] == 10
    found = body["assets"]
    # Nearest first; the far hydrant (85 m) and the street light (not fire equipment) left out.
    assert [a["code"] for a in found] == [HYDRANT, CABINET]
    assert math.isclose(found[0]["distance_m"], 5, abs_tol=0.5)
    assert math.isclose(found[1]["distance_m"], 15, abs_tol=0.5)
    assert found[0]["kind"] == "fire_hydrant"
    assert found[0]["kind_label"] == {"zh-Hans": "消火栓", "en": "Fire hydrant"}
    assert set(found[0]) == {
        "code",
        "kind",
        "kind_label",
        "status",
        "name",
        "distance_m",
        "lon",
        "lat",
    }


async def test_nearby_filters_by_kind_and_a_category_without_assets_offers_none(client, street):
    lamps = (
        await client.get(
            "/assets/nearby",
            params=[
                ("lon", _lonlat(250, 260)["lon"]),
                ("lat", _lonlat(250, 260)["lat"]),
                ("kind", "street_light"),
            ],
        )
    ).json()["assets"]
    assert [a["code"] for a in lamps] == [LAMP]
    anything = (await client.get("/assets/nearby", params=_lonlat(250, 260))).json()["assets"]
    assert {a["code"] for a in anything} == {HYDRANT, CABINET, LAMP}
    none = (
        await client.get(
            "/assets/nearby", params={**_lonlat(250, 260), "category": "community.noise"}
        )
    ).json()["assets"]
    assert none == []


async def test_nearby_returns_at_most_10_and_leaves_removed_assets_out(client, db, street):
    for i in range(12):
        await _asset(db, f"4401060114{i + 100:06d}", "manhole_cover", 250 + i, 240)
    await _asset(db, "4401060114000999", "manhole_cover", 250, 241, status="removed")
    found = (
        await client.get("/assets/nearby", params={**_lonlat(250, 240), "kind": "manhole_cover"})
    ).json()["assets"]
    assert len(found) == 10
    assert "4401060114000999" not in {a["code"] for a in found}


async def test_nearby_refuses_bad_input_naming_the_parameter(client, street):
    for params, field in [
        ({"lon": 200, "lat": 22.5}, "lon"),
        ({"lon": 114.0}, "lat"),
        ({**_lonlat(250, 250), "kind": "spaceship"}, "kind"),
    ]:
        response = await client.get("/assets/nearby", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["fields"][0]["field"] == field


async def test_nearby_is_rate_limited_like_the_other_public_searches(db, settings, street):
    limits = {**settings.rate_limits, "search.ip": "2/3600"}
    async with _client(settings, db, rate_limits_enabled=True, rate_limits=limits) as client:
        codes = [
            (await client.get("/assets/nearby", params=_lonlat(250, 250))).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 429]


async def test_kinds_lists_the_vocabulary_with_its_categories(client):
    kinds = {k["kind"]: k for k in (await client.get("/assets/kinds")).json()["kinds"]}
    assert set(kinds) == set(ASSET_KINDS)
    assert kinds["fire_hydrant"]["categories"] == ["fire.equipment"]
    assert kinds["fire_hydrant"]["label"]["zh-Hans"] == "消火栓"


# Tiles -------------------------------------------------------------------------------------


def _tile_of(mx: float, my: float, z: int) -> tuple[int, int]:
    width = 2 * HALF_WORLD / 2**z
    return math.floor((mx + HALF_WORLD) / width), math.floor((HALF_WORLD - my) / width)


async def test_asset_tiles_from_z15_carry_code_kind_and_status_only(client, db, street):
    mx, my = (
        await db.execute(
            text(
                "SELECT ST_X(location_3857), ST_Y(location_3857) FROM city_assets WHERE code = :c"
            ),
            {"c": HYDRANT},
        )
    ).one()
    x, y = _tile_of(mx, my, 16)
    response = await client.get(f"/tiles/assets/16/{x}/{y}.mvt")
    assert response.status_code == 200
    features = mapbox_vector_tile.decode(response.content)["assets"]["features"]
    by_code = {f["properties"]["code"]: f["properties"] for f in features}
    assert by_code[HYDRANT] == {"code": HYDRANT, "kind": "fire_hydrant", "status": "in_service"}
    x, y = _tile_of(mx, my, 14)
    assert (await client.get(f"/tiles/assets/14/{x}/{y}.mvt")).status_code == 204


# Reports naming an asset -------------------------------------------------------------------


async def _report(client, x, y, **extra):
    return await client.post(
        "/reports",
        json={"category": "fire.equipment", **_lonlat(x, y), "description": "消火栓损坏", **extra},
    )


async def test_a_report_picking_the_hydrant_carries_it(client, db, street):
    response = await _report(client, 255, 250, asset_code=HYDRANT)
    assert response.status_code == 201, response.text
    stored = (
        await db.execute(
            text(
                "SELECT a.code FROM incidents i JOIN city_assets a ON a.id = i.asset_id "
                "WHERE i.tracking_number = :t"
            ),
            {"t": response.json()["tracking_number"]},
        )
    ).scalar()
    assert stored == HYDRANT


async def test_a_report_without_an_asset_is_filed_as_before(client, db, street):
    response = await _report(client, 255, 250)
    assert response.status_code == 201, response.text
    assert (
        await db.execute(
            text("SELECT asset_id FROM incidents WHERE tracking_number = :t"),
            {"t": response.json()["tracking_number"]},
        )
    ).scalar() is None


@pytest.mark.parametrize(
    "case", ["far", "unknown", "malformed", "wrong_kind", "category_without_assets"]
)
async def test_an_asset_that_does_not_fit_is_refused_naming_asset_code(client, db, street, case):
    extra = {
        "far": {"asset_code": FAR_HYDRANT},  # 85 m from the pin
        "unknown": {"asset_code": "4401060116999999"},
        "malformed": {"asset_code": "hydrant-1"},
        "wrong_kind": {"asset_code": LAMP},  # a street light is no fire equipment
        "category_without_assets": {"asset_code": HYDRANT, "category": "community.noise"},
    }[case]
    before = (await db.execute(text("SELECT count(*) FROM incidents"))).scalar()
    response = await _report(client, 255, 250, **extra)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "asset_code"
    assert (await db.execute(text("SELECT count(*) FROM incidents"))).scalar() == before


# The demo city ------------------------------------------------------------------------------

DEMO_SEED = 20261124


@pytest.fixture(scope="module")
def demo_city():
    """The demo city as `gridgov demo` generates it."""
    from demo.city import generate_demo_city

    return generate_demo_city(seed=DEMO_SEED)


def test_the_demo_city_gets_a_few_thousand_valid_assets_the_same_each_time(demo_city):
    from demo.assets import demo_assets
    from grid.importing.assets import kind_for

    assets = demo_assets(demo_city, DEMO_SEED)
    again = demo_assets(demo_city, DEMO_SEED)
    assert assets["code"].tolist() == again["code"].tolist()
    assert assets.geometry.geom_equals_exact(again.geometry, 0).all()
    assert 3000 <= len(assets) <= 10_000
    assert set(assets["kind"]) == set(ASSET_KINDS) and assets["code"].is_unique
    for code, kind in zip(assets["code"], assets["kind"], strict=True):
        assert kind_for(parse_asset_code(code), kind).key == kind
    # Counties are the demo's districts.
    districts = set(demo_city.regions.loc[demo_city.regions["level"] == "district", "code"])
    assert set(assets["code"].str[:6]) <= districts


def test_hydrants_stand_by_roads_and_cabinets_by_buildings(demo_city):
    from demo.assets import demo_assets
    from demo.city_geometry import WORK_EPSG

    assets = demo_assets(demo_city, DEMO_SEED).to_crs(WORK_EPSG)
    roads = shapely.union_all(demo_city.roads.to_crs(WORK_EPSG).geometry.to_numpy())
    hydrants = assets[assets["kind"] == "fire_hydrant"].geometry
    assert (hydrants.distance(roads) < 10).all()
    footprints = shapely.union_all(demo_city.buildings.to_crs(WORK_EPSG).geometry.to_numpy())
    cabinets = assets[assets["kind"] == "extinguisher_cabinet"].geometry
    assert (cabinets.distance(footprints) < 2).all()


def test_the_demo_command_loads_the_assets_linked_to_cells(
    sync_engine, settings, demo_city, monkeypatch
):
    from contextlib import contextmanager

    from click.testing import CliRunner

    import cli.demo
    import cli.main
    import demo.city
    from demo.load import load_demo_city

    with sync_engine.connect() as conn:
        outer = conn.begin()
        try:
            # A demo loaded before assets existed: --skip-if-loaded gives it its assets.
            load_demo_city(
                conn, demo_city, "$argon2id$dummy", settings.id_hash_key.get_secret_value().encode()
            )

            @contextmanager
            def this_connection():
                yield conn

            monkeypatch.setattr(cli.demo, "bulk_transaction", this_connection)
            monkeypatch.setattr(cli.demo, "_ensure_demo_secrets", lambda: None)
            monkeypatch.setattr(
                demo.city, "generate_demo_city", lambda seed, progress=None: demo_city
            )
            result = CliRunner().invoke(
                cli.main.main, ["demo", "--skip-if-loaded", "--seed", str(DEMO_SEED)]
            )
            assert result.exit_code == 0, result.output
            total, linked, kinds = conn.execute(
                text(
                    "SELECT count(*), count(cell_id), count(DISTINCT kind) FROM city_assets "
                    "WHERE source = 'demo'"
                )
            ).one()
            assert total >= 3000 and kinds == len(ASSET_KINDS)
            assert linked >= total * 0.95  # a few kerbside points fall just outside the city
        finally:
            outer.rollback()


# OGC API Features ------------------------------------------------------------------------------


async def test_the_ogc_collection_serves_assets_with_public_fields_and_filters(client, db, street):
    await _asset(db, "4401060114000777", "manhole_cover", 300, 300, status="removed")
    listed = (await client.get("/ogc/collections")).json()["collections"]
    assert "assets" in {c["id"] for c in listed}
    page = (await client.get("/ogc/collections/assets/items", params={"limit": 100})).json()
    by_code = {f["id"]: f for f in page["features"]}
    assert set(by_code) == {HYDRANT, CABINET, LAMP, FAR_HYDRANT}  # the removed one left out
    hydrant = by_code[HYDRANT]
    assert hydrant["properties"] == {
        "code": HYDRANT,
        "kind": "fire_hydrant",
        "status": "in_service",
        "name": "fire_hydrant 001",
    }
    lon, lat = metres_point(250, 250)
    assert hydrant["geometry"]["type"] == "Point"
    assert math.isclose(hydrant["geometry"]["coordinates"][0], lon, abs_tol=1e-6)
    assert math.isclose(hydrant["geometry"]["coordinates"][1], lat, abs_tol=1e-6)
    hydrants = (
        await client.get("/ogc/collections/assets/items", params={"kind": "fire_hydrant"})
    ).json()["features"]
    assert {f["id"] for f in hydrants} == {HYDRANT, FAR_HYDRANT}
    west, south = metres_point(200, 200)
    east, north = metres_point(300, 300)
    boxed = (
        await client.get(
            "/ogc/collections/assets/items", params={"bbox": f"{west},{south},{east},{north}"}
        )
    ).json()["features"]
    assert {f["id"] for f in boxed} == {HYDRANT, CABINET, LAMP}
    one = await client.get(f"/ogc/collections/assets/items/{CABINET}")
    assert one.status_code == 200 and one.json()["properties"]["kind"] == "extinguisher_cabinet"
    assert (await client.get("/ogc/collections/assets/items/123")).status_code == 404
    queryables = (await client.get("/ogc/collections/assets/queryables")).json()
    assert set(queryables["properties"]) == {"code", "kind", "status"}
