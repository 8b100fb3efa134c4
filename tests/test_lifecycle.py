"""The incident state machine: every legal and illegal transition, who may act, versions,
notifications, and two staff acting at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import intake_context
from core.errors import Conflict
from grid.access import load_principal
from incidents.handling.actions import ActionRequest, take_action
from incidents.intake.filing import ReportIn, submit_report
from incidents.lifecycle import ACTIONS
from incidents.models.reports import STATUSES
from tests.factories import assign, auth_headers, make_user, make_world, metres_point


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格"),
        "other_worker": await make_user(db, "w-a2", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_a2": await make_user(db, "cm-a2", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street", "street_manager", world.street),
        "resident": await make_user(db, "res", "resident"),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    await assign(db, world.cell_a2, users["other_worker"], valid_from=date(2026, 1, 1))
    return world, users


async def _report(client, x=250.0, y=250.0) -> str:
    lon, lat = metres_point(x, y)
    response = await client.post(
        "/reports", json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _act(client, settings, user, number, action, **body):
    return await client.post(
        f"/incidents/{number}/actions",
        json={"action": action, **body},
        headers=auth_headers(user, settings),
    )


async def _version(db, number) -> int:
    return (
        await db.execute(
            text("SELECT version FROM incidents WHERE tracking_number = :t"), {"t": number}
        )
    ).scalar()


async def test_a_report_goes_from_assigned_to_closed_and_the_public_sees_each_step(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client)
    for user, action, extra in [
        ("worker", "accept", {}),
        ("worker", "start", {}),
        ("worker", "resolve", {"note": "已清理楼道，电动车已移走"}),
        ("cm_a", "close", {}),
    ]:
        response = await _act(client, settings, users[user], number, action, **extra)
        assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed" and response.json()["allowed_actions"] == [
        "reopen"
    ]
    public = (await client.get(f"/reports/{number}")).json()
    assert [e["to"] for e in public["timeline"]] == [
        "submitted",
        "assigned",
        "accepted",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert public["closed_at"] is not None and "已清理" not in str(public)
    staff = (
        await client.get(f"/incidents/{number}", headers=auth_headers(users["cm_a"], settings))
    ).json()
    assert staff["timeline"][4]["note"] == "已清理楼道，电动车已移走"
    assert staff["timeline"][4]["actor"] == "w-a1"


def _extra(action: str, users, other: str) -> dict:
    return {
        "assign": {"assignee": "w-a1"},
        "resolve": {"note": "done"},
        "transfer": {"note": "不属于本网格"},
        "reopen": {"note": "未处理完"},
        "reject": {"note": "重复上报"},
        "refer_emergency": {"note": "明火"},
        "mark_duplicate": {"duplicate_of": other},
    }.get(action, {})


@pytest.mark.parametrize("status", STATUSES)
async def test_every_action_from_every_status_is_allowed_or_409(
    client, db, settings, scene, status
):
    _world, users = scene
    other = await _report(client, 260, 260)
    for name, action in ACTIONS.items():
        number = await _report(client)
        await db.execute(
            text("UPDATE incidents SET status = :s WHERE tracking_number = :t"),
            {"s": status, "t": number},
        )
        actor = users["worker"] if action.actor.value == "assignee" else users["cm_a"]
        body = _extra(name, users, other) | {"version": await _version(db, number)}
        response = await _act(client, settings, actor, number, name, **body)
        expected = 200 if status in action.sources else 409
        assert response.status_code == expected, (status, name, response.text)
        if expected == 200:
            assert response.json()["status"] == action.target


@pytest.mark.parametrize(
    ("who", "action", "status"),
    [
        ("worker", "close", 403),  # managers verify
        ("cm_a", "accept", 403),  # only the assignee signs for it
        ("other_worker", "accept", 404),  # another cell's worker does not even see it
        ("cm_b", "reject", 404),  # another community's manager neither
        ("resident", "accept", 403),
    ],
)
async def test_who_may_act(client, settings, scene, who, action, status):
    _world, users = scene
    number = await _report(client)
    response = await _act(client, settings, users[who], number, action, note="x")
    assert response.status_code == status, response.text


async def test_the_handler_may_not_verify_their_own_work(client, settings, scene, db):
    _world, users = scene
    number = await _report(client)
    version = await _version(db, number)
    assert (
        await _act(
            client, settings, users["cm_a"], number, "assign", assignee="cm-a", version=version
        )
    ).status_code == 200
    await _act(client, settings, users["cm_a"], number, "accept")
    await _act(client, settings, users["cm_a"], number, "resolve", note="修好了")
    own = await _act(client, settings, users["cm_a"], number, "close")
    assert own.status_code == 403
    assert (await _act(client, settings, users["cm_a2"], number, "close")).status_code == 200


async def test_stale_versions_and_missing_fields(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    stale = await _act(
        client, settings, users["cm_a"], number, "assign", assignee="w-a2", version=99
    )
    assert stale.status_code == 409
    for action, body, field in [
        ("assign", {"assignee": "w-a2"}, "version"),
        ("assign", {"version": 1}, "assignee"),
        ("reject", {}, "note"),
        ("assign", {"assignee": "cm-b", "version": 1}, "assignee"),
        ("explode", {}, "action"),
    ]:
        response = await _act(client, settings, users["cm_a"], number, action, **body)
        assert response.status_code == 422, (action, response.text)
        assert response.json()["error"]["fields"][0]["field"] == field


async def test_a_transfer_returns_the_report_to_the_areas_managers(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    response = await _act(
        client, settings, users["worker"], number, "transfer", note="应属隔壁网格"
    )
    assert response.json()["status"] == "transferred"
    row = (
        await db.execute(
            text("""
        SELECT i.assignee_id, array(SELECT u.username FROM unnest(o.recipient_ids) r
                                    JOIN users u ON u.id = r ORDER BY u.username)
        FROM incidents i JOIN outbox o ON o.incident_id = i.id AND o.topic = 'incident.transfer'
        WHERE i.tracking_number = :t"""),
            {"t": number},
        )
    ).one()
    assert row == (None, ["cm-a", "cm-a2", "street"])


async def test_a_duplicate_follows_the_earlier_report(client, db, settings, scene):
    _world, users = scene
    first, second = await _report(client), await _report(client)
    response = await _act(
        client, settings, users["cm_a"], second, "mark_duplicate", duplicate_of=first
    )
    assert response.status_code == 200
    staff = (
        await client.get(f"/incidents/{second}", headers=auth_headers(users["cm_a"], settings))
    ).json()
    assert staff["duplicate_of"] == first
    public = (await client.get(f"/reports/{second}")).json()
    assert (public["status"], public["follows"]) == ("duplicate", first)
    itself = await _act(
        client, settings, users["cm_a"], first, "mark_duplicate", duplicate_of=first
    )
    assert itself.status_code == 422


async def test_reporter_contact_only_for_the_assignee_and_managers_over_it(
    client, db, settings, scene
):
    world, users = scene
    lon, lat = metres_point(250, 250)
    number = (
        await client.post(
            "/reports",
            json={
                "category": "fire.blocked_exit",
                "lon": lon,
                "lat": lat,
                "contact_phone": "13766667777",
            },
        )
    ).json()["tracking_number"]
    backup = await make_user(db, "w-a1-backup", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, backup, kind="backup", valid_from=date(2026, 1, 1))
    for user, sees in [(users["worker"], True), (users["street"], True), (backup, False)]:
        body = (
            await client.get(f"/incidents/{number}", headers=auth_headers(user, settings))
        ).json()
        assert (body["reporter_contact"] is not None) == sees, user.username
        if sees:
            assert body["reporter_contact"]["phone"] == "13766667777"


# --- two staff at once: real, separate transactions --------------------------------------


@pytest.fixture
async def committed_incident(async_engine, settings):
    """A world and one incident committed for real (concurrency needs two connections);
    removed afterwards."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        world = await make_world(session)
        worker = await make_user(session, "race-w", "grid_worker", world.community_a)
        managers = [
            await make_user(session, f"race-m{i}", "community_manager", world.community_a)
            for i in (1, 2)
        ]
        await assign(session, world.cell_a1, worker, valid_from=date(2026, 1, 1))
        lon, lat = metres_point(250, 250)
        submission = await submit_report(
            session,
            intake_context(settings),
            ReportIn(category="fire.blocked_exit", lon=lon, lat=lat),
            [],
            None,
            datetime.now(UTC),
        )
        await session.commit()
    yield submission.tracking_number, worker.id, [m.id for m in managers]
    async with async_engine.begin() as conn:
        await conn.execute(text("DELETE FROM incidents"))
        await conn.execute(text("DELETE FROM cell_assignments"))
        await conn.execute(text("DELETE FROM users WHERE username LIKE 'race-%'"))
        await conn.execute(text("DELETE FROM grid_cells"))
        await conn.execute(text("DELETE FROM boundary_versions"))
        await conn.execute(
            text("DELETE FROM regions WHERE code LIKE '8801%' AND level = 'community'")
        )
        for level in ("street", "district", "city"):
            await conn.execute(
                text("DELETE FROM regions WHERE code LIKE '8801%' AND level = :l"), {"l": level}
            )


