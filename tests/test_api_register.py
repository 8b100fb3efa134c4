"""Public read endpoints: health, region tree, cells and buildings as bounded GeoJSON."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient
from shapely.geometry import shape

from api.app import create_app
from tests.factories import make_building, make_world, metres_box, metres_point


async def test_health_reports_the_database_and_postgis(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["postgis"].startswith("3.")


async def test_app_lifespan_creates_and_disposes_the_engine(settings, migrated_db):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/health")).status_code == 200
        assert app.state.engine is not None


async def test_region_tree_nests_city_district_street_community(client, db):
    world = await make_world(db)
    tree = (await client.get("/regions")).json()
    city = next(n for n in tree if n["code"] == world.city.code)
    street = city["children"][0]["children"][0]
    assert [c["code"] for c in street["children"]] == [
        world.community_a.code,
        world.community_b.code,
    ]
    assert street["children"][0]["cell_count"] == 2


async def test_region_feature_has_boundary_and_area_in_square_metres(client, db):
    world = await make_world(db)
    body = (await client.get(f"/regions/{world.community_a.code}")).json()
    assert body["type"] == "Feature"
    assert body["properties"]["parent_code"] == world.street.code
    # 1000 m x 500 m drawn in a projected CRS: the spheroidal area is ~500,000 m².
    assert abs(body["properties"]["area_m2"] - 500_000) < 500_000 * 0.01
    assert shape(body["geometry"]).equals_exact(metres_box(0, 0, 1000, 500), 1e-7)


async def test_unknown_region_is_404_in_the_error_shape(client):
    response = await client.get("/regions/990199")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"status", "code", "message", "fields"}


async def test_cells_are_filtered_by_bbox(client, db):
    world = await make_world(db)
    lon0, lat0 = metres_point(1100, 100)
    lon1, lat1 = metres_point(1200, 200)
    response = await client.get("/cells", params={"bbox": f"{lon0},{lat0},{lon1},{lat1}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    codes = [f["properties"]["code"] for f in response.json()["features"]]
    assert codes == [world.cell_b1.code]


async def test_cells_page_with_a_next_link_until_the_last_page(client, db):
    world = await make_world(db)
    lon0, lat0 = metres_point(-10, -10)
    lon1, lat1 = metres_point(1510, 510)
    url = f"/cells?bbox={lon0},{lat0},{lon1},{lat1}&limit=2"
    seen = []
    while url:
        body = (await client.get(url)).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == [world.cell_a1.code, world.cell_a2.code, world.cell_b1.code]


async def test_cells_reject_a_bad_bbox_naming_the_field(client):
    for bad in ("1,2,3", "a,b,c,d", "10,10,5,20", "0,0,200,10"):
        response = await client.get("/cells", params={"bbox": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["fields"][0]["field"] == "bbox"


async def test_cells_reject_a_limit_out_of_range(client):
    response = await client.get("/cells", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "limit"


async def test_buildings_need_a_bbox(client):
    response = await client.get("/buildings")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "bbox"


async def test_buildings_in_bbox_carry_address_and_cell(client, db):
    world = await make_world(db)
    await make_building(db, world.cell_a1, (100, 100, 130, 120), address="测试路1号")
    await make_building(db, world.cell_b1, (1100, 100, 1130, 120), address="测试路9号")
    lon0, lat0 = metres_point(0, 0)
    lon1, lat1 = metres_point(500, 500)
    body = (await client.get("/buildings", params={"bbox": f"{lon0},{lat0},{lon1},{lat1}"})).json()
    assert [f["properties"]["address"] for f in body["features"]] == ["测试路1号"]
    assert body["features"][0]["properties"]["cell_code"] == world.cell_a1.code


async def test_english_error_messages_on_request(client):
    response = await client.get("/regions/990199", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.json()["error"]["message"].startswith("No region")


async def test_unknown_route_uses_the_error_shape(client):
    response = await client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
