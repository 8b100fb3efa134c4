"""Point lookup: edges, vertices, near misses, far misses, and the fallback chain."""

from __future__ import annotations

from datetime import date

from grid.lookup import lookup_point
from tests.factories import assign, auth_headers, make_user, make_world, metres_point

DAY = date(2026, 3, 1)


async def test_point_inside_a_cell_finds_cell_regions_and_primary_worker(db):
    world = await make_world(db)
    worker = await make_user(db, "worker-a1", "grid_worker", world.community_a, "张伟")
    await assign(db, world.cell_a1, worker)
    result = await lookup_point(db, *metres_point(250, 250), DAY)
    assert result.match == "inside"
    assert result.cell["code"] == world.cell_a1.code
    assert [r["level"] for r in result.regions] == ["city", "district", "street", "community"]
    assert result.regions[-1]["code"] == world.community_a.code
    assert result.responsible["username"] == "worker-a1"
    assert result.responsible["level"] == "primary"


async def test_point_on_a_shared_edge_resolves_to_one_cell_every_time(db):
    world = await make_world(db)
    # x = 500 m is the edge shared by cells a1 and a2.
    lon, lat = metres_point(500, 250)
    codes = {(await lookup_point(db, lon, lat, DAY)).cell["code"] for _ in range(3)}
    assert codes == {world.cell_a1.code}  # the smaller code wins, always


async def test_point_on_a_shared_vertex_resolves_to_one_cell(db):
    world = await make_world(db)
    lon, lat = metres_point(1000, 500)  # corner shared by a2 and b1
    result = await lookup_point(db, lon, lat, DAY)
    assert result.match == "inside"
    assert result.cell["code"] == world.cell_a2.code


async def test_point_just_outside_goes_to_the_nearest_cell(db):
    world = await make_world(db)
    result = await lookup_point(db, *metres_point(1200, 520), DAY)  # 20 m north of b1
    assert result.match == "nearest"
    assert result.cell["code"] == world.cell_b1.code
    assert 15 < result.cell["distance_m"] < 25


async def test_point_far_outside_every_cell_has_no_cell(db):
    await make_world(db)
    result = await lookup_point(db, *metres_point(1200, 900), DAY)  # 400 m out
    assert result.match == "outside"
    assert result.cell is None
    assert result.responsible is None


async def test_backup_answers_when_no_primary_is_in_force(db):
    world = await make_world(db)
    primary = await make_user(db, "worker-p", "grid_worker", world.community_a)
    backup = await make_user(db, "worker-b", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, primary, valid_to=date(2026, 2, 1))
    await assign(db, world.cell_a1, backup, kind="backup")
    result = await lookup_point(db, *metres_point(250, 250), DAY)
    assert result.responsible["username"] == "worker-b"
    assert result.responsible["level"] == "backup"


async def test_community_manager_answers_for_a_cell_without_workers(db):
    world = await make_world(db)
    await make_user(db, "cm-b", "community_manager", world.community_b)
    await make_user(db, "street-1", "street_manager", world.street)
    result = await lookup_point(db, *metres_point(1250, 250), DAY)
    assert result.responsible["username"] == "cm-b"
    assert result.responsible["level"] == "community_manager"


async def test_draft_cells_are_not_used_for_lookups(db):
    from tests.factories import make_cell, make_version

    world = await make_world(db)
    draft = await make_version(db, status="draft")
    await make_cell(db, "880101001001000", world.community_a, (0, 0, 500, 500), draft)
    result = await lookup_point(db, *metres_point(250, 250), DAY)
    assert result.cell["code"] == world.cell_a1.code


async def test_lookup_api_hides_worker_identity_from_the_public(client, db, settings):
    world = await make_world(db)
    worker = await make_user(
        db, "worker-a1", "grid_worker", world.community_a, "张伟", phone="13912345678"
    )
    await assign(db, world.cell_a1, worker)
    lon, lat = metres_point(250, 250)
    params = {"lon": lon, "lat": lat, "on": DAY.isoformat()}
    public = await client.get("/lookup", params=params)
    assert public.status_code == 200
    assert public.json()["responsible"] == {"level": "primary"}
    assert "张伟" not in public.text and "13912345678" not in public.text
    staff = await client.get("/lookup", params=params, headers=auth_headers(worker, settings))
    assert staff.json()["responsible"]["display_name"] == "张伟"


async def test_lookup_api_rejects_out_of_range_coordinates(client):
    response = await client.get("/lookup", params={"lon": 200, "lat": 10})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "lon"


async def test_lookup_on_a_date_names_the_cell_in_force_then(client, db):
    world = await make_world(db)  # cells in force since 2026-01-01
    lon, lat = metres_point(250, 250)
    then = await client.get("/lookup", params={"lon": lon, "lat": lat, "on": "2026-03-01"})
    assert then.json()["cell_code_on_date"] == world.cell_a1.code
    before = await client.get("/lookup", params={"lon": lon, "lat": lat, "on": "2025-12-01"})
    assert before.json()["cell_code_on_date"] is None