async def _race(async_engine, settings, attempts):
    """Run each (user id, request) in its own transaction, all at once; the first to lock
    the row holds it a moment before committing."""
    ctx = intake_context(settings)
    number = attempts[0][2]

    async def one(user_id, request, _number, delay):
        async with AsyncSession(async_engine) as session:
            principal = await load_principal(session, user_id)
            await asyncio.sleep(delay)
            try:
                await take_action(session, ctx, principal, _number, request, datetime.now(UTC))
                await asyncio.sleep(0.2)  # hold the lock while the other one waits
                await session.commit()
                return "ok"
            except Conflict:
                return "conflict"

    return sorted(
        await asyncio.gather(
            *(one(u, r, number, i * 0.05) for i, (u, r, _n) in enumerate(attempts))
        )
    )


async def test_two_concurrent_accepts_one_wins_the_other_gets_409(
    async_engine, settings, committed_incident
):
    number, worker_id, _managers = committed_incident
    results = await _race(
        async_engine,
        settings,
        [
            (worker_id, ActionRequest("accept"), number),
            (worker_id, ActionRequest("accept"), number),
        ],
    )
    assert results == ["conflict", "ok"]


async def test_two_managers_reassigning_at_once_one_wins(
    async_engine, settings, committed_incident
):
    number, _worker, (first, second) = committed_incident
    results = await _race(
        async_engine,
        settings,
        [
            (first, ActionRequest("assign", assignee="race-m1", version=1), number),
            (second, ActionRequest("assign", assignee="race-m2", version=1), number),
        ],
    )
    assert results == ["conflict", "ok"]


