"""Fire damage declarations: declared at a house, routed to the cell's worker, verified on
site, followed by the declarer and no one else."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_household,
    make_user,
    make_world,
)


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    building = await make_building(db, world.cell_a1, (100, 100, 140, 130), address="测试路9号")
    household = await make_household(db, building, "2单元502")
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "declarer": await make_user(db, "res-1", "resident"),
        "neighbour": await make_user(db, "res-2", "resident"),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    return world, building, household, users


def _declaration(building, **extra):
    return {
        "building_id": building.id,
        "unit_number": "2单元502",
        "fire_date": (date.today() - timedelta(days=1)).isoformat(),
        "what_burned": "厨房橱柜、冰箱",
        "estimated_loss": "12000.50",
        **extra,
    }


async def test_a_declaration_goes_to_the_cells_worker_and_the_declarer_follows_it(
    client, db, settings, scene
):
    world, building, household, users = scene
    response = await client.post(
        "/damage-declarations",
        json=_declaration(building),
        headers=auth_headers(users["declarer"], settings),
    )
    assert response.status_code == 201, response.text
    number = response.json()["tracking_number"]
    assert response.json()["cell_code"] == world.cell_a1.code
    stored = (
        await db.execute(
            text("""
        SELECT d.household_id, d.estimated_loss, u.username FROM damage_declarations d
        JOIN incidents i ON i.id = d.incident_id JOIN users u ON u.id = i.assignee_id
        WHERE i.tracking_number = :t"""),
            {"t": number},
        )
    ).one()
    assert (stored[0], str(stored[1]), stored[2]) == (household.id, "12000.50", "w-a1")

    worker = auth_headers(users["worker"], settings)
    await client.post(f"/incidents/{number}/actions", json={"action": "accept"}, headers=worker)
    verified = await client.post(
        f"/damage-declarations/{number}/verify",
        headers=worker,
        json={"verified_loss": "9800", "note": "现场核实厨房烧毁"},
    )
    assert verified.status_code == 200, verified.text
    view = (
        await client.get(
            f"/damage-declarations/{number}", headers=auth_headers(users["declarer"], settings)
        )
    ).json()
    assert (view["status"], view["estimated_loss"], view["verified_loss"]) == (
        "resolved",
        "12000.50",
        "9800.00",
    )
    assert view["house"] == {"unit_number": "2单元502", "address": "测试路9号"}


@pytest.mark.parametrize(("who", "status"), [("neighbour", 404), ("cm_b", 404), ("cm_a", 200)])
async def test_only_the_declarer_and_staff_over_it_see_a_declaration(
    client, settings, scene, who, status
):
    _world, building, _household, users = scene
    number = (
        await client.post(
            "/damage-declarations",
            json=_declaration(building),
            headers=auth_headers(users["declarer"], settings),
        )
    ).json()["tracking_number"]
    response = await client.get(
        f"/damage-declarations/{number}", headers=auth_headers(users[who], settings)
    )
    assert response.status_code == status


async def test_verifying_before_accepting_is_409(client, settings, scene):
    _world, building, _household, users = scene
    number = (
        await client.post(
            "/damage-declarations",
            json=_declaration(building),
            headers=auth_headers(users["declarer"], settings),
        )
    ).json()["tracking_number"]
    response = await client.post(
        f"/damage-declarations/{number}/verify",
        headers=auth_headers(users["worker"], settings),
        json={"verified_loss": "1", "note": "x"},
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit_number": "9单元999"}, "unit_number"),
        ({"building_id": None, "unit_number": None}, "house_id"),
        ({"estimated_loss": "-5"}, "estimated_loss"),
        ({"fire_date": (date.today() + timedelta(days=3)).isoformat()}, "fire_date"),
        ({"what_burned": ""}, "what_burned"),
    ],
)
async def test_bad_declarations_are_422_naming_the_field_and_store_nothing(
    client, db, settings, scene, change, field
):
    _world, building, _household, users = scene
    response = await client.post(
        "/damage-declarations",
        json=_declaration(building) | change,
        headers=auth_headers(users["declarer"], settings),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == field
    assert (await db.execute(text("SELECT count(*) FROM incidents"))).scalar() == 0


async def test_declaring_needs_an_account(client, scene):
    _world, building, _household, _users = scene
    response = await client.post("/damage-declarations", json=_declaration(building))
    assert response.status_code == 401
