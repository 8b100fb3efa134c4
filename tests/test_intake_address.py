"""A report filed by pin alone takes the nearest building's address at intake (within
50 m, measured in metres); one that gives an address keeps it; staff lists show it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from tests.factories import assign, auth_headers, make_building, make_user, make_world, metres_point

EBIKE = "fire.ebike_indoor"


@pytest.fixture
async def scene(db):
    """Cell a1 with its worker and two buildings: 'near' at 100..140 m and 'far' at
    300..340 m (x), both 100..140 m (y)."""
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    await make_building(db, world.cell_a1, (100, 100, 140, 140), address="幸福路8号")
    await make_building(db, world.cell_a1, (300, 100, 340, 140), address="幸福路20号")
    return world, worker


def _at(x: float, y: float, **extra) -> dict:
    lon, lat = metres_point(x, y)
    return {"category": EBIKE, "lon": lon, "lat": lat, **extra}


async def _address(db, number: str) -> str | None:
    return (await db.execute(text("SELECT address FROM incidents WHERE tracking_number = :t"),
                             {"t": number})).scalar_one()


async def _file(client, body: dict) -> str:
    response = await client.post("/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def test_a_pin_inside_a_building_takes_its_address(client, db, scene):
    number = await _file(client, _at(120, 120))
    assert await _address(db, number) == "幸福路8号"


async def test_a_pin_outside_takes_the_nearest_building_within_50_m(client, db, scene):
    # 30 m east of 'near', 130 m west of 'far': the nearer one, not the first found.
    assert await _address(db, await _file(client, _at(170, 120))) == "幸福路8号"
    # 25 m west of 'far', 135 m east of 'near'.
    assert await _address(db, await _file(client, _at(275, 120))) == "幸福路20号"


async def test_a_pin_beyond_50_m_of_every_building_has_no_address(client, db, scene):
    # 60 m south of 'near' (and further from 'far'): metres, not degrees, decide.
    assert await _address(db, await _file(client, _at(120, 40))) is None
    assert await _address(db, await _file(client, _at(450, 450))) is None


async def test_a_given_address_is_kept(client, db, scene):
    number = await _file(client, _at(120, 120, address="幸福路8号3单元楼道"))
    assert await _address(db, number) == "幸福路8号3单元楼道"


async def test_intake_is_still_one_statement(client, db, scene, monkeypatch):
    """The lookup runs inside the intake statement: filing a report without photos runs
    one INSERT ... statement (plus the category read), no separate address query."""
    from incidents import intake

    seen: list[str] = []
    real = db.execute

    async def spy(statement, *args, **kwargs):
        seen.append(str(statement))
        return await real(statement, *args, **kwargs)

    monkeypatch.setattr(db, "execute", spy)
    await _file(client, _at(170, 120))
    writes = [s for s in seen if "INSERT INTO incidents" in s]
    assert len(writes) == 1 and "nearest_address" in writes[0]
    assert not [s for s in seen if "FROM buildings" in s and s not in writes]
    assert intake.ADDRESS_RADIUS_M == 50.0


async def test_staff_see_the_address_in_the_work_list_and_the_incident(
    client, db, scene, settings
):
    _world, worker = scene
    number = await _file(client, _at(170, 120))
    headers = auth_headers(worker, settings)
    listed = await client.get("/incidents", params={"view": "mine"}, headers=headers)
    assert listed.status_code == 200, listed.text
    mine = {item["tracking_number"]: item for item in listed.json()["items"]}
    assert mine[number]["address"] == "幸福路8号"
    one = await client.get(f"/incidents/{number}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["address"] == "幸福路8号"
