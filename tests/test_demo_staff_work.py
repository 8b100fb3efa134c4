"""`gridgov demo` leaves every staff demo account real work: the demo city loaded and its
reports filed (as the CLI does), then each account's lists read through the API."""

from __future__ import annotations

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.app import intake_context
from demo.city import generate_demo_city
from demo.load import clear_register, load_demo_city, register_is_empty
from demo.reports import STAFF_SCENARIOS, make_demo_incidents
from grid.models import User
from tests.factories import auth_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo(sync_engine, async_engine, settings):
    """The demo city committed on the test database with 60 random reports and the staff
    work, as `gridgov demo --reports 60` makes them; the register (and with it every
    report) emptied afterwards."""
    with sync_engine.begin() as conn:
        assert register_is_empty(conn), "the test database holds a register already"
        load_demo_city(
            conn,
            generate_demo_city(seed=20261124),
            "$argon2id$dummy",
            settings.id_hash_key.get_secret_value().encode(),
        )
    try:
        made = await make_demo_incidents(
            async_sessionmaker(async_engine, expire_on_commit=False),
            intake_context(settings),
            count=60,
            seed=20261124,
        )
        yield made
    finally:
        with sync_engine.begin() as conn:
            clear_register(conn)


async def _user(db, username: str) -> User:
    return (await db.execute(select(User).where(User.username == username))).scalar_one()


async def _get(client, url, user, settings, **params):
    response = await client.get(url, params=params, headers=auth_headers(user, settings))
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_scenario_is_made(demo):
    assert set(demo.staff_work) == {name for name, *_ in STAFF_SCENARIOS}
    assert demo.reports == 60


async def test_the_worker_has_a_to_do_in_each_state_and_one_overdue(client, db, settings, demo):
    worker = await _user(db, "worker")
    mine = (await _get(client, "/incidents", worker, settings, view="mine", limit=200))["items"]
    statuses = {item["status"] for item in mine}
    assert {"assigned", "accepted", "in_progress", "reopened"} <= statuses
    overdue = [i for i in mine if i["overdue"]]
    assert demo.staff_work["overdue"] in {i["tracking_number"] for i in overdue}
    # Every to-do names its place (the building's address, given at intake).
    assert all(i["address"] for i in mine if i["tracking_number"] in demo.staff_work.values())
    waiting = (
        await db.execute(
            text("""
        SELECT count(*) FROM incidents i JOIN users u ON u.id = i.handler_id
        WHERE u.username = 'worker' AND i.status = 'resolved'
    """)
        )
    ).scalar()
    assert waiting >= 2


async def test_the_community_manager_has_reports_to_verify_and_review(client, db, settings, demo):
    manager = await _user(db, "community")
    area = (
        await _get(
            client, "/incidents", manager, settings, view="area", status=["resolved"], limit=200
        )
    )["items"]
    to_verify = {i["tracking_number"] for i in area if "close" in i["allowed_actions"]}
    assert {demo.staff_work["resolved"], demo.staff_work["resolved_2"]} <= to_verify
    queue = await _get(client, "/review-queue", manager, settings, limit=100)
    reviewable = {i["tracking_number"] for i in queue["items"] if i["text_review"] == "pending"}
    assert demo.staff_work["assigned"] in reviewable
    assert len(reviewable & set(demo.staff_work.values())) >= 5


async def test_the_community_manager_has_an_extension_and_a_transferred_report(
    client, db, settings, demo
):
    manager = await _user(db, "community")
    asked = await _get(client, "/extension-requests", manager, settings)
    pending = [r for r in asked["items"] if r["status"] == "pending"]
    assert demo.staff_work["extension"] in {r["tracking_number"] for r in pending}
    queue = (await _get(client, "/incidents", manager, settings, view="queue", limit=200))["items"]
    back = {i["tracking_number"]: i for i in queue}
    assert back[demo.staff_work["transferred"]]["status"] == "transferred"


async def test_a_bad_rating_opened_a_work_order_for_the_community_manager(
    client, db, settings, demo
):
    manager = await _user(db, "community")
    orders = (await _get(client, "/work-orders", manager, settings))["work_orders"]
    opened = {o["tracking_number"] for o in orders if o["status"] == "open"}
    assert demo.staff_work["bad_rating"] in opened
    overall = (
        await db.execute(
            text("""
        SELECT g.overall FROM ratings g JOIN incidents i ON i.id = g.incident_id
        WHERE i.tracking_number = :t AND g.kind = 'handling'
    """),
            {"t": demo.staff_work["bad_rating"]},
        )
    ).scalar_one()
    assert overall <= 2


async def test_a_rating_flag_waits_for_a_second_manager(db, demo):
    flag = (
        await db.execute(
            text("""
        SELECT f.status, u.username FROM rating_flags f JOIN ratings g ON g.id = f.rating_id
        JOIN incidents i ON i.id = g.incident_id JOIN users u ON u.id = f.flagged_by_id
        WHERE i.tracking_number = :t
    """),
            {"t": demo.staff_work["flagged_rating"]},
        )
    ).one()
    # Flagged by the street manager: the community manager is the second one who decides.
    assert tuple(flag) == ("pending", "street")


async def test_the_staff_work_is_the_same_every_time(db, demo):
    """Deterministic: the scenarios in their order, each at its building of the demo
    worker's cells (every seventh, by id)."""
    assert list(demo.staff_work) == [name for name, *_ in STAFF_SCENARIOS]
    buildings = (
        (
            await db.execute(
                text("""
        SELECT b.id FROM buildings b JOIN cell_assignments a ON a.cell_id = b.cell_id
        JOIN users u ON u.id = a.user_id
        WHERE u.username = 'worker' AND a.kind = 'primary' AND a.valid_to IS NULL
        ORDER BY b.id
    """)
            )
        )
        .scalars()
        .all()
    )
    placed = dict(
        (
            await db.execute(
                text(
                    "SELECT tracking_number, building_id FROM incidents WHERE tracking_number = ANY(:t)"
                ),
                {"t": list(demo.staff_work.values())},
            )
        ).all()
    )
    assert [placed[number] for number in demo.staff_work.values()] == [
        buildings[(k * 7) % len(buildings)] for k in range(len(STAFF_SCENARIOS))
    ]
