"""Staff writes replayed from the worker's offline queue: with an Idempotency-Key each is
held once (the first answer again, nothing stored twice), a different request under the
key is refused, a refused write leaves its key free, keys are per user and route; and an
action's answer lists what this caller may do next."""

from __future__ import annotations

import asyncio
import io
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from api import idempotency
from core.errors import Conflict
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_user,
    make_world,
    metres_point,
)

KEY = "Idempotency-Key"
PIN = (250.0, 250.0)  # metres: inside cell a1, so reports go to the worker


@dataclass
class Scene:
    """Plain values only: a refused keyed write rolls the session back, which expires
    the ORM objects the fixture made."""

    headers: dict[str, dict[str, str]]
    building_id: int
    other_building_id: int


@pytest.fixture
async def scene(db, settings) -> Scene:
    world = await make_world(db)
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "other_worker": await make_user(db, "w-a2", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    await assign(db, world.cell_a2, users["other_worker"], valid_from=date(2026, 1, 1))
    mine = await make_building(db, world.cell_a1, (100, 100, 140, 140), "幸福路1号")
    theirs = await make_building(db, world.cell_a2, (600, 100, 640, 140), "幸福路9号")
    found = Scene(
        {name: auth_headers(user, settings) for name, user in users.items()}, mine.id, theirs.id
    )
    # Committed (a savepoint of the test's transaction), so a route's rollback keeps it.
    await db.commit()
    return found


async def _report(client) -> str:
    lon, lat = metres_point(*PIN)
    response = await client.post(
        "/reports", json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _set_status(db, number: str, status: str) -> None:
    await db.execute(
        text("UPDATE incidents SET status = :s WHERE tracking_number = :t"),
        {"s": status, "t": number},
    )


async def _version(db, number: str) -> int:
    return (
        await db.execute(
            text("SELECT version FROM incidents WHERE tracking_number = :t"), {"t": number}
        )
    ).scalar_one()


def _jpeg(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, "JPEG")
    return buffer.getvalue()


# What any of these writes leaves behind; a replay must leave all of it unchanged.
_FOOTPRINT = text("""
    SELECT (SELECT count(*) FROM incident_events) AS events,
           (SELECT count(*) FROM incident_events WHERE kind = 'note') AS notes,
           (SELECT count(*) FROM incident_photos) AS photos,
           (SELECT count(*) FROM check_ins) AS check_ins,
           (SELECT count(*) FROM extension_requests) AS extension_requests,
           (SELECT count(*) FROM patrol_visits) AS visits,
           (SELECT count(*) FROM outbox) AS outbox,
           (SELECT max(version) FROM incidents) AS version
""")


async def _footprint(db) -> dict[str, Any]:
    return dict((await db.execute(_FOOTPRINT)).mappings().one())


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - (before[k] or 0) for k in after if after[k] != before[k]}


@dataclass
class Case:
    """One staff write: its URL ({n}: the report), the request, a different request, the
    report's status beforehand, the answer's status and what one write stores."""

    path: str
    first: dict[str, Any]
    different: dict[str, Any]
    status: int
    stores: dict[str, int]
    before: str | None = None
    who: str = "worker"
    extra: dict[str, Any] = field(default_factory=dict)


def _photo(colour: str) -> list:
    return [("photos", ("after.jpg", _jpeg(colour), "image/jpeg"))]


_SOON = (datetime.now(UTC) + timedelta(days=5)).isoformat()
_HERE = metres_point(*PIN)
_THERE = metres_point(PIN[0] + 100, PIN[1])

CASES = {
    "action as JSON": Case(
        "/incidents/{n}/actions",
        {"json": {"action": "accept"}},
        {"json": {"action": "accept", "note": "马上到"}},
        200,
        {"events": 1, "version": 1},
    ),
    "action as a form with photos": Case(
        "/incidents/{n}/actions",
        {"data": {"action": "resolve", "note": "已清理"}, "files": _photo("green")},
        {"data": {"action": "resolve", "note": "已清理"}, "files": _photo("blue")},
        200,
        {"events": 1, "photos": 1, "version": 1},
        before="accepted",
    ),
    "note as JSON": Case(
        "/incidents/{n}/notes",
        {"json": {"note": "已联系物业"}},
        {"json": {"note": "已联系房东"}},
        201,
        {"events": 1, "notes": 1},
    ),
    "note as a form with photos": Case(
        "/incidents/{n}/notes",
        {"data": {"note": "现场照片"}, "files": _photo("green")},
        {"data": {"note": "现场照片"}, "files": _photo("blue")},
        201,
        {"events": 1, "notes": 1, "photos": 1},
    ),
    "check-in": Case(
        "/incidents/{n}/check-in",
        {"json": {"lon": _HERE[0], "lat": _HERE[1]}},
        {"json": {"lon": _THERE[0], "lat": _THERE[1]}},
        200,
        {"events": 1, "check_ins": 1},
    ),
    "extension request": Case(
        "/incidents/{n}/extension-requests",
        {"json": {"until": _SOON, "reason": "等配件"}},
        {"json": {"until": _SOON, "reason": "等物业"}},
        201,
        {"events": 1, "extension_requests": 1},
    ),
    "patrol visit": Case(
        "/patrol/visits",
        {"json": {"building_id": "{building}"}},
        {"json": {"building_id": "{building}", "hazards_found": 1}},
        201,
        {"visits": 1},
    ),
}


def _filled(request: dict[str, Any], scene: Scene) -> dict[str, Any]:
    """The request with the scene's building id in place of its placeholder."""
    body = request.get("json")
    if body and body.get("building_id") == "{building}":
        return request | {"json": body | {"building_id": scene.building_id}}
    return request


@pytest.mark.parametrize("name", list(CASES))
async def test_a_replay_gets_the_first_answer_and_stores_nothing_again(client, db, scene, name):
    case = CASES[name]
    number = await _report(client)
    if case.before:
        await _set_status(db, number, case.before)
    url = case.path.format(n=number)
    headers = scene.headers[case.who] | {KEY: f"offline-{name}"}
    before = await _footprint(db)

    first = await client.post(url, headers=headers, **_filled(case.first, scene))
    assert first.status_code == case.status, first.text
    assert "Idempotent-Replayed" not in first.headers
    after_first = await _footprint(db)
    changed = _changes(before, after_first)
    changed.pop("outbox", None)  # who is told depends on the route, not on the key
    assert changed == case.stores

    again = await client.post(url, headers=headers, **_filled(case.first, scene))
    assert again.status_code == case.status
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _footprint(db) == after_first

    other = await client.post(url, headers=headers, **_filled(case.different, scene))
    assert other.status_code == 422, other.text
    assert [f["field"] for f in other.json()["error"]["fields"]] == [KEY]
    assert await _footprint(db) == after_first


async def test_the_same_key_on_another_report_is_a_different_request(client, scene):
    one, two = await _report(client), await _report(client)
    headers = scene.headers["worker"] | {KEY: "note-1"}
    assert (
        await client.post(f"/incidents/{one}/notes", headers=headers, json={"note": "已到场"})
    ).status_code == 201
    other = await client.post(f"/incidents/{two}/notes", headers=headers, json={"note": "已到场"})
    assert other.status_code == 422
    assert other.json()["error"]["fields"][0]["field"] == KEY


@pytest.mark.parametrize(
    ("refused", "status"),
    [
        ({"action": "accept", "version": 99}, 409),  # stale version
        ({"action": "start"}, 409),  # illegal move from assigned
        ({"action": "close"}, 403),  # the manager's step
        ({"action": "transfer"}, 422),  # needs a note
    ],
)
async def test_a_refused_action_does_not_use_up_its_key(client, db, scene, refused, status):
    number = await _report(client)
    headers = scene.headers["worker"] | {KEY: "accept-once"}
    url = f"/incidents/{number}/actions"
    before = await _footprint(db)
    response = await client.post(url, headers=headers, json=refused)
    assert response.status_code == status, response.text
    assert await _footprint(db) == before
    stored = (
        await db.execute(text("SELECT count(*) FROM idempotency_records WHERE key = 'accept-once'"))
    ).scalar()
    assert stored == 0
    fixed = await client.post(
        url, headers=headers, json={"action": "accept", "version": await _version(db, number)}
    )
    assert fixed.status_code == 200, fixed.text
    assert "Idempotent-Replayed" not in fixed.headers
    assert fixed.json()["status"] == "accepted"
    assert _changes(before, await _footprint(db))["events"] == 1


async def test_refused_notes_check_ins_extensions_and_visits_leave_their_keys_free(
    client, db, scene
):
    number = await _report(client)
    worker = scene.headers["worker"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused_then_fixed = [
        (
            f"/incidents/{number}/notes",
            {"note": "公开", "public": True},
            403,
            {"note": "内部备注"},
            201,
        ),
        (
            f"/incidents/{number}/extension-requests",
            {"until": past, "reason": "等配件"},
            422,
            {"until": _SOON, "reason": "等配件"},
            201,
        ),
        (
            "/patrol/visits",
            {"building_id": scene.other_building_id},
            403,
            {"building_id": scene.building_id},
            201,
        ),
    ]
    for url, refused, status, fixed, ok in refused_then_fixed:
        headers = worker | {KEY: f"retry:{url}"}
        response = await client.post(url, headers=headers, json=refused)
        assert response.status_code == status, (url, response.text)
        response = await client.post(url, headers=headers, json=fixed)
        assert response.status_code == ok, (url, response.text)
        assert "Idempotent-Replayed" not in response.headers
    # A check-in on a closed report is refused; reopened for the worker, the key works.
    await _set_status(db, number, "closed")
    headers = worker | {KEY: "check-in-1"}
    body = {"lon": _HERE[0], "lat": _HERE[1]}
    url = f"/incidents/{number}/check-in"
    assert (await client.post(url, headers=headers, json=body)).status_code == 409
    await _set_status(db, number, "accepted")
    response = await client.post(url, headers=headers, json=body)
    assert response.status_code == 200 and response.json()["on_site"] is True
    counts = await _footprint(db)
    assert (
        counts["notes"],
        counts["extension_requests"],
        counts["visits"],
        counts["check_ins"],
    ) == (1, 1, 1, 1)


async def test_keys_are_each_users_own_and_each_routes_own(client, db, scene):
    number = await _report(client)
    url = f"/incidents/{number}/notes"
    body = {"note": "已电话联系"}
    for who in ("worker", "cm_a"):
        response = await client.post(url, headers=scene.headers[who] | {KEY: "k-1"}, json=body)
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
    # The worker's same key on another route is another action.
    checked = await client.post(
        f"/incidents/{number}/check-in",
        headers=scene.headers["worker"] | {KEY: "k-1"},
        json={"lon": _HERE[0], "lat": _HERE[1]},
    )
    assert checked.status_code == 200 and "Idempotent-Replayed" not in checked.headers
    counts = await _footprint(db)
    assert (counts["notes"], counts["check_ins"]) == (2, 1)
    scopes = (
        await db.execute(
            text("SELECT scope FROM idempotency_records WHERE key = 'k-1' ORDER BY scope")
        )
    ).scalars()
    assert len(set(scopes)) == 3


async def test_a_bad_key_is_a_422_naming_the_header(client, db, scene):
    number = await _report(client)
    for key in (" ", "x" * 201):
        response = await client.post(
            f"/incidents/{number}/notes",
            headers=scene.headers["worker"] | {KEY: key},
            json={"note": "备注"},
        )
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == KEY
    assert (await _footprint(db))["notes"] == 0


# --- racing requests with one key ---------------------------------------------------------


def _fake_request() -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/race",
            "headers": [],
            "query_string": b"",
            "route": SimpleNamespace(path="/race"),
        }
    )


