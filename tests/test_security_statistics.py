"""Suppressed figures do not come back by differencing (issue 15, item 8): two windows
one day apart cannot both be asked for (only calendar months and quarters are
published), a quarter minus two months does not give a hidden month, and a parent minus
its visible children never isolates one hidden child (complementary suppression)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import make_cell, make_world
from tests.test_statistics import H, T, _incident, _rating

OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}
Q4 = {"from": "2026-10-01", "to": "2027-01-01"}


async def _reports(db, cell, count, *, stars=(), created=T):
    """`count` closed reports in the cell, the first ones rated with `stars`."""
    for i in range(count):
        number = await _incident(
            db,
            cell,
            status="closed",
            accepted=created + H,
            resolved=created + 2 * H,
            created=created,
        )
        if i < len(stars):
            await _rating(db, number, stars[i])


@pytest.fixture
async def city(db):
    """Community A: cells a1 (9 reports, 6 ratings), a2 (6 reports, two 1-star ratings:
    too few to publish) and a3 (7 reports, 5 ratings); community B: b1 with 5 reports in
    each month of the quarter, b2 with 2 in October, then 5 in November and December."""
    world = await make_world(db)
    a3 = await make_cell(db, "880101001001003", world.community_a, (0, 500, 500, 1000))
    b2 = await make_cell(db, "880101001002002", world.community_b, (1000, 500, 1500, 1000))
    await _reports(db, world.cell_a1, 9, stars=(5, 5, 5, 5, 5, 2))
    await _reports(db, world.cell_a2, 6, stars=(1, 1))
    await _reports(db, a3, 7, stars=(5, 4, 4, 5, 3))
    await _reports(db, b2, 2)
    for month in (10, 11, 12):
        created = datetime(2026, month, 2, 2, tzinfo=UTC)
        await _reports(db, world.cell_b1, 5, created=created)
        if month > 10:
            await _reports(db, b2, 5, created=created)
    return world, a3, b2


async def _groups(client, **params):
    response = await client.get("/statistics", params=params)
    assert response.status_code == 200, response.text
    return {g["code"]: g for g in response.json()["groups"]}


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"from": "2026-10-02", "to": "2026-11-01"}, "from"),  # a day later
        ({"from": "2026-10-01", "to": "2026-10-31"}, "to"),  # a day shorter
        ({"from": "2026-10-01", "to": "2026-11-02"}, "to"),  # a day longer
        ({"from": "2026-11-01", "to": "2027-02-01"}, "to"),  # three months, not a quarter
        ({"from": "2026-01-01", "to": "2027-01-01"}, "to"),  # a year
    ],
)
async def test_windows_one_day_apart_are_refused_naming_the_field(client, city, window, field):
    assert (await client.get("/statistics", params={"level": "cell", **OCTOBER})).status_code == 200
    response = await client.get("/statistics", params={"level": "cell", **window})
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert "groups" not in response.text


async def test_a_quarter_minus_its_published_months_does_not_give_a_hidden_month(client, city):
    _, _, b2 = city
    months = [
        await _groups(client, level="cell", **{"from": f, "to": t})
        for f, t in (
            ("2026-10-01", "2026-11-01"),
            ("2026-11-01", "2026-12-01"),
            ("2026-12-01", "2027-01-01"),
        )
    ]
    october, november, december = (m[b2.code] for m in months)
    assert october["suppressed"] is True  # 2 reports
    assert november["reports"] == 5 and december["reports"] == 5
    quarter = (await _groups(client, level="cell", **Q4))[b2.code]
    # Published, 12 - 5 - 5 would be October's 2: the quarter is hidden with it.
    assert quarter["suppressed"] is True and quarter["reports"] is None


async def test_a_parent_minus_visible_siblings_never_isolates_hidden_ratings(client, city):
    world, a3, _ = city
    cells = await _groups(client, level="cell", **OCTOBER)
    community = (await _groups(client, level="community", **OCTOBER))[world.community_a.code]
    assert community["ratings"]["valid"] == 13  # the parent is published
    children = [cells[c.code] for c in (world.cell_a1, world.cell_a2, a3)]
    assert all(not c["suppressed"] for c in children)
    hidden = [c["code"] for c in children if c["ratings_suppressed"]]
    # a2's two ratings are hidden, and so are a3's (the next smallest), not a1's.
    assert hidden == [world.cell_a2.code, a3.code]
    # The attack: the parent minus the visible siblings leaves two cells together.
    visible = [c for c in children if not c["ratings_suppressed"]]
    left = community["ratings"]["bad"] - sum(c["ratings"]["bad"] for c in visible)
    left_valid = community["ratings"]["valid"] - sum(c["ratings"]["valid"] for c in visible)
    assert (left, left_valid) == (2, 7)  # a2 and a3 together: neither alone is told


async def test_a_parent_minus_visible_siblings_never_isolates_a_hidden_group(client, city):
    world, _, b2 = city
    cells = await _groups(client, level="cell", **OCTOBER)
    community = (await _groups(client, level="community", **OCTOBER))[world.community_b.code]
    assert community["reports"] == 7  # the parent is published
    # b2 (2 reports) is hidden; B minus b1 would give it, so b1 is hidden too.
    assert cells[b2.code]["suppressed"] is True
    assert cells[world.cell_b1.code]["suppressed"] is True
    assert cells[world.cell_b1.code]["reports"] is None
    # Community A's cells are all over k and none hidden: nothing more is withheld.
    assert not cells[world.cell_a1.code]["suppressed"]


async def test_no_public_answer_carries_the_parent_code(client, city):
    response = await client.get("/statistics", params={"level": "cell", **OCTOBER})
    assert "parent_code" not in response.text
