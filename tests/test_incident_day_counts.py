"""incident_day_counts and incident_rating_day_counts (migrations 0026, 0028): the counts
the triggers keep equal a fresh count of the incidents and ratings through intake,
actions, ratings given, excluded and re-rated, relinking, a change of region, a category
changing kind, retention and deletion; two sessions writing the same counts at once
wait for each other in key order instead of deadlocking; the coverage map's region
levels, which sum the counts, agree with its cells at the edge of the hazard window."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from core.clock import CHINA_TZ
from incidents.handling.coverage import HAZARD_DAYS, cell_coverage, region_coverage
from incidents.handling.relinking import move_open_incidents
from incidents.retention import anonymise_finished_reports
from incidents.status import OPEN, Status
from tests.factories import assign, auth_headers, make_user, make_world, metres_point
from tests.test_coverage import EVERYWHERE, _report


async def _fresh(db) -> Counter:
    """The counts as computed here from the incidents and categories, in Python."""
    rows = await db.execute(
        text("""
        SELECT i.region_id, i.status, k.group_code, k.is_emergency, i.created_at,
               i.resolve_due_at
        FROM incidents i JOIN incident_categories k ON k.code = i.category_code
    """)
    )
    counted: Counter = Counter()
    for region, status, group, emergency, created, due in rows:
        open_due = due if status in OPEN else None
        day = created.astimezone(CHINA_TZ).date()
        counted[(region or 0, status, group == "fire" and not emergency, day, open_due)] += 1
    return counted


async def _kept(db) -> Counter:
    rows = await db.execute(
        text("""
        SELECT region_id, status, fire_hazard, created_on,
               CASE WHEN due_at = 'infinity' THEN NULL ELSE due_at END, incidents
        FROM incident_day_counts
    """)
    )
    kept: Counter = Counter()
    for *key, n in rows:
        assert n > 0, ("a count kept at zero or below", key, n)
        kept[tuple(key)] = n
    return kept


async def _fresh_ratings(db) -> Counter:
    rows = await db.execute(
        text("""
        SELECT i.region_id, i.created_at, r.overall
        FROM ratings r JOIN incidents i ON i.id = r.incident_id
        WHERE r.kind = 'handling' AND NOT r.excluded
    """)
    )
    counted: Counter = Counter()
    for region, created, overall in rows:
        key = (region or 0, created.astimezone(CHINA_TZ).date())
        counted[(*key, "ratings")] += 1
        counted[(*key, "satisfied")] += overall >= 4
    return +counted


async def _kept_ratings(db) -> Counter:
    rows = await db.execute(
        text("SELECT region_id, created_on, ratings, satisfied FROM incident_rating_day_counts")
    )
    kept: Counter = Counter()
    for region, day, ratings, satisfied in rows:
        assert ratings > 0 and 0 <= satisfied <= ratings, (region, day, ratings, satisfied)
        kept[(region, day, "ratings")] = ratings
        kept[(region, day, "satisfied")] = satisfied
    return +kept


async def _assert_counts_match(db) -> None:
    assert await _kept(db) == await _fresh(db)
    assert await _kept_ratings(db) == await _fresh_ratings(db)


async def _rate(db, number: str, overall: int) -> None:
    await db.execute(
        text(
            "INSERT INTO ratings (incident_id, kind, overall, channel) "
            "SELECT id, 'handling', :overall, 'secret' FROM incidents WHERE tracking_number = :n"
        ),
        {"overall": overall, "n": number},
    )
    await _assert_counts_match(db)


async def _file(client, category: str, x: float) -> str:
    lon, lat = metres_point(x, 250)
    body = {"category": category, "lon": lon, "lat": lat, "description": "楼道里堆了东西"}
    response = await client.post("/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def test_sql_and_python_agree_on_which_statuses_are_open(db):
    for status in Status:
        got = (
            await db.execute(text("SELECT incident_status_open(:s)"), {"s": status.value})
        ).scalar_one()
        assert got == (status in OPEN), status


async def test_day_counts_equal_a_fresh_count_through_every_kind_of_change(client, db, settings):
    world = await make_world(db)
    worker = await make_user(db, "dc-w", "grid_worker", world.community_a, "陈网格")
    manager = await make_user(db, "dc-m", "street_manager", world.street, "街道")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))

    async def act(user, number: str, action: str, **body) -> None:
        response = await client.post(
            f"/incidents/{number}/actions",
            json={"action": action, **body},
            headers=auth_headers(user, settings),
        )
        assert response.status_code == 200, response.text
        await _assert_counts_match(db)

    # Intake: fire hazards and others, in two communities.
    numbers = [
        await _file(client, category, x)
        for category, x in [
            ("fire.blocked_exit", 100),
            ("fire.ebike_indoor", 200),
            ("community.streetlight", 300),
            ("fire.gas", 1200),
        ]
    ]
    await _assert_counts_match(db)
    assert sum((await _kept(db)).values()) == 4

    # Actions: handled to the end, and rejected.
    await act(worker, numbers[0], "accept")
    await act(worker, numbers[0], "start")
    await act(worker, numbers[0], "resolve", note="已清理")
    await act(manager, numbers[0], "close")
    await _rate(db, numbers[0], 5)
    await _rate(db, numbers[1], 2)
    await _rate(db, numbers[2], 4)
    # A rating excluded on review, then re-rated.
    await db.execute(text("UPDATE ratings SET excluded = true WHERE overall = 4"))
    await _assert_counts_match(db)
    await db.execute(text("UPDATE ratings SET excluded = false, overall = 5 WHERE overall = 4"))
    await _assert_counts_match(db)
    await act(manager, numbers[3], "reject", note="重复")
    await act(manager, numbers[3], "reopen", note="并非重复")

    # Relinking after a boundary change: the open reports of a1 are re-pointed.
    await db.run_sync(lambda s: move_open_incidents(s.connection(), [world.cell_a1.id]))
    await _assert_counts_match(db)
    # A report moved to another cell and community by hand, and its deadline extended.
    await db.execute(
        text(
            "UPDATE incidents SET cell_id = :cell, region_id = :region, "
            "resolve_due_at = resolve_due_at + interval '2 days' WHERE tracking_number = :n"
        ),
        {"cell": world.cell_b1.id, "region": world.community_b.id, "n": numbers[1]},
    )
    await _assert_counts_match(db)
    # A category that stops being a fire hazard (and becomes one again) moves its counts.
    for emergency in (True, False):
        await db.execute(
            text(
                "UPDATE incident_categories SET is_emergency = :e WHERE code = 'fire.ebike_indoor'"
            ),
            {"e": emergency},
        )
        await _assert_counts_match(db)

    # Retention: a report closed long ago is anonymised (its row rewritten).
    now = datetime.now(UTC)
    await db.execute(
        text(
            "UPDATE incidents SET closed_at = :at, updated_at = :at, created_at = :at "
            "WHERE tracking_number = :n"
        ),
        {"at": now - timedelta(days=800), "n": numbers[0]},
    )
    await _assert_counts_match(db)
    report = await db.run_sync(
        lambda s: anonymise_finished_reports(s.connection(), now, timedelta(days=365))
    )
    assert report.incidents == 1
    await _assert_counts_match(db)

    # An update that changes no counted field changes no count.
    before = await _kept(db)
    await db.execute(text("UPDATE incidents SET updated_at = now(), version = version + 1"))
    assert await _kept(db) == before
    # A region deleted: its reports count under no region.
    await db.execute(
        text("UPDATE incidents SET region_id = NULL WHERE region_id = :r"),
        {"r": world.community_b.id},
    )
    await _assert_counts_match(db)
    await db.execute(text("DELETE FROM incidents WHERE tracking_number = :n"), {"n": numbers[2]})
    await _assert_counts_match(db)
    await db.execute(text("DELETE FROM ratings WHERE overall = 2"))
    await _assert_counts_match(db)
    await db.execute(text("DELETE FROM incidents"))
    assert await _kept(db) == Counter()
    assert await _kept_ratings(db) == Counter()


async def test_truncating_the_incidents_empties_the_counts(client, db):
    await make_world(db)
    await _rate(db, await _file(client, "fire.blocked_exit", 100), 5)
    await db.execute(text("TRUNCATE incidents CASCADE"))
    assert await _kept(db) == Counter()
    assert await _kept_ratings(db) == Counter()


async def test_region_levels_count_the_hazard_windows_partial_first_day_from_the_reports(db):
    """The first day of the hazard window is partial: a region sums whole days from the
    counts and that day from the reports, and so agrees with its cells to the minute."""
    world = await make_world(db)
    # 14:30 China time: the window starts mid-day.
    now = datetime(2026, 10, 10, 6, 30, tzinfo=UTC)
    since = now - timedelta(days=HAZARD_DAYS)
    minute = timedelta(minutes=1)
    for created in (since + minute, since - minute, since + timedelta(days=1), now - minute):
        await _report(db, cell=world.cell_a1, category="fire.blocked_exit", created=created)
    # Open and overdue by a minute, and open and due in a minute.
    for due in (now - minute, now + minute):
        await _report(
            db, cell=world.cell_b1, status="assigned", created=now - minute, resolve_due=due
        )
    cells = {
        f["properties"]["code"]: f["properties"]
        for f in await cell_coverage(db, None, EVERYWHERE, now, limit=100)
    }
    streets = await region_coverage(db, None, world.district.id, now)
    street = streets[0]["properties"]
    assert cells[world.cell_a1.code]["fire_reports"] == 3
    assert street["fire_reports"] == 3
    assert (street["open"], street["overdue"]) == (2, 1)
    assert (cells[world.cell_b1.code]["open"], cells[world.cell_b1.code]["overdue"]) == (2, 1)


# ---- two sessions at once, committed (outside the test's rolled-back transaction) ----

_INSERT = text("""
    INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
        input_lon, input_lat, input_system, routing_rule, responsible_level, channel,
        created_at)
    SELECT 'DCC' || u.n, 'h', 'community.streetlight', 'closed',
           ST_SetSRID(ST_MakePoint(114, 22), 4326), 114, 22, 'wgs84', 'outside', 'queue',
           'web', u.at
    FROM unnest(CAST(:n AS text[]), CAST(:at AS timestamptz[])) AS u(n, at)
