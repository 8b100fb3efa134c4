"""The people register API: cell counts for all staff, people only within one's area,
ID numbers masked, and nothing personal for roles without the right."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_household,
    make_person,
    make_user,
    make_world,
    valid_id_number,
)

ID_A1 = valid_id_number("88010119400101001")
ID_A2 = valid_id_number("88010119850505002")
PERSONAL = ["赵一", "钱二", "孙三", "李四", "13912345678", "13987654321", ID_A1, ID_A2]


@pytest.fixture
async def scene(db, settings):
    """Two people in cell a1 (one elderly living alone), one in a2, one in b1."""
    world = await make_world(db)
    worker = await make_user(db, "worker-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    buildings = {
        name: await make_building(db, getattr(world, name), extent, address=f"测试路{i}号")
        for i, (name, extent) in enumerate(
            [
                ("cell_a1", (10, 10, 40, 40)),
                ("cell_a2", (610, 10, 640, 40)),
                ("cell_b1", (1110, 10, 1140, 40)),
            ],
            start=1,
        )
    }
    home_a1 = await make_household(db, buildings["cell_a1"], "1单元101")
    home_a2 = await make_household(db, buildings["cell_a2"], "201", kind="migrant")
    home_b1 = await make_household(db, buildings["cell_b1"], "301")
    people = {
        "a1_old": await make_person(
            db,
            home_a1,
            "赵一",
            settings=settings,
            id_number=ID_A1,
            phone="13912345678",
            tags=["elderly_alone"],
            birth_date=date(1940, 1, 1),
            gender="female",
        ),
        "a1_young": await make_person(db, home_a1, "钱二", settings=settings),
        "a2": await make_person(
            db, home_a2, "孙三", settings=settings, id_number=ID_A2, phone="13987654321"
        ),
        "b1": await make_person(db, home_b1, "李四", settings=settings, tags=["disability"]),
    }
    users = {
        "worker": worker,
        "resident": await make_user(db, "resident-1", "resident"),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a, "王芳"),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street-1", "street_manager", world.street),
        "admin": await make_user(db, "admin-1", "admin"),
    }
    return world, users, people


def _as(users, who, settings):
    return auth_headers(users[who], settings) if who else {}


async def test_worker_sees_who_lives_in_their_cell_who_is_vulnerable_and_who_answers(
    client, settings, scene
):
    world, users, _people = scene
    response = await client.get(
        f"/cells/{world.cell_a1.code}/residents", headers=_as(users, "worker", settings)
    )
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body["people"]] == ["赵一", "钱二"]
    old = body["people"][0]
    assert old["id_number"] == "*" * 14 + ID_A1[-4:]
    assert old["phone"] == "13912345678"
    assert old["age"] >= 85 and old["vulnerability_tags"] == ["elderly_alone"]
    assert old["house"]["unit_number"] == "1单元101"
    assert body["counts"] == {
        "buildings": 1,
        "houses": 1,
        "households": 1,
        "people": 2,
        "vulnerable_people": 1,
        "vulnerable_by_tag": {"elderly_alone": 1},
    }
    assert [w["username"] for w in body["responsible"]["primary"]] == ["worker-a1"]
    assert ID_A1 not in response.text

    vulnerable = await client.get(
        f"/cells/{world.cell_a1.code}/residents?vulnerable=true",
        headers=_as(users, "worker", settings),
    )
    assert [p["name"] for p in vulnerable.json()["people"]] == ["赵一"]


@pytest.mark.parametrize(
    ("who", "cell", "status"),
    [
        ("worker", "cell_a2", 403),
        ("worker", "cell_b1", 403),
        ("cm_a", "cell_b1", 403),
        ("cm_b", "cell_a1", 403),
        ("resident", "cell_a1", 403),
        (None, "cell_a1", 401),
    ],
)
async def test_residents_outside_ones_area_are_refused_without_personal_data(
    client, settings, scene, who, cell, status
):
    world, users, _people = scene
    response = await client.get(
        f"/cells/{getattr(world, cell).code}/residents", headers=_as(users, who, settings)
    )
    assert response.status_code == status
    assert not any(value in response.text for value in PERSONAL)


async def test_residents_of_an_unknown_cell_is_404(client, settings, scene):
    _world, users, _people = scene
    response = await client.get(
        "/cells/880101001001999/residents", headers=_as(users, "cm_a", settings)
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("worker", ["赵一", "钱二"]),
        ("cm_a", ["赵一", "钱二", "孙三"]),
        ("cm_b", ["李四"]),
        ("street", ["赵一", "钱二", "孙三", "李四"]),
        ("admin", ["赵一", "钱二", "孙三", "李四"]),
    ],
)
async def test_register_search_stays_within_the_callers_area(
    client, settings, scene, who, expected
):
    _world, users, _people = scene
    response = await client.get("/register/people", headers=_as(users, who, settings))
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["people"]] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "孙"}, ["孙三"]),
        ({"q": ID_A2}, ["孙三"]),
        ({"q": ID_A2.lower()[:-1] + ID_A2[-1].lower()}, ["孙三"]),
        ({"q": "7654321"}, ["孙三"]),
        ({"tag": "elderly_alone"}, ["赵一"]),
        ({"tag": ["disability", "elderly_alone"]}, ["赵一", "李四"]),
        ({"vulnerable": "true"}, ["赵一", "李四"]),
        ({"region": "880101001002"}, ["李四"]),
    ],
)
async def test_register_search_by_name_id_number_phone_tags_and_region(
    client, settings, scene, params, expected
):
    _world, users, _people = scene
    response = await client.get(
        "/register/people", params=params, headers=_as(users, "admin", settings)
    )
    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()["people"]] == expected


async def test_register_search_pages_by_cursor(client, settings, scene):
    _world, users, _people = scene
    headers = _as(users, "admin", settings)
    first = (await client.get("/register/people?limit=3", headers=headers)).json()
    assert len(first["people"]) == 3 and first["next_after"] == first["people"][-1]["id"]
    rest = (
        await client.get(f"/register/people?limit=3&after={first['next_after']}", headers=headers)
    ).json()
    assert [p["name"] for p in rest["people"]] == ["李四"] and rest["next_after"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tag": "vampire"}, "tag.0"),
        ({"region": "abc"}, "region"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_register_search_bad_parameters_are_422_naming_them(
    client, settings, scene, params, field
):
    _world, users, _people = scene
    response = await client.get(
        "/register/people", params=params, headers=_as(users, "admin", settings)
    )
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


@pytest.mark.parametrize(("who", "status"), [("resident", 403), (None, 401)])
async def test_register_search_is_refused_to_non_staff(client, settings, scene, who, status):
    _world, users, _people = scene
    response = await client.get("/register/people", headers=_as(users, who, settings))
    assert response.status_code == status
    assert not any(value in response.text for value in PERSONAL)


async def test_a_person_outside_the_area_looks_the_same_as_no_person(client, settings, scene):
    _world, users, people = scene
    headers = _as(users, "worker", settings)
    outside = await client.get(f"/register/people/{people['a2'].id}", headers=headers)
    missing = await client.get("/register/people/987654321", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert "孙三" not in outside.text
    mine = await client.get(f"/register/people/{people['a1_old'].id}", headers=headers)
    assert mine.status_code == 200
    assert mine.json()["residences"][0]["moved_in"] == "2020-01-01"
    assert mine.json()["residences"][0]["address"] == "测试路1号"


async def test_cell_detail_gives_counts_to_staff_anywhere_and_only_buildings_to_the_public(
    client, settings, scene
):
    world, users, _people = scene
    url = f"/cells/{world.cell_a1.code}"
    public = await client.get(url)
    assert public.status_code == 200
    assert public.json()["properties"]["counts"] == {"buildings": 1}
    assert abs(public.json()["properties"]["area_m2"] - 250_000) < 2_500
    resident = await client.get(url, headers=_as(users, "resident", settings))
    assert resident.json()["properties"]["counts"] == {"buildings": 1}
    other_area = await client.get(url, headers=_as(users, "cm_b", settings))
    # Outside cm-b's area: one vulnerable person is below stats_min_group, so withheld.
    assert other_area.json()["properties"]["counts"]["vulnerable_people"] is None
    assert other_area.json()["properties"]["counts"]["people"] == 2
    for response in (public, resident, other_area):
        assert not any(value in response.text for value in PERSONAL)
    assert (await client.get("/cells/880101001001999")).status_code == 404


@pytest.mark.parametrize(
    "url", ["/register/people?after=99999999999999999999", "/register/people/99999999999999999999"]
)
async def test_numbers_beyond_64_bits_are_422_not_500(client, settings, scene, url):
    _world, users, _people = scene
    response = await client.get(url, headers=_as(users, "admin", settings))
    assert response.status_code == 422