async def test_a_reopened_report_gets_a_fresh_window_to_sign_for_it(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    for user, action, extra in [
        ("worker", "accept", {}),
        ("worker", "resolve", {"note": "ok"}),
        ("cm_a", "close", {}),
    ]:
        await _act(client, settings, users[user], number, action, **extra)
    await db.execute(
        text(
            "UPDATE incidents SET accept_due_at = now() - interval '3 days' "
            "WHERE tracking_number = :t"
        ),
        {"t": number},
    )
    await _act(client, settings, users["cm_a"], number, "reopen", note="又堵上了")
    due = (
        await db.execute(
            text("SELECT accept_due_at > now() FROM incidents WHERE tracking_number = :t"),
            {"t": number},
        )
    ).scalar()
    assert due is True


async def test_a_resolution_can_carry_after_photos_kept_with_its_step(client, db, settings, scene):
    import io

    from PIL import Image

    _world, users = scene
    number = await _report(client)
    await _act(client, settings, users["worker"], number, "accept")
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(buffer, "JPEG")
    response = await client.post(
        f"/incidents/{number}/actions",
        headers=auth_headers(users["worker"], settings),
        data={"action": "resolve", "note": "已清理"},
        files=[("photos", ("after.jpg", buffer.getvalue(), "image/jpeg"))],
    )
    assert response.status_code == 200, response.text
    kept = (
        (
            await db.execute(
                text("""
        SELECT e.to_status FROM incident_photos p JOIN incident_events e ON e.id = p.event_id
        JOIN incidents i ON i.id = p.incident_id WHERE i.tracking_number = :t
    """),
                {"t": number},
            )
        )
        .scalars()
        .all()
    )
    assert kept == ["resolved"]


async def test_the_reporters_account_shows_only_to_those_who_see_their_contact(
    client, db, settings, scene
):
    world, users = scene
    lon, lat = metres_point(250, 250)
    number = (
        await client.post(
            "/reports",
            headers=auth_headers(users["resident"], settings),
            json={"category": "fire.blocked_exit", "lon": lon, "lat": lat},
        )
    ).json()["tracking_number"]
    backup = await make_user(db, "w-a1-b", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, backup, kind="backup", valid_from=date(2026, 1, 1))
    seen = {}
    for user in (users["worker"], backup):
        body = (
            await client.get(f"/incidents/{number}", headers=auth_headers(user, settings))
        ).json()
        seen[user.username] = body["timeline"][0]["actor"]
    assert seen == {"w-a1": "res", "w-a1-b": None}


async def test_reopening_a_duplicate_unlinks_it_and_closed_reports_cannot_be_followed(
    client, db, settings, scene
):
    _world, users = scene
    first, second = await _report(client), await _report(client)
    await _act(client, settings, users["cm_a"], second, "mark_duplicate", duplicate_of=first)
    await _act(client, settings, users["cm_a"], second, "reopen", note="不是同一处")
    assert (await client.get(f"/reports/{second}")).json()["follows"] is None
    # Now `first` cannot follow `second` back into a loop once second is closed out.
    await db.execute(
        text("UPDATE incidents SET status = 'rejected' WHERE tracking_number = :t"), {"t": second}
    )
    loop = await _act(client, settings, users["cm_a"], first, "mark_duplicate", duplicate_of=second)
    assert loop.status_code == 422


async def test_a_transferred_report_is_rerouted_under_the_right_category(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client)
    await _act(client, settings, users["worker"], number, "transfer", note="其实是燃气问题")
    version = await _version(db, number)
    for body, field in [
        ({"category": "fire.burning_now"}, "category"),
        ({"category": "fire.nonsense"}, "category"),
    ]:
        refused = await _act(
            client,
            settings,
            users["cm_a"],
            number,
            "assign",
            assignee="w-a1",
            version=version,
            **body,
        )
        assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["field"] == field
    moved = await _act(
        client,
        settings,
        users["cm_a"],
        number,
        "assign",
        assignee="w-a2",
        version=version,
        category="fire.gas",
    )
    assert moved.status_code == 200, moved.text
    public = (await client.get(f"/reports/{number}")).json()
    assert public["category"]["code"] == "fire.gas" and public["status"] == "assigned"
    wrong = await _act(
        client, settings, users["cm_a"], number, "reject", note="x", category="fire.gas"
    )
    assert wrong.status_code == 422