""")


async def test_two_sessions_writing_the_same_counts_wait_in_key_order(async_engine):
    """A holds day 1's count; B's statement touches days 2 and 1 and, in key order, waits
    for day 1 before taking day 2; so A can still write day 2 and commit: no deadlock."""
    day1 = datetime(2020, 1, 1, 4, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    async with async_engine.connect() as a, async_engine.connect() as b:
        try:
            await a.execute(_INSERT, {"n": ["a1"], "at": [day1]})
            await b.begin()
            b_statement = asyncio.ensure_future(
                b.execute(_INSERT, {"n": ["b2", "b1"], "at": [day2, day1]})
            )
            await asyncio.sleep(0.5)
            assert not b_statement.done()  # waiting for A's day 1
            await a.execute(_INSERT, {"n": ["a2"], "at": [day2]})
            await a.commit()
            await asyncio.wait_for(b_statement, 10)
            await b.commit()
            counts = dict(
                (
                    await a.execute(
                        text(
                            "SELECT created_on, incidents FROM incident_day_counts "
                            "WHERE region_id = 0 AND created_on IN ('2020-01-01', '2020-01-02')"
                        )
                    )
                ).all()
            )
            assert counts == {date(2020, 1, 1): 2, date(2020, 1, 2): 2}
        finally:
            await a.rollback()
            await b.rollback()
            await a.execute(text("DELETE FROM incidents WHERE tracking_number LIKE 'DCC%'"))
            await a.commit()
