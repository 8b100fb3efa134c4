"""Role and area checks on a staff route: who was responsible for a cell."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import assign, auth_headers, make_user, make_world


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    worker = await make_user(db, "worker-a1", "grid_worker", world.community_a, "张伟")
    await assign(db, world.cell_a1, worker, valid_to=date(2026, 6, 1))
    successor = await make_user(db, "worker-a1b", "grid_worker", world.community_a, "李娜")
    await assign(db, world.cell_a1, successor, valid_from=date(2026, 6, 1))
    users = {
        "worker": worker,
        "resident": await make_user(db, "resident-1", "resident"),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a, "王芳"),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street-1", "street_manager", world.street),
        "district": await make_user(db, "district-1", "district_manager", world.district),
        "admin": await make_user(db, "admin-1", "admin"),
    }
    return world, users


def _url(cell, on="2026-03-01"):
    return f"/cells/{cell.code}/responsibility?on={on}"


@pytest.mark.parametrize("who", ["worker", "cm_a", "street", "district", "admin"])
async def test_staff_in_scope_see_who_is_responsible(client, settings, scene, who):
    world, users = scene
    response = await client.get(_url(world.cell_a1), headers=auth_headers(users[who], settings))
    assert response.status_code == 200
    body = response.json()
    assert [p["username"] for p in body["primary"]] == ["worker-a1"]
    assert [m["username"] for m in body["community_managers"]] == ["cm-a"]


@pytest.mark.parametrize(
    ("who", "cell_name"), [("worker", "cell_a2"), ("cm_b", "cell_a1"), ("cm_a", "cell_b1")]
)
async def test_staff_out_of_scope_get_403(client, settings, scene, who, cell_name):
    world, users = scene
    response = await client.get(
        _url(getattr(world, cell_name)), headers=auth_headers(users[who], settings)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "张伟" not in response.text


async def test_resident_is_refused_by_role(client, settings, scene):
    world, users = scene
    headers = auth_headers(users["resident"], settings)
    response = await client.get(_url(world.cell_a1), headers=headers)
    assert response.status_code == 403


async def test_anonymous_caller_gets_401(client, scene):
    world, _ = scene
    assert (await client.get(_url(world.cell_a1))).status_code == 401


async def test_history_answers_who_was_responsible_on_a_past_day(client, settings, scene):
    world, users = scene
    headers = auth_headers(users["cm_a"], settings)
    before = (await client.get(_url(world.cell_a1, "2026-05-31"), headers=headers)).json()
    after = (await client.get(_url(world.cell_a1, "2026-06-01"), headers=headers)).json()
    assert [p["username"] for p in before["primary"]] == ["worker-a1"]
    assert [p["username"] for p in after["primary"]] == ["worker-a1b"]


async def test_worker_loses_access_after_the_assignment_ends(client, settings, scene):
    world, users = scene
    headers = auth_headers(users["worker"], settings)
    response = await client.get(_url(world.cell_a1, "2026-07-01"), headers=headers)
    assert response.status_code == 403


async def test_unknown_cell_is_404_and_malformed_code_is_422_naming_the_field(
    client, settings, scene
):
    _, users = scene
    headers = auth_headers(users["admin"], settings)
    missing = await client.get("/cells/999999999999999/responsibility", headers=headers)
    assert missing.status_code == 404
    malformed = await client.get("/cells/12ab/responsibility", headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["fields"][0]["field"] == "code"


async def test_two_primary_workers_for_one_cell_at_once_are_refused(db, scene):
    from sqlalchemy.exc import IntegrityError

    world, users = scene
    with pytest.raises(IntegrityError, match="excl_cell_assignments_one_primary"):
        async with db.begin_nested():
            await assign(db, world.cell_a1, users["cm_a"], valid_from=date(2026, 3, 1))
