"""Published statistics: on-time rates counting open overdue reports as late, medians,
satisfaction without excluded ratings (shown apart), k-suppression for the public and
full figures for staff over their area."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from incidents.publication.statistics import Period, Scope, group_statistics, published
from tests.factories import auth_headers, make_user, make_world, metres_point

T = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # 10:00 China time
H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}
_numbers = itertools.count(1)


async def _incident(
    db, cell, *, status, accepted=None, resolved=None, created=T, accept_due=None, resolve_due=None
) -> int:
    """A report written straight into the table in `cell` (its community as region)."""
    lon, lat = metres_point(250, 250)
    return (
        await db.execute(
            text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, cell_id, region_id, routing_rule,
            responsible_level, channel, accept_due_at, resolve_due_at, accepted_at,
            resolved_at, created_at, updated_at)
        VALUES (:number, 'x', 'fire.blocked_exit', :status,
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :lon, :lat, 'wgs84', :cell,
                :region, 'inside', 'primary', 'web', :accept_due, :resolve_due, :accepted,
                :resolved, :created, :created)
        RETURNING id
    """),
            {
                "number": f"S{next(_numbers):09d}",
                "status": status,
                "lon": lon,
                "lat": lat,
                "cell": cell.id,
                "region": cell.community_id,
                "accept_due": accept_due or created + 2 * H,
                "resolve_due": resolve_due or created + 24 * H,
                "accepted": accepted,
                "resolved": resolved,
                "created": created,
            },
        )
    ).scalar_one()


async def _rating(db, incident_id, overall, *, defaulted=False, excluded=False) -> int:
    return (
        await db.execute(
            text("""
        INSERT INTO ratings (incident_id, kind, overall, channel, defaulted, excluded)
        VALUES (:i, 'handling', :o, :ch, :d, :e) RETURNING id
    """),
            {
                "i": incident_id,
                "o": overall,
                "ch": "default" if defaulted else "secret",
                "d": defaulted,
                "e": excluded,
            },
        )
    ).scalar_one()


async def _work_order(db, incident_id, rating_id, *, due, revisited=None) -> None:
    done = revisited is not None
    await db.execute(
        text("""
        INSERT INTO work_orders (incident_id, rating_id, status, due_at, revisited_at,
                                 contact_method, outcome, actions_taken)
        VALUES (:i, :r, :s, :due, :rv, :cm, :out, :act)
    """),
        {
            "i": incident_id,
            "r": rating_id,
            "s": "revisited" if done else "open",
            "due": due,
            "rv": revisited,
            "cm": "phone" if done else None,
            "out": "满意" if done else None,
            "act": "已整改" if done else None,
        },
    )


@pytest.fixture
async def scene(db):
    """Cell a1 (community A): eight October reports of every kind; cell b1 (community B):
    two, fewer than k = 5."""
    world = await make_world(db)
    a1, b1 = world.cell_a1, world.cell_b1
    # 1: on time both ways, rated 5.
    r1 = await _incident(db, a1, status="closed", accepted=T + 30 * M, resolved=T + 10 * H)
    await _rating(db, r1, 5)
    # 2: late both ways, rated 1 -> a work order revisited on time.
    r2 = await _incident(db, a1, status="closed", accepted=T + 3 * H, resolved=T + 30 * H)
    await _work_order(db, r2, await _rating(db, r2, 1), due=T + 10 * D, revisited=T + 5 * D)
    # 3: never accepted, both deadlines passed: late both ways although still open.
    await _incident(db, a1, status="assigned")
    # 4: accepted on time, still in progress past its resolve deadline: late.
    await _incident(db, a1, status="in_progress", accepted=T + H)
    # 5: on time, no rating given -> the default 3 (valid, not satisfied).
    r5 = await _incident(db, a1, status="closed", accepted=T + H, resolved=T + 20 * H)
    await _rating(db, r5, 3, defaulted=True)
    # 6: rejected: counted as a report, set aside from the rates.
    await _incident(db, a1, status="rejected")
    # 7: on time, rated 2 but the rating was excluded: its work order (never revisited,
    # overdue) leaves the figures with it.
    r7 = await _incident(db, a1, status="closed", accepted=T + 90 * M, resolved=T + 12 * H)
    await _work_order(db, r7, await _rating(db, r7, 2, excluded=True), due=T + 10 * D)
    # 8: not accepted, deadlines on 2 and 3 November.
    await _incident(
        db,
        a1,
        status="assigned",
        accept_due=datetime(2026, 11, 2, tzinfo=UTC),
        resolve_due=datetime(2026, 11, 3, tzinfo=UTC),
    )
    # Outside the period: not counted anywhere.
    await _incident(db, a1, status="assigned", created=datetime(2026, 9, 30, 15, 59, tzinfo=UTC))
    for _ in range(2):
        await _incident(db, b1, status="closed", accepted=T + H, resolved=T + 2 * H)
    users = {
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street", "street_manager", world.street),
        "admin": await make_user(db, "admin-1", "admin"),
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "resident": await make_user(db, "res", "resident"),
    }
    return world, users


