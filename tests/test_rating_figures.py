"""The three published 好差评 figures of the national rules on a hand-made case: 好评率
(4-5 over all valid ratings, default ones included), 主动评价好评率 (the same over the
ratings reporters gave themselves) and 未评价率 (default ratings over all valid), per
cell, community, street and district, and their k-suppression."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from incidents.publication.statistics import Period, Scope, group_statistics
from tests.factories import make_world, metres_point

T = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}
_numbers = itertools.count(1)


async def _rated_report(db, cell, overall: int, *, defaulted=False, excluded=False) -> None:
    """A closed report in `cell`, handled on time, with one handling rating."""
    lon, lat = metres_point(250, 250)
    incident = (
        await db.execute(
            text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, cell_id, region_id, routing_rule,
            responsible_level, channel, accept_due_at, resolve_due_at, accepted_at,
            resolved_at, created_at, updated_at)
        VALUES (:number, 'x', 'fire.blocked_exit', 'closed',
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :lon, :lat, 'wgs84', :cell,
                :region, 'inside', 'primary', 'web', CAST(:t AS timestamptz) + interval '2 hours',
                CAST(:t AS timestamptz) + interval '24 hours',
                CAST(:t AS timestamptz) + interval '1 hour',
                CAST(:t AS timestamptz) + interval '5 hours',
                :t, :t)
        RETURNING id
    """),
            {
                "number": f"RF{next(_numbers):08d}",
                "lon": lon,
                "lat": lat,
                "cell": cell.id,
                "region": cell.community_id,
                "t": T,
            },
        )
    ).scalar_one()
    await db.execute(
        text("""
        INSERT INTO ratings (incident_id, kind, overall, channel, defaulted, excluded)
        VALUES (:i, 'handling', :o, :ch, :d, :e)
    """),
        {
            "i": incident,
            "o": overall,
            "ch": "default" if defaulted else "secret",
            "d": defaulted,
            "e": excluded,
        },
    )


@pytest.fixture
async def world(db):
    """Cell a1: 3 x 非常满意, 2 x 满意, 1 x 基本满意, 1 x 非常不满意 given; 2 default
    ratings (基本满意); 1 excluded. Cell b1 (a city whose default is 非常满意): 2 x 5 and
    1 x 2 given, 3 default ratings of 5."""
    world = await make_world(db)
    a1, b1 = world.cell_a1, world.cell_b1
    for overall in (5, 5, 5, 4, 4, 3, 1):
        await _rated_report(db, a1, overall)
    for _ in range(2):
        await _rated_report(db, a1, 3, defaulted=True)
    await _rated_report(db, a1, 2, excluded=True)
    for overall in (5, 5, 2):
        await _rated_report(db, b1, overall)
    for _ in range(3):
        await _rated_report(db, b1, 5, defaulted=True)
    return world


async def _ratings(db, level: str) -> dict[str, dict]:
    groups = await group_statistics(
        db,
        level,
        Period(date(2026, 10, 1), date(2026, 11, 1)),
        Scope(None, None),
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    return {g["code"]: g["ratings"] for g in groups}


def _three(ratings: dict) -> tuple:
    return (
        ratings["satisfaction_rate"],
        ratings["active_satisfaction_rate"],
        ratings["unrated_rate"],
    )


async def test_cell_figures_follow_the_national_definitions(db, world):
    cells = await _ratings(db, "cell")
    a1 = cells[world.cell_a1.code]
    # 9 valid (the excluded one left out), 5 of them 4-5; 7 given, 5 of them 4-5; 2 default.
    assert (
        a1["valid"],
        a1["satisfied"],
        a1["active"],
        a1["active_satisfied"],
        a1["defaulted"],
        a1["excluded"],
    ) == (9, 5, 7, 5, 2, 1)
    assert _three(a1) == (0.5556, 0.7143, 0.2222)
    # Default ratings of 5 count in 好评率, never in 主动评价好评率.
    b1 = cells[world.cell_b1.code]
    assert (b1["valid"], b1["satisfied"], b1["active"], b1["active_satisfied"]) == (6, 5, 3, 2)
    assert _three(b1) == (0.8333, 0.6667, 0.5)


async def test_communities_streets_and_districts_gather_their_cells(db, world):
    communities = await _ratings(db, "community")
    assert _three(communities[world.community_a.code]) == (0.5556, 0.7143, 0.2222)
    assert _three(communities[world.community_b.code]) == (0.8333, 0.6667, 0.5)
    # Street and district: 15 valid, 10 of them 4-5; 10 given, 7 of them 4-5; 5 default.
    street = (await _ratings(db, "street"))[world.street.code]
    assert _three(street) == (0.6667, 0.7, 0.3333)
    district = (await _ratings(db, "district"))[world.district.code]
    assert _three(district) == (0.6667, 0.7, 0.3333)


async def test_a_group_with_no_ratings_has_no_rates(db, world):
    a2 = (await _ratings(db, "cell"))[world.cell_a2.code]
    assert (a2["valid"], a2["active"]) == (0, 0)
    assert _three(a2) == (None, None, None)


async def test_the_public_gets_the_three_figures(client, world):
    response = await client.get("/statistics", params={"level": "district", **OCTOBER})
    assert response.status_code == 200, response.text
    (district,) = response.json()["groups"]
    assert district["ratings_suppressed"] is False
    assert _three(district["ratings"]) == (0.6667, 0.7, 0.3333)


async def test_few_given_ratings_are_suppressed_however_many_defaults(app, client, settings, world):
    # k = 11: 16 reports and 15 valid ratings, but only 10 given by reporters.
    app.state.settings = settings.model_copy(update={"stats_min_group": 11})
    response = await client.get("/statistics", params={"level": "district", **OCTOBER})
    assert response.status_code == 200, response.text
    (district,) = response.json()["groups"]
    assert district["suppressed"] is False and district["reports"] == 16
    assert district["ratings_suppressed"] is True and district["ratings"] is None
    app.state.settings = settings.model_copy(update={"stats_min_group": 10})
    (district,) = (await client.get("/statistics", params={"level": "district", **OCTOBER})).json()[
        "groups"
    ]
    assert _three(district["ratings"]) == (0.6667, 0.7, 0.3333)