async def _race(async_engine, first_fails: bool) -> tuple[list[str], Any, Any, Any]:
    """Two requests with one key in separate transactions; the second arrives while the
    first is still working. Returns who did the work, both answers and what was stored."""
    key = f"race-{secrets.token_hex(8)}"
    principal = SimpleNamespace(id=-1)
    worked: list[str] = []
    first_inside, release = asyncio.Event(), asyncio.Event()

    def work(who: str, fail: bool = False):
        async def run() -> dict[str, Any]:
            worked.append(who)
            if who == "first":
                first_inside.set()
                await release.wait()
            if fail:
                raise Conflict("refused", "拒绝")
            return {"who": who}

        return run

    async def call(who: str, fail: bool = False):
        async with AsyncSession(async_engine) as session:
            try:
                return await idempotency.answer_once(
                    session, _fake_request(), principal, key, ("same",), work(who, fail), 201
                )
            except Conflict as exc:
                return exc

    try:
        first = asyncio.create_task(call("first", first_fails))
        await first_inside.wait()
        second = asyncio.create_task(call("second"))
        await asyncio.sleep(0.3)  # the second is now waiting on the first's claim
        assert not second.done()
        release.set()
        answers = await asyncio.gather(first, second)
        async with async_engine.connect() as conn:
            stored = (
                await conn.execute(
                    text("SELECT status_code, response FROM idempotency_records WHERE key = :k"),
                    {"k": key},
                )
            ).all()
    finally:
        async with async_engine.begin() as conn:
            await conn.execute(text("DELETE FROM idempotency_records WHERE key = :k"), {"k": key})
    return worked, answers[0], answers[1], stored