async def _figures(db, level="cell", now=datetime(2026, 11, 1, tzinfo=UTC)):
    groups = await group_statistics(
        db, level, Period(date(2026, 10, 1), date(2026, 11, 1)), Scope(None, None), now
    )
    return {g["code"]: g for g in groups}


async def test_on_time_rates_count_open_overdue_reports_as_late_and_leave_out_those_not_due(
    db, scene
):
    world, _users = scene
    a1 = (await _figures(db))[world.cell_a1.code]
    assert a1["reports"] == 8 and a1["set_aside"] == 1
    # 1, 4, 5, 7 accepted in time; 2 accepted late; 3 never accepted and overdue. 8 is
    # not due yet on 1 November: in neither count.
    assert a1["acceptance"] | {"median_minutes": None} == {
        "on_time": 4,
        "late": 2,
        "rate": 0.6667,
        "median_minutes": None,
    }
    # 1, 5, 7 resolved in time; 2 late; 3 and 4 still open past the deadline: late.
    assert a1["resolution"] | {"median_minutes": None} == {
        "on_time": 3,
        "late": 3,
        "rate": 0.5,
        "median_minutes": None,
    }


async def test_a_report_not_yet_due_counts_as_late_once_its_deadline_passes(db, scene):
    world, _users = scene
    a1 = (await _figures(db, now=datetime(2026, 11, 5, tzinfo=UTC)))[world.cell_a1.code]
    assert (a1["acceptance"]["on_time"], a1["acceptance"]["late"]) == (4, 3)
    assert (a1["resolution"]["on_time"], a1["resolution"]["late"]) == (3, 4)


async def test_median_minutes_to_accept_and_to_resolve(db, scene):
    world, _users = scene
    a1 = (await _figures(db))[world.cell_a1.code]
    # Accepted after 30, 180, 60, 60, 90 minutes; resolved after 600, 1800, 1200, 720.
    assert a1["acceptance"]["median_minutes"] == 60.0
    assert a1["resolution"]["median_minutes"] == 960.0


async def test_satisfaction_leaves_out_excluded_ratings_and_shows_them_apart(db, scene):
    world, _users = scene
    a1 = (await _figures(db))[world.cell_a1.code]
    assert a1["ratings"] == {
        "valid": 3,
        "satisfied": 1,
        "satisfaction_rate": 0.3333,
        "bad": 1,
        "defaulted": 1,
        "excluded": 1,
        "active": 2,
        "active_satisfied": 1,
        "active_satisfaction_rate": 0.5,
        "unrated_rate": 0.3333,
    }
    # Only the valid bad rating's work order counts: revisited in time.
    assert a1["rectification"] == {"work_orders": 1, "on_time": 1, "late": 0, "rate": 1.0}


async def test_regions_gather_the_reports_of_everything_below_them(db, scene):
    world, _users = scene
    communities = await _figures(db, "community")
    assert {code: g["reports"] for code, g in communities.items()} == {
        world.community_a.code: 8,
        world.community_b.code: 2,
    }
    street = await _figures(db, "street")
    assert street[world.street.code]["reports"] == 10
    assert street[world.street.code]["ratings"]["valid"] == 3
    assert (await _figures(db, "district"))[world.district.code]["reports"] == 10


async def test_publishing_suppresses_groups_under_k_and_ratings_under_k(db, scene):
    world, _users = scene
    # Each group its own parent: the per-group rules alone (complementary suppression
    # among siblings is tested in tests/test_security_statistics.py).
    groups = [g | {"parent_code": g["code"]} for g in (await _figures(db)).values()]
    shown = {g["code"]: g for g in published(groups, 5)}
    b1 = shown[world.cell_b1.code]
    assert b1["suppressed"] is True and b1["reports"] is None and b1["acceptance"] is None
    a2 = shown[world.cell_a2.code]  # no reports at all: no different from a small group
    assert a2["suppressed"] is True and a2["reports"] is None
    a1 = shown[world.cell_a1.code]
    assert a1["suppressed"] is False and a1["reports"] == 8
    # Three valid ratings: too few to publish how they went.
    assert a1["ratings_suppressed"] is True and a1["ratings"] is None
    assert a1["rectification"] is None
    # Three valid of which two given by reporters: k = 2 publishes them.
    assert published(groups, 2)[0]["ratings"]["satisfaction_rate"] == 0.3333


