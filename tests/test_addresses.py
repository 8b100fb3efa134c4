"""Address search: substrings, tokens, full-width digits, typos, nearby first, bad input."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from tests.factories import make_building, make_world, metres_box, metres_point


@pytest.fixture
async def street(db):
    """Buildings along two roads in the small test world."""
    world = await make_world(db)
    rows = [
        (world.cell_a1, (10, 10, 40, 40), "测试市测试区先烈路165号"),
        (world.cell_a1, (60, 10, 90, 40), "测试市测试区先烈路167号"),
        (world.cell_a2, (610, 10, 640, 40), "测试市测试区团结路165号"),
        (world.cell_b1, (1110, 10, 1140, 40), "测试市测试区团结路16号"),
        (world.cell_b1, (1210, 10, 1240, 40), "测试市测试区百分路100号"),
    ]
    for cell, extent, address in rows:
        await make_building(db, cell, extent, address=address)
    return world


async def _search(client, **params):
    response = await client.get("/addresses", params=params)
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def test_a_part_of_the_address_finds_the_building_with_a_pin_inside_it(client, street):
    results = await _search(client, q="先烈路165")
    assert results[0]["address"] == "测试市测试区先烈路165号"
    assert results[0]["cell_code"] == street.cell_a1.code
    pin = Point(results[0]["lon"], results[0]["lat"])
    assert metres_box(10, 10, 40, 40).covers(pin)
    assert set(results[0]) >= {"building_id", "use", "floors", "score"}


async def test_tokens_in_any_order_with_full_width_digits_match(client, street):
    results = await _search(client, q="１６５号  先烈路")
    assert [r["address"] for r in results if r["contains"]] == ["测试市测试区先烈路165号"]


async def test_a_homophone_typo_still_ranks_the_intended_building_first(client, street):
    results = await _search(client, q="先列路165号")
    assert results[0]["address"] == "测试市测试区先烈路165号"


async def test_near_breaks_ties_in_favour_of_the_closer_building(client, street):
    lon, lat = metres_point(1120, 20)
    results = await _search(client, q="165号", near=f"{lon},{lat}")
    assert results[0]["address"] == "测试市测试区团结路165号"
    lon, lat = metres_point(0, 0)
    results = await _search(client, q="165号", near=f"{lon},{lat}")
    assert results[0]["address"] == "测试市测试区先烈路165号"


async def test_like_wildcards_in_the_query_are_taken_literally(client, street):
    results = await _search(client, q="%%")
    assert results == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "先"}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "先烈路", "near": "114.0"}, "near"),
        ({"q": "先烈路", "near": "200,10"}, "near"),
        ({"q": "先烈路", "limit": "0"}, "limit"),
        ({}, "q"),
    ],
)
async def test_bad_queries_get_422_naming_the_parameter(client, street, params, field):
    response = await client.get("/addresses", params=params)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
