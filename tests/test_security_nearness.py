"""Issue 15, item 1: what a public surface says about nearness (`/reports/nearby`,
`likely_duplicates` in the answer to `POST /reports`, Open311's `service_notice`) is
measured from the report's public place, so searching the radius's edge along rays and
fitting a circle gives back the public point, never the exact pin."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import numpy as np
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.factories import app_on_session, make_building, make_world, metres_point

EBIKE = "fire.ebike_indoor"  # building precision, duplicate radius 30 m
NOISE = "community.noise"  # cell precision, duplicate radius 100 m
RAYS = 6
STEPS = 18


@pytest.fixture
async def attacker(settings, db) -> AsyncIterator[AsyncClient]:
    """An anonymous client with no rate limit in its way (an attacker has many
    addresses; the limit is not what protects the pin)."""
    app = app_on_session(settings.model_copy(update={"rate_limits_enabled": False}), db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
async def scene(db):
    """The test city with a 100 m building in cell a1 (its centre at 150,150)."""
    world = await make_world(db)
    building = await make_building(db, world.cell_a1, (100, 100, 200, 200), address="测试路9号")
    return world, building


async def _file(client, category: str, x: float, y: float, **extra) -> dict:
    lon, lat = metres_point(x, y)
    response = await client.post(
        "/reports", json={"category": category, "lon": lon, "lat": lat, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _public_point_metres(db, number: str) -> np.ndarray:
    """The report's public point in the test's metric CRS, relative to its origin."""
    from tests.factories import ORIGIN, TEST_CRS

    x, y = (
        await db.execute(
            text(f"""
        SELECT ST_X(p), ST_Y(p) FROM incidents,
               ST_Transform(public_point_3857, {TEST_CRS}) AS p
        WHERE tracking_number = :t"""),
            {"t": number},
        )
    ).one()
    return np.array([x - ORIGIN[0], y - ORIGIN[1]])


def _fit_circle(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares circle (Kasa): centre and radius."""
    a = np.column_stack([2 * points[:, 0], 2 * points[:, 1], np.ones(len(points))])
    b = (points**2).sum(axis=1)
    cx, cy, c = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.array([cx, cy]), math.sqrt(c + cx * cx + cy * cy)


async def _recover(
    client, category: str, number: str, starts: list[np.ndarray], radius: float
) -> tuple[np.ndarray | None, int]:
    """The attack: find a spot where the report is listed as nearby, then bisect the
    edge of the duplicate radius along RAYS rays and fit a circle to the edge points.
    Returns the fitted centre (metres) and the number of requests spent."""
    spent = 0

    async def listed(p: np.ndarray) -> bool:
        nonlocal spent
        spent += 1
        lon, lat = metres_point(float(p[0]), float(p[1]))
        response = await client.get(
            "/reports/nearby", params={"category": category, "lon": lon, "lat": lat}
        )
        assert response.status_code == 200, response.text
        return number in {d["tracking_number"] for d in response.json()["likely_duplicates"]}

    start = None
    for candidate in starts:
        if await listed(candidate):
            start = candidate
            break
    if start is None:
        return None, spent
    edge = []
    for k in range(RAYS):
        u = np.array([math.cos(2 * math.pi * k / RAYS), math.sin(2 * math.pi * k / RAYS)])
        inside, outside = 0.0, 3.0 * radius
        assert not await listed(start + outside * u)
        for _ in range(STEPS):
            middle = (inside + outside) / 2
            if await listed(start + middle * u):
                inside = middle
            else:
                outside = middle
        edge.append(start + inside * u)
    centre, _r = _fit_circle(np.array(edge))
    return centre, spent


def _starts(pin: np.ndarray, public: np.ndarray) -> list[np.ndarray]:
    """Where an attacker tries first: the pin itself (say, a neighbour's guess), the
    public point, then a 25 m grid over the cell."""
    grid = [np.array([x, y]) for x in range(0, 501, 25) for y in range(0, 501, 25)]
    return [pin, public, *grid]


@pytest.mark.parametrize(
    ("category", "pin", "with_building", "radius"),
    [
        (NOISE, (80.0, 420.0), False, 100.0),  # public at the cell's point-on-surface
        (EBIKE, (110.0, 115.0), True, 30.0),  # public at the building's centre
        (EBIKE, (377.0, 341.0), False, 30.0),  # no building: the ~100 m grid point
    ],
)
async def test_edge_searching_nearby_recovers_the_public_point_not_the_pin(
    attacker, db, scene, category, pin, with_building, radius
):
    _world, building = scene
    extra = {"building_id": building.id} if with_building else {}
    number = (await _file(attacker, category, *pin, **extra))["tracking_number"]
    pin_m = np.array(pin)
    public = await _public_point_metres(db, number)
    coarsening = float(np.linalg.norm(public - pin_m))
    assert coarsening > 20  # the scene is meaningful: the public point is well off the pin
    centre, spent = await _recover(attacker, category, number, _starts(pin_m, public), radius)
    assert centre is not None, "the report is listed near its public point"
    assert spent < 1000
    # What the attack recovers is the public point, already on the public map ...
    assert np.linalg.norm(centre - public) < 3.0
    # ... so it is no closer to the pin than the public precision allows.
    assert np.linalg.norm(centre - pin_m) > coarsening - 3.0


async def test_nothing_is_listed_near_the_pin_when_the_public_point_is_far(attacker, db, scene):
    number = (await _file(attacker, NOISE, 80, 420))["tracking_number"]
    lon, lat = metres_point(80, 420)
    near_pin = (
        await attacker.get("/reports/nearby", params={"category": NOISE, "lon": lon, "lat": lat})
    ).json()
    assert number not in str(near_pin)
    lon, lat = metres_point(250, 250)  # the cell's point-on-surface, public already
    near_public = (
        await attacker.get("/reports/nearby", params={"category": NOISE, "lon": lon, "lat": lat})
    ).json()
    assert [d["tracking_number"] for d in near_public["likely_duplicates"]] == [number]
    assert set(near_public["likely_duplicates"][0]) == {"tracking_number", "status"}


async def test_likely_duplicates_on_filing_follow_the_public_point(attacker, db, scene):
    first = (await _file(attacker, NOISE, 80, 420))["tracking_number"]
    beside_pin = await _file(attacker, NOISE, 82, 421)
    assert beside_pin["likely_duplicates"] == []
    at_public = await _file(attacker, NOISE, 250, 250)
    assert first in [d["tracking_number"] for d in at_public["likely_duplicates"]]


async def test_open311_service_notice_follows_the_public_point(attacker, db, scene):
    first = (await _file(attacker, NOISE, 80, 420))["tracking_number"]

    async def notice(x: float, y: float) -> str:
        lon, lat = metres_point(x, y)
        response = await attacker.post(
            "/open311/v2/requests.json",
            data={"service_code": NOISE, "lat": str(lat), "long": str(lon)},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()[0]["service_notice"]

    assert first not in await notice(82, 421)
    assert first in await notice(250, 250)