async def test_a_request_racing_the_first_with_its_key_waits_and_replays_its_answer(async_engine):
    worked, first, second, stored = await _race(async_engine, first_fails=False)
    assert worked == ["first"]  # the work ran once
    assert first.status_code == second.status_code == 201
    assert first.body == second.body
    assert second.headers["Idempotent-Replayed"] == "true"
    assert [(s.status_code, s.response) for s in stored] == [(201, {"who": "first"})]


async def test_when_the_first_is_refused_the_waiting_request_takes_the_key(async_engine):
    worked, first, second, stored = await _race(async_engine, first_fails=True)
    assert isinstance(first, Conflict)
    assert worked == ["first", "second"]
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert [(s.status_code, s.response) for s in stored] == [(201, {"who": "second"})]


# --- what the caller may do next ----------------------------------------------------------


async def test_after_a_worker_resolves_they_have_nothing_left_to_do(client, db, scene):
    number = await _report(client)
    await _set_status(db, number, "accepted")
    response = await client.post(
        f"/incidents/{number}/actions",
        headers=scene.headers["worker"],
        json={"action": "resolve", "note": "已清理"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["allowed_actions"] == []  # close and reopen are the manager's
    seen = await client.get(f"/incidents/{number}", headers=scene.headers["cm_a"])
    assert {"close", "reopen"} <= set(seen.json()["allowed_actions"])


async def test_after_a_manager_assigns_the_manager_may_not_accept(client, db, scene):
    number = await _report(client)
    response = await client.post(
        f"/incidents/{number}/actions",
        headers=scene.headers["cm_a"],
        json={"action": "assign", "assignee": "w-a2", "version": await _version(db, number)},
    )
    assert response.status_code == 200, response.text
    allowed = response.json()["allowed_actions"]
    assert "accept" not in allowed and "transfer" not in allowed
    assert "assign" in allowed and "reject" in allowed
    assigned = await client.get(f"/incidents/{number}", headers=scene.headers["other_worker"])
    assert "accept" in assigned.json()["allowed_actions"]