async def test_the_public_gets_suppressed_figures_without_personal_data(client, db, scene):
    world, _users = scene
    await db.execute(
        text("UPDATE incidents SET reporter_name = '赵一', reporter_phone = '13912345678'")
    )
    response = await client.get("/statistics", params={"level": "cell", **OCTOBER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["published"] is True and body["min_group"] == 5
    groups = {g["code"]: g for g in body["groups"]}
    # a1's 8 are hidden beside a2's none: community A minus a1 would tell a2's count.
    assert groups[world.cell_a1.code]["suppressed"] is True
    assert groups[world.cell_b1.code] == {
        "code": world.cell_b1.code,
        "name": world.cell_b1.name,
        "in_force": True,
        "suppressed": True,
        "ratings_suppressed": True,
        "reports": None,
        "set_aside": None,
        "acceptance": None,
        "resolution": None,
        "ratings": None,
        "rectification": None,
    }
    assert "赵一" not in response.text and "13912345678" not in response.text
    narrowed = await client.get(
        "/statistics", params={"level": "community", "region": world.community_b.code, **OCTOBER}
    )
    assert [g["code"] for g in narrowed.json()["groups"]] == [world.community_b.code]
    assert narrowed.json()["groups"][0]["suppressed"] is True


async def test_k_is_a_setting(app, client, scene, settings):
    world, _users = scene
    app.state.settings = settings.model_copy(update={"stats_min_group": 2})
    body = (await client.get("/statistics", params={"level": "community", **OCTOBER})).json()
    assert body["min_group"] == 2
    groups = {g["code"]: g for g in body["groups"]}
    assert groups[world.community_b.code]["reports"] == 2
    assert groups[world.community_a.code]["ratings"]["valid"] == 3


async def test_staff_over_the_area_see_unsuppressed_figures(client, settings, scene):
    world, users = scene
    response = await client.get(
        "/statistics/staff",
        params={"level": "cell", **OCTOBER},
        headers=auth_headers(users["cm_b"], settings),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["published"] is False and body["region"] == world.community_b.code
    assert [(g["code"], g["reports"], g["suppressed"]) for g in body["groups"]] == [
        (world.cell_b1.code, 2, False)
    ]
    street = await client.get(
        "/statistics/staff",
        params={"level": "community", **OCTOBER},
        headers=auth_headers(users["street"], settings),
    )
    assert [(g["code"], g["reports"]) for g in street.json()["groups"]] == [
        (world.community_a.code, 8),
        (world.community_b.code, 2),
    ]
    a1 = next(
        g
        for g in (
            await client.get(
                "/statistics/staff",
                params={"level": "cell", **OCTOBER},
                headers=auth_headers(users["cm_a"], settings),
            )
        ).json()["groups"]
        if g["code"] == world.cell_a1.code
    )
    assert a1["ratings"]["excluded"] == 1 and a1["ratings_suppressed"] is False
    admin = await client.get(
        "/statistics/staff",
        params={"level": "district", **OCTOBER},
        headers=auth_headers(users["admin"], settings),
    )
    assert admin.json()["region"] is None
    assert admin.json()["groups"][0]["reports"] == 10


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("cm_a", {"region": "880101001002"}, 403),  # another community
        ("cm_b", {"region": "880101001"}, 403),  # their street, above them
        ("worker", {}, 403),
        ("resident", {}, 403),
        (None, {}, 401),
        ("cm_a", {"region": "880101001009"}, 404),
    ],
)
async def test_staff_figures_outside_ones_area_are_refused(
    client, settings, scene, who, params, status
):
    _world, users = scene
    headers = auth_headers(users[who], settings) if who else {}
    response = await client.get(
        "/statistics/staff", params={"level": "cell", **OCTOBER, **params}, headers=headers
    )
    assert response.status_code == status, response.text
    assert "reports" not in response.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"level": "city"}, "level"),
        ({"level": "street", "region": "880101001001"}, "level"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ({"from": "2026-11-01", "to": "2026-11-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-03"}, "to"),
        ({"region": "abc"}, "region"),
    ],
)
async def test_bad_parameters_are_422_naming_them(client, scene, params, field):
    response = await client.get("/statistics", params={"level": "cell", **OCTOBER, **params})
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


async def test_a_missing_period_is_422(client, scene):
    response = await client.get("/statistics", params={"level": "cell"})
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"from", "to"}


async def test_the_period_is_whole_china_days(db, scene):
    world, _users = scene
    # 30 September 23:59 China time is 15:59 UTC: outside October; 16:00 UTC is inside.
    await _incident(
        db, world.cell_a1, status="assigned", created=datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    )
    assert (await _figures(db))[world.cell_a1.code]["reports"] == 9
