"""The coverage map's figures (incidents/handling/coverage.py) in a known world: median response
time, hazard density, patrol coverage and staffing per cell and per region; the
drill-down's start, trail and levels; a manager's area enforced in SQL."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import shape
from sqlalchemy import text

from gis.geometry import BBox
from grid.access import load_principal
from incidents.handling.coverage import cell_coverage, drill_down, region_coverage
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_cell,
    make_region,
    make_user,
    make_world,
    metres_point,
)

NOW = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
EVERYWHERE = BBox(-180, -85, 180, 85)
_numbers = itertools.count(1)


async def _report(
    db,
    *,
    cell=None,
    region=None,
    category="community.other",
    status="closed",
    created=NOW - D,
    accepted_after=None,
    resolve_due=None,
) -> int:
    """A report written straight into the table: in `cell` (its community as region), or
    queued at `region` with no cell."""
    lon, lat = metres_point(250, 250)
    accepted = None if accepted_after is None else created + accepted_after
    return (
        await db.execute(
            text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, cell_id, region_id, routing_rule,
            responsible_level, channel, accept_due_at, resolve_due_at, accepted_at,
            created_at, updated_at)
        VALUES (:number, 'x', :category, :status, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                :lon, :lat, 'wgs84', :cell, :region, 'inside', 'primary', 'web',
                :accept_due, :resolve_due, :accepted, :created, :created)
        RETURNING id
    """),
            {
                "number": f"C{next(_numbers):09d}",
                "category": category,
                "status": status,
                "lon": lon,
                "lat": lat,
                "cell": cell and cell.id,
                "region": cell.community_id if cell else region.id,
                "accept_due": created + 2 * H,
                "resolve_due": resolve_due or created + 24 * H,
                "accepted": accepted,
                "created": created,
            },
        )
    ).scalar_one()


async def _rating(db, incident_id: int, overall: int, *, excluded: bool = False) -> None:
    await db.execute(
        text("""INSERT INTO ratings (incident_id, kind, overall, channel, excluded)
                VALUES (:i, 'handling', :o, 'secret', :e)"""),
        {"i": incident_id, "o": overall, "e": excluded},
    )


async def _visit(db, building, worker, when: datetime) -> None:
    await db.execute(
        text("INSERT INTO patrol_visits (building_id, user_id, visited_at) VALUES (:b, :u, :t)"),
        {"b": building.id, "u": worker.id, "t": when},
    )


@pytest.fixture
async def world(db):
    """make_world plus a second street (community C, cell c1), and known reports, ratings,
    buildings and visits in cells a1 and b1 and in community A's queue."""
    world = await make_world(db)
    street2 = await make_region(
        db, "880101002", "street", "第二街道", world.district, (1500, 0, 2000, 500)
    )
    community_c = await make_region(
        db, "880101002001", "community", "丙社区", street2, (1500, 0, 2000, 500)
    )
    c1 = await make_cell(db, "880101002001001", community_c, (1500, 0, 2000, 500))
    worker = await make_user(db, "cov-w", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    a1, b1 = world.cell_a1, world.cell_b1

    # Response time in a1: accepted after 1 h, 3 h and 8 h (median 3 h); not counted: a
    # rejected report (set aside), one made 100 days ago, one not accepted yet.
    for hours in (1, 3, 8):
        await _report(db, cell=a1, accepted_after=hours * H)
    await _report(db, cell=a1, status="rejected", accepted_after=100 * H)
    await _report(db, cell=a1, created=NOW - 100 * D, accepted_after=50 * H)
    await _report(db, cell=a1, status="assigned", resolve_due=NOW + D)
    # b1: one accepted after 20 h. The street's median is over the reports (1, 3, 8, 20:
    # 5.5 h), not a median of the cells' medians (3 and 20: 11.5 h).
    await _report(db, cell=b1, accepted_after=20 * H)
    # b1: still open after 500 days (overdue), whatever the windows; too old for the median.
    await _report(
        db,
        cell=b1,
        status="accepted",
        created=NOW - 500 * D,
        accepted_after=H,
        resolve_due=NOW - 400 * D,
    )

    # Hazards in a1 over the last 12 months: two fire hazards count; not a rejected one,
    # one made 400 days ago, a fire burning now (an emergency, not a hazard) or a
    # streetlight. a1 has 4 buildings: 2 per 4 buildings = 50 per 100.
    await _report(db, cell=a1, category="fire.blocked_exit", created=NOW - 200 * D)
    await _report(
        db, cell=a1, category="fire.ebike_indoor", status="assigned", resolve_due=NOW - H
    )  # open and overdue
    await _report(db, cell=a1, category="fire.gas", status="rejected")
    await _report(db, cell=a1, category="fire.blocked_exit", created=NOW - 400 * D)
    await _report(db, cell=a1, category="fire.burning_now", status="emergency_referral")
    await _report(db, cell=a1, category="community.streetlight")
    # Community A's queue (a point outside every cell): open, in the region, in no cell.
    await _report(db, region=world.community_a, status="submitted", resolve_due=NOW + D)

    # Satisfaction in a1 (reports of the last 30 days): 5 and 2 valid, a 1 excluded.
    for overall, excluded in ((5, False), (2, False), (1, True)):
        await _rating(db, await _report(db, cell=a1), overall, excluded=excluded)

    # Patrol coverage in a1: of 4 buildings, two visited within 30 days (5 and 29 days
    # ago); one only 31 days ago; one never; a visit recorded after `now` does not count.
    buildings = [
        await make_building(db, a1, (10 + 100 * i, 10, 60 + 100 * i, 60), f"覆盖路{i}号")
        for i in range(4)
    ]
    await _visit(db, buildings[0], worker, NOW - 5 * D)
    await _visit(db, buildings[1], worker, NOW - 29 * D)
    await _visit(db, buildings[1], worker, NOW - 40 * D)
    await _visit(db, buildings[2], worker, NOW - 31 * D)
    await _visit(db, buildings[3], worker, NOW + H)
    # c1 (the other street): a report and a building, never to be seen by street 1.
    await _report(db, cell=c1, status="assigned", resolve_due=NOW - H)
    await make_building(db, c1, (1600, 100, 1650, 150), "丙路1号")
    return world


def _by_code(features):
    return {f["properties"]["code"]: f["properties"] for f in features}


async def test_cell_figures_median_response_hazard_density_and_patrol_coverage(db, world):
    cells = _by_code(await cell_coverage(db, None, EVERYWHERE, NOW, limit=100))
    a1 = cells["880101001001001"]
    assert a1["accepted"] == 3
    assert a1["response_hours"] == 3.0
    assert (a1["fire_reports"], a1["buildings"]) == (2, 4)
    assert a1["hazard_density"] == 50.0  # per 100 buildings
    assert (a1["visited"], a1["patrol_coverage"]) == (2, 0.5)
    assert (a1["ratings"], a1["satisfaction"]) == (2, 0.5)
    assert a1["staffed"] is True
    assert (a1["open"], a1["overdue"]) == (2, 1)  # the open fire hazard is overdue


async def test_cells_with_nothing_to_count_have_no_data_rather_than_zero(db, world):
    cells = _by_code(await cell_coverage(db, None, EVERYWHERE, NOW, limit=100))
    a2 = cells["880101001001002"]
    assert a2["staffed"] is False
    assert a2["response_hours"] is None and a2["accepted"] == 0
    assert a2["hazard_density"] is None and a2["buildings"] == 0
    assert a2["patrol_coverage"] is None
    assert a2["satisfaction"] is None
    assert (a2["open"], a2["overdue"]) == (0, 0)


async def test_a_regions_median_is_taken_over_its_reports_not_its_cells_medians(db, world):
    streets = _by_code(await region_coverage(db, None, world.district.id, NOW))
    street1 = streets["880101001"]
    assert street1["accepted"] == 4
    assert street1["response_hours"] == 5.5


async def test_region_figures_gather_everything_below_including_queued_reports(db, world):
    communities = _by_code(await region_coverage(db, None, world.street.id, NOW))
    a = communities["880101001001"]
    assert a["level"] == "community"
    assert (a["cells"], a["staffed_cells"], a["staffed_share"]) == (2, 1, 0.5)
    assert (a["buildings"], a["visited"], a["patrol_coverage"]) == (4, 2, 0.5)
    assert (a["fire_reports"], a["hazard_density"]) == (2, 50.0)
    # The cells' two open reports and the one in community A's queue.
    assert (a["open"], a["overdue"], a["open_per_cell"], a["overdue_per_cell"]) == (3, 1, 1.5, 0.5)
    b = communities["880101001002"]
    assert (b["cells"], b["staffed_cells"], b["buildings"]) == (1, 0, 0)
    assert b["hazard_density"] is None and b["patrol_coverage"] is None
    assert b["response_hours"] == 20.0 and b["accepted"] == 1
    assert (b["open"], b["overdue"]) == (1, 1)
    assert set(communities) == {"880101001001", "880101001002"}


async def test_region_outlines_are_their_boundaries_simplified_to_about_a_metre(db, world):
    outlines = {
        f["properties"]["code"]: shape(f["geometry"])
        for f in await region_coverage(db, None, world.street.id, NOW)
    }
    stored = to_shape(world.community_a.boundary)
    assert outlines["880101001001"].hausdorff_distance(stored) < 2e-5


async def test_the_area_filter_is_in_the_statement_even_for_a_parent_above_it(db, world):
    # A street manager's path as scope, the district as parent: only their own street.
    streets = await region_coverage(db, world.street.path, world.district.id, NOW)
    assert [f["properties"]["code"] for f in streets] == ["880101001"]
    cells = _by_code(await cell_coverage(db, world.street.path, EVERYWHERE, NOW, limit=100))
    assert "880101002001001" not in cells and len(cells) == 3


async def _drill(db, user, code=None):
    principal = await load_principal(db, user.id)
    return await drill_down(db, principal, code, NOW, cell_limit=1000)


async def test_a_community_manager_opens_on_their_cells(db, world):
    manager = await make_user(db, "cov-cm", "community_manager", world.community_a)
    answer = await _drill(db, manager)
    assert answer["level"] == "cell"
    assert answer["region"]["code"] == "880101001001"
    assert [t["code"] for t in answer["trail"]] == ["880101001001"]
    assert set(_by_code(answer["features"])) == {"880101001001001", "880101001001002"}


async def test_a_district_manager_opens_on_streets_and_drills_down_to_cells(db, world):
    manager = await make_user(db, "cov-dm", "district_manager", world.district)
    top = await _drill(db, manager)
    assert (top["level"], top["region"]["code"]) == ("street", "880101")
    assert set(_by_code(top["features"])) == {"880101001", "880101002"}
    communities = await _drill(db, manager, "880101001")
    assert communities["level"] == "community"
    assert [t["code"] for t in communities["trail"]] == ["880101", "880101001"]
    cells = await _drill(db, manager, "880101001002")
    assert cells["level"] == "cell"
    assert [t["code"] for t in cells["trail"]] == ["880101", "880101001", "880101001002"]
    assert set(_by_code(cells["features"])) == {"880101001002001"}


async def test_an_admin_over_one_city_opens_past_regions_with_a_single_child(db, world):
    admin = await make_user(db, "cov-admin", "admin")
    answer = await _drill(db, admin)
    # The city has one district: the map opens on the district's two streets.
    assert answer["level"] == "street"
    assert [t["code"] for t in answer["trail"]] == ["880100", "880101"]
    assert answer["all_regions"] is False


async def test_a_street_manager_sees_only_their_street_and_never_above(db, world):
    manager = await make_user(db, "cov-sm", "street_manager", world.street)
    answer = await _drill(db, manager)
    assert answer["level"] == "community"
    assert [t["code"] for t in answer["trail"]] == ["880101001"]  # nothing above the area
    assert set(_by_code(answer["features"])) == {"880101001001", "880101001002"}


@pytest.mark.parametrize(
    "code",
    ["880101002", "880101002001", "880101", "880100"],
    ids=["other street", "its community", "the district above", "the city above"],
)
async def test_a_street_managers_requests_outside_their_street_are_403(
    client, settings, world, db, code
):
    manager = await make_user(db, "cov-sm2", "street_manager", world.street)
    answer = await client.get(
        f"/dashboard/regions.geojson?region={code}", headers=auth_headers(manager, settings)
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert "丙社区" not in answer.text and "880101002001001" not in answer.text


async def test_a_street_managers_cells_in_a_bbox_leave_out_the_other_street(
    client, settings, world, db
):
    manager = await make_user(db, "cov-sm3", "street_manager", world.street)
    answer = await client.get(
        "/dashboard/cells.geojson?bbox=-180,-85,180,85", headers=auth_headers(manager, settings)
    )
    assert answer.status_code == 200
    codes = {f["properties"]["code"] for f in answer.json()["features"]}
    assert codes == {"880101001001001", "880101001001002", "880101001002001"}


async def test_the_drill_down_is_for_managers_only(client, settings, world, db):
    worker = await make_user(db, "cov-w2", "grid_worker", world.community_a)
    resident = await make_user(db, "cov-r", "resident")
    assert (await client.get("/dashboard/regions.geojson")).status_code == 401
    for user in (worker, resident):
        answer = await client.get(
            "/dashboard/regions.geojson", headers=auth_headers(user, settings)
        )
        assert answer.status_code == 403


async def test_a_bad_or_unknown_region_code_is_a_clear_4xx(client, settings, world, db):
    admin = await make_user(db, "cov-admin2", "admin")
    headers = auth_headers(admin, settings)
    bad = await client.get("/dashboard/regions.geojson?region=88x", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "region"
    unknown = await client.get("/dashboard/regions.geojson?region=123456", headers=headers)
    assert unknown.status_code == 404


async def test_the_drill_down_over_http_answers_geojson_without_personal_data(
    client, settings, world, db
):
    manager = await make_user(db, "cov-dm2", "district_manager", world.district)
    answer = await client.get(
        "/dashboard/regions.geojson?region=880101001001", headers=auth_headers(manager, settings)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    body = answer.json()
    assert body["level"] == "cell" and body["truncated"] is False
    assert body["windows"] == {
        "satisfaction_days": 30,
        "response_days": 90,
        "hazard_days": 365,
        "patrol_days": 30,
    }
    assert "覆盖路" not in answer.text and "cov-w" not in answer.text
