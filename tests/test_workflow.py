"""The worker's day and the manager's desk: work lists, notes, check-ins, extensions,
bulk assignment, and workers kept off each other's reports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import text

from gis.coords import wgs84_to_gcj02
from tests.factories import assign, auth_headers, make_user, make_world, metres_point

NOW = datetime.now(UTC)


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    users = {
        "worker": await make_user(db, "w-a1", "grid_worker", world.community_a),
        "backup": await make_user(db, "w-a1-b", "grid_worker", world.community_a),
        "other_worker": await make_user(db, "w-a2", "grid_worker", world.community_a),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a),
        "cm_a2": await make_user(db, "cm-a2", "community_manager", world.community_a),
        "cm_b": await make_user(db, "cm-b", "community_manager", world.community_b),
        "street": await make_user(db, "street", "street_manager", world.street),
        "resident": await make_user(db, "res", "resident"),
    }
    await assign(db, world.cell_a1, users["worker"], valid_from=date(2026, 1, 1))
    await assign(db, world.cell_a1, users["backup"], kind="backup", valid_from=date(2026, 1, 1))
    await assign(db, world.cell_a2, users["other_worker"], valid_from=date(2026, 1, 1))
    return world, users


async def _report(client, x=250.0, y=250.0, category="fire.blocked_exit", **extra) -> str:
    lon, lat = metres_point(x, y)
    response = await client.post(
        "/reports", json={"category": category, "lon": lon, "lat": lat, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _act(client, settings, user, number, action, **body):
    return await client.post(
        f"/incidents/{number}/actions",
        json={"action": action, **body},
        headers=auth_headers(user, settings),
    )


async def _list(client, settings, user, **params):
    response = await client.get("/incidents", params=params, headers=auth_headers(user, settings))
    assert response.status_code == 200, response.text
    return response.json()


def _numbers(body) -> list[str]:
    return [item["tracking_number"] for item in body["items"]]


async def _set(db, number, **values):
    """Put a report into a given state (deadlines relative to NOW, in hours)."""
    for column, value in values.items():
        assert column in {
            "status",
            "accept_due_at",
            "resolve_due_at",
            "escalation_level",
            "created_at",
        }
        if column.endswith("_at") and isinstance(value, int | float):
            value = NOW + timedelta(hours=value)
        await db.execute(
            text(f"UPDATE incidents SET {column} = :v WHERE tracking_number = :t"),
            {"v": value, "t": number},
        )


async def _row(db, number):
    return (
        (
            await db.execute(
                text("SELECT * FROM incidents WHERE tracking_number = :t"), {"t": number}
            )
        )
        .mappings()
        .one()
    )


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "JPEG")
    return buffer.getvalue()


# --- work lists ---------------------------------------------------------------------------


async def test_my_list_puts_the_nearest_binding_deadline_first_and_overdue_on_top(
    client, db, settings, scene
):
    _world, users = scene
    accepted, waiting, late_to_sign, reassigned_late, closed = [
        await _report(client) for _ in range(5)
    ]
    elsewhere = await _report(client, 750, 250)  # cell a2: another worker's
    await _set(db, accepted, status="accepted", resolve_due_at=48)
    await _set(db, waiting, accept_due_at=1, resolve_due_at=72)
    await _set(db, late_to_sign, accept_due_at=-1, resolve_due_at=70)
    # Reassigned: a fresh window to sign for it, but the resolve deadline has passed.
    await _set(db, reassigned_late, accept_due_at=5, resolve_due_at=-2)
    await _set(db, closed, status="closed")
    body = await _list(client, settings, users["worker"])  # view=mine by default
    assert body["view"] == "mine"
    assert _numbers(body) == [reassigned_late, late_to_sign, waiting, accepted]
    assert elsewhere not in _numbers(body)
    flags = {
        i["tracking_number"]: (i["overdue"], i["accept_overdue"], i["resolve_overdue"])
        for i in body["items"]
    }
    assert flags == {
        reassigned_late: (True, False, True),
        late_to_sign: (True, True, False),
        waiting: (False, False, False),
        accepted: (False, False, False),
    }
    first = body["items"][0]
    assert first["category"]["code"] == "fire.blocked_exit" and first["category"]["label_zh"]
    assert first["cell_code"] == "880101001001001" and first["assignee"] == "w-a1"
    assert first["allowed_actions"] == ["accept", "transfer", "refer_emergency"]
    # Planning lists carry no reporter contact.
    assert "reporter" not in str(body) and "phone" not in str(body)


async def test_lists_page_with_a_cursor_and_refuse_a_forged_one(client, db, settings, scene):
    _world, users = scene
    numbers = [await _report(client) for _ in range(5)]
    for hours, number in enumerate(numbers):
        await _set(db, number, accept_due_at=hours + 1)
    await _set(db, numbers[4], accept_due_at=None, resolve_due_at=None)  # no deadline: last
    seen, after = [], None
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        body = await _list(client, settings, users["worker"], **params)
        seen += _numbers(body)
        after = body["next"]
        if after is None:
            break
    assert seen == numbers
    bad = await client.get(
        "/incidents", params={"after": "bm9wZQ"}, headers=auth_headers(users["worker"], settings)
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "after"
    too_many = await client.get(
        "/incidents", params={"limit": 201}, headers=auth_headers(users["worker"], settings)
    )
    assert too_many.status_code == 422


async def test_list_filters(client, db, settings, scene):
    _world, users = scene
    late = await _report(client)
    ebike = await _report(client, 260, 260, category="fire.ebike_indoor")
    resolved = await _report(client, 750, 250)
    await _set(db, late, accept_due_at=-3)
    await _set(db, resolved, status="resolved", created_at=-48)
    cm = users["cm_a"]
    assert _numbers(await _list(client, settings, cm, overdue="true")) == [late]
    assert _numbers(await _list(client, settings, cm, overdue="false")) == [ebike]
    assert _numbers(await _list(client, settings, cm, category="fire.ebike_indoor")) == [ebike]
    assert _numbers(await _list(client, settings, cm, cell="880101001001002")) == []
    both = await _list(client, settings, cm, status=["resolved", "assigned"])
    assert set(_numbers(both)) == {late, ebike, resolved}
    assert _numbers(
        await _list(
            client,
            settings,
            cm,
            status="resolved",
            created_to=(NOW - timedelta(hours=24)).isoformat(),
        )
    ) == [resolved]
    assert resolved not in _numbers(
        await _list(
            client,
            settings,
            cm,
            status="resolved",
            created_from=(NOW - timedelta(hours=1)).isoformat(),
        )
    )
    wrong = await client.get(
        "/incidents", params={"status": "lost"}, headers=auth_headers(cm, settings)
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["fields"][0]["field"] == "status"


async def test_the_queue_holds_unassigned_reports_of_the_managers_area_only(
    client, db, settings, scene
):
    _world, users = scene
    transferred, assigned = await _report(client), await _report(client)
    in_b = await _report(client, 1250, 250)
    await _act(client, settings, users["worker"], transferred, "transfer", note="不属于本网格")
    await _act(client, settings, users["cm_b"], in_b, "reject", note="无效")  # leaves the lists
    queue = await _list(client, settings, users["cm_a"], view="queue")
    assert _numbers(queue) == [transferred]
    assert queue["items"][0]["assignee"] is None
    assert queue["items"][0]["allowed_actions"] == [
        "assign",
        "reject",
        "mark_duplicate",
        "refer_emergency",
    ]
    assert _numbers(await _list(client, settings, users["cm_b"], view="queue")) == []
    area = await _list(client, settings, users["cm_a"])  # managers default to area
    assert area["view"] == "area" and set(_numbers(area)) == {transferred, assigned}
    assert _numbers(await _list(client, settings, users["street"], view="queue")) == [transferred]
    refused = await client.get(
        "/incidents", params={"view": "queue"}, headers=auth_headers(users["worker"], settings)
    )
    assert refused.status_code == 403


async def test_escalated_reports_for_review(client, db, settings, scene):
    _world, users = scene
    calm, escalated = await _report(client), await _report(client)
    await _set(db, escalated, escalation_level=2)
    assert _numbers(await _list(client, settings, users["street"], view="escalated")) == [escalated]
    assert _numbers(await _list(client, settings, users["cm_b"], view="escalated")) == []
    assert calm in _numbers(await _list(client, settings, users["street"], view="area"))
    row = (await _list(client, settings, users["street"], view="escalated"))["items"][0]
    assert row["escalation_level"] == 2


async def test_a_worker_sees_their_cells_but_only_their_own_is_mine(client, db, settings, scene):
    _world, users = scene
    in_a1, in_a2 = await _report(client), await _report(client, 750, 250)
    assert _numbers(await _list(client, settings, users["backup"])) == []
    area = await _list(client, settings, users["backup"], view="area")
    assert _numbers(area) == [in_a1]
    assert area["items"][0]["allowed_actions"] == []  # a backup sees, the assignee acts
    assert in_a2 not in _numbers(await _list(client, settings, users["worker"], view="area"))


# --- notes --------------------------------------------------------------------------------


async def test_notes_by_the_assignee_stay_internal_and_managers_may_publish(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client)
    own = await client.post(
        f"/incidents/{number}/notes",
        json={"note": "已电话联系业主"},
        headers=auth_headers(users["worker"], settings),
    )
    assert own.status_code == 201, own.text
    published = await client.post(
        f"/incidents/{number}/notes",
        json={"note": "整改中", "public": True},
        headers=auth_headers(users["worker"], settings),
    )
    assert published.status_code == 403
    assert published.json()["error"]["fields"][0]["field"] == "public"
    managers = await client.post(
        f"/incidents/{number}/notes",
        json={"note": "请三天内完成", "public": True},
        headers=auth_headers(users["cm_a"], settings),
    )
    assert managers.status_code == 201
    events = (
        await db.execute(
            text("""
        SELECT e.note, e.public, e.from_status, e.to_status FROM incident_events e
        JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :t AND e.kind = 'note' ORDER BY e.id"""),
            {"t": number},
        )
    ).all()
    assert [tuple(e) for e in events] == [
        ("已电话联系业主", False, None, None),
        ("请三天内完成", True, None, None),
    ]
    public = (await client.get(f"/reports/{number}")).json()
    assert [e["kind"] for e in public["timeline"]].count("note") == 1
    assert "三天" not in str(public)
    staff = (
        await client.get(f"/incidents/{number}", headers=auth_headers(users["worker"], settings))
    ).json()
    assert [e["note"] for e in staff["timeline"] if e["kind"] == "note"] == [
        "已电话联系业主",
        "请三天内完成",
    ]
    told = (
        await db.execute(
            text("""
        SELECT array(SELECT u.username FROM unnest(o.recipient_ids) r JOIN users u ON u.id = r)
        FROM outbox o JOIN incidents i ON i.id = o.incident_id
        WHERE i.tracking_number = :t AND o.topic = 'incident.note'"""),
            {"t": number},
        )
    ).all()
    assert [tuple(t) for t in told] == [(["w-a1"],)]
    assert (await _row(db, number))["status"] == "assigned"


async def test_a_note_can_carry_photos(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    response = await client.post(
        f"/incidents/{number}/notes",
        headers=auth_headers(users["worker"], settings),
        data={"note": "现场照片"},
        files=[("photos", ("before.jpg", _jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    assert response.json()["photos"] == 1
    kinds = (
        (
            await db.execute(
                text("""
        SELECT e.kind FROM incident_photos p JOIN incident_events e ON e.id = p.event_id
        JOIN incidents i ON i.id = p.incident_id WHERE i.tracking_number = :t"""),
                {"t": number},
            )
        )
        .scalars()
        .all()
    )
    assert kinds == ["note"]


# --- check-in -----------------------------------------------------------------------------


async def _check_in(client, settings, user, number, x, y, **extra):
    lon, lat = metres_point(x, y)
    return await client.post(
        f"/incidents/{number}/check-in",
        json={"lon": lon, "lat": lat, **extra},
        headers=auth_headers(user, settings),
    )


async def test_check_in_measures_the_distance_and_records_off_site_attempts_too(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client, 250, 250)
    near = await _check_in(client, settings, users["worker"], number, 250, 300)
    assert near.status_code == 200, near.text
    assert abs(near.json()["distance_m"] - 50) < 1 and near.json()["on_site"] is True
    assert near.json()["radius_m"] == settings.checkin_radius_m
    far = await _check_in(client, settings, users["worker"], number, 250, 450)
    assert far.status_code == 200
    assert abs(far.json()["distance_m"] - 200) < 1 and far.json()["on_site"] is False
    recorded = (
        await db.execute(
            text("""
        SELECT c.on_site, round(c.distance_m), e.data->>'on_site', c.user_id = :u
        FROM check_ins c JOIN incidents i ON i.id = c.incident_id
        JOIN incident_events e ON e.incident_id = i.id AND e.kind = 'check_in'
             AND (e.data->>'check_in_id')::bigint = c.id
        WHERE i.tracking_number = :t ORDER BY c.id"""),
            {"t": number, "u": users["worker"].id},
        )
    ).all()
    assert [tuple(r) for r in recorded] == [(True, 50, "true", True), (False, 200, "false", True)]
    public = (await client.get(f"/reports/{number}")).json()
    assert "check_in" not in [e["kind"] for e in public["timeline"]]


async def test_check_in_from_a_chinese_map_sdk_is_converted_first(client, db, settings, scene):
    _world, users = scene
    number = await _report(client, 250, 250)
    lon, lat = wgs84_to_gcj02(*metres_point(250, 250))
    response = await client.post(
        f"/incidents/{number}/check-in",
        json={"lon": lon, "lat": lat, "coord_system": "gcj02"},
        headers=auth_headers(users["worker"], settings),
    )
    assert response.json()["distance_m"] < 1 and response.json()["on_site"] is True
    swapped = await client.post(
        f"/incidents/{number}/check-in",
        json={"lon": 22.55, "lat": 114.05},
        headers=auth_headers(users["worker"], settings),
    )
    assert swapped.status_code == 422
    assert swapped.json()["error"]["fields"][0]["field"] == "lat"


async def test_check_in_only_while_the_report_is_open(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    await _set(db, number, status="closed")
    response = await _check_in(client, settings, users["worker"], number, 250, 250)
    assert response.status_code == 409


# --- extensions ---------------------------------------------------------------------------


async def _ask(client, settings, user, number, hours_after_due, due, reason="等待配件"):
    until = (due + timedelta(hours=hours_after_due)).isoformat()
    return await client.post(
        f"/incidents/{number}/extension-requests",
        json={"until": until, "reason": reason},
        headers=auth_headers(user, settings),
    )


async def _decide(client, settings, user, request_id, **body):
    return await client.post(
        f"/extension-requests/{request_id}/decision",
        json=body,
        headers=auth_headers(user, settings),
    )


async def test_an_extension_granted_moves_the_deadline_and_tells_the_worker(
    client, db, settings, scene
):
    _world, users = scene
    number = await _report(client)
    await _act(client, settings, users["worker"], number, "accept")
    before = await _row(db, number)
    due = before["resolve_due_at"]
    for hours, field in [(-1, "until"), (31 * 24, "until")]:
        bad = await _ask(client, settings, users["worker"], number, hours, due)
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == field
    asked = await _ask(client, settings, users["worker"], number, 48, due)
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    again = await _ask(client, settings, users["worker"], number, 24, due)
    assert again.status_code == 409
    pending = (
        await client.get("/extension-requests", headers=auth_headers(users["cm_a"], settings))
    ).json()
    assert [r["id"] for r in pending["items"]] == [request_id]
    assert (
        await client.get("/extension-requests", headers=auth_headers(users["cm_b"], settings))
    ).json()["items"] == []
    assert (
        await _decide(client, settings, users["cm_b"], request_id, grant=True)
    ).status_code == 404
    assert (
        await _decide(client, settings, users["worker"], request_id, grant=True)
    ).status_code == 403
    granted = await _decide(client, settings, users["cm_a"], request_id, grant=True, note="同意")
    assert granted.status_code == 200, granted.text
    after = await _row(db, number)
    assert after["resolve_due_at"] == due + timedelta(hours=48)
    assert after["version"] == before["version"] + 1
    assert granted.json()["version"] == after["version"]
    steps = (
        (
            await db.execute(
                text("""
        SELECT e.data->>'step' FROM incident_events e JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :t AND e.kind = 'extension' ORDER BY e.id"""),
                {"t": number},
            )
        )
        .scalars()
        .all()
    )
    assert steps == ["requested", "granted"]
    told = (
        (
            await db.execute(
                text("""
        SELECT o.recipient_ids FROM outbox o JOIN incidents i ON i.id = o.incident_id
        WHERE i.tracking_number = :t AND o.topic = 'incident.extension_granted'"""),
                {"t": number},
            )
        )
        .scalars()
        .all()
    )
    assert told == [[users["worker"].id]]
    twice = await _decide(client, settings, users["cm_a2"], request_id, grant=False, note="x")
    assert twice.status_code == 409


async def test_a_refusal_needs_a_reason_and_keeps_the_deadline(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    due = (await _row(db, number))["resolve_due_at"]
    request_id = (await _ask(client, settings, users["worker"], number, 24, due)).json()["id"]
    silent = await _decide(client, settings, users["cm_a"], request_id, grant=False)
    assert silent.status_code == 422 and silent.json()["error"]["fields"][0]["field"] == "note"
    refused = await _decide(
        client, settings, users["cm_a"], request_id, grant=False, note="时限内可以完成"
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert (await _row(db, number))["resolve_due_at"] == due
    # A new request may follow a decided one.
    assert (await _ask(client, settings, users["worker"], number, 12, due)).status_code == 201


async def test_a_manager_may_not_grant_their_own_extension(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    version = (await _row(db, number))["version"]
    await _act(client, settings, users["cm_a"], number, "assign", assignee="cm-a", version=version)
    due = (await _row(db, number))["resolve_due_at"]
    request_id = (await _ask(client, settings, users["cm_a"], number, 24, due)).json()["id"]
    assert (
        await _decide(client, settings, users["cm_a"], request_id, grant=True)
    ).status_code == 403
    assert (
        await _decide(client, settings, users["cm_a2"], request_id, grant=True)
    ).status_code == 200


# --- bulk assignment ----------------------------------------------------------------------


async def _bulk(client, settings, user, numbers, assignee="w-a2", **extra):
    return await client.post(
        "/incidents/bulk-assign",
        json={"tracking_numbers": numbers, "assignee": assignee, **extra},
        headers=auth_headers(user, settings),
    )


async def test_bulk_assign_gives_every_report_to_the_worker(client, db, settings, scene):
    _world, users = scene
    numbers = [await _report(client) for _ in range(3)]
    response = await _bulk(
        client,
        settings,
        users["cm_a"],
        numbers,
        versions={numbers[0]: (await _row(db, numbers[0]))["version"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["assigned"] == 3
    assert [r["tracking_number"] for r in response.json()["results"]] == numbers
    for number in numbers:
        row = await _row(db, number)
        assert (row["status"], row["assignee_id"]) == ("assigned", users["other_worker"].id)
    mine = await _list(client, settings, users["other_worker"])
    assert set(_numbers(mine)) == set(numbers)


async def test_bulk_assign_is_all_or_nothing(client, db, settings, scene):
    _world, users = scene
    numbers = [await _report(client) for _ in range(3)]
    await _set(db, numbers[2], status="closed")
    # A refused batch rolls the session back, which expires loaded objects: read first.
    worker_id = users["worker"].id
    cm_a, cm_b = auth_headers(users["cm_a"], settings), auth_headers(users["cm_b"], settings)

    async def bulk(headers, batch, **extra):
        return await client.post(
            "/incidents/bulk-assign",
            headers=headers,
            json={"tracking_numbers": batch, "assignee": "w-a2", **extra},
        )

    stale = await bulk(cm_a, numbers, versions={numbers[1]: 99})
    assert stale.status_code == 409, stale.text
    fields = stale.json()["error"]["fields"]
    assert [f["field"] for f in fields] == ["tracking_numbers[1]", "tracking_numbers[2]"]
    for number in numbers:
        assert (await _row(db, number))["assignee_id"] == worker_id
    unknown = await bulk(cm_a, [numbers[0], "000000-AAAAAAAA"])
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"][0]["field"] == "tracking_numbers[1]"
    assert (await _row(db, numbers[0]))["assignee_id"] == worker_id
    assert (await bulk(cm_b, numbers[:1])).status_code == 422  # w-a2 is outside b
    assert (await bulk(cm_b, numbers[:1], assignee="cm-b")).status_code == 404


async def test_bulk_assign_refuses_bad_batches(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    too_many = [f"{i:06d}-AAAAAAAA" for i in range(201)]
    for numbers, assignee, status, field in [
        (too_many, "w-a2", 422, "tracking_numbers"),
        ([], "w-a2", 422, "tracking_numbers"),
        ([number, number], "w-a2", 422, "tracking_numbers"),
        ([number], "cm-b", 422, "assignee"),  # works outside cm-a's area
    ]:
        response = await _bulk(client, settings, users["cm_a"], numbers, assignee)
        assert response.status_code == status, response.text
        assert response.json()["error"]["fields"][0]["field"] == field
    worker = await _bulk(client, settings, users["worker"], [number])
    assert worker.status_code == 403


# --- one worker's report is not another's ---------------------------------------------------


async def test_a_worker_of_another_cell_cannot_even_see_the_report(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)  # cell a1, w-a1's
    await _act(client, settings, users["worker"], number, "accept")
    other = users["other_worker"]
    headers = auth_headers(other, settings)
    due = (await _row(db, number))["resolve_due_at"]
    lon, lat = metres_point(250, 250)
    attempts = [
        await _act(client, settings, other, number, "resolve", note="done"),
        await client.post(f"/incidents/{number}/notes", json={"note": "x"}, headers=headers),
        await client.post(
            f"/incidents/{number}/check-in", json={"lon": lon, "lat": lat}, headers=headers
        ),
        await _ask(client, settings, other, number, 24, due),
        await client.get(f"/incidents/{number}", headers=headers),
    ]
    assert [r.status_code for r in attempts] == [404] * 5


async def test_a_backup_who_sees_the_report_may_not_act_on_it(client, db, settings, scene):
    _world, users = scene
    number = await _report(client)
    backup = users["backup"]
    headers = auth_headers(backup, settings)
    seen = await client.get(f"/incidents/{number}", headers=headers)
    assert seen.status_code == 200 and seen.json()["allowed_actions"] == []
    due = (await _row(db, number))["resolve_due_at"]
    lon, lat = metres_point(250, 250)
    attempts = [
        await _act(client, settings, backup, number, "accept"),
        await _act(client, settings, backup, number, "transfer", note="x"),
        await client.post(f"/incidents/{number}/notes", json={"note": "x"}, headers=headers),
        await client.post(
            f"/incidents/{number}/check-in", json={"lon": lon, "lat": lat}, headers=headers
        ),
        await _ask(client, settings, backup, number, 24, due),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    row = await _row(db, number)
    assert (row["status"], row["version"]) == ("assigned", 1)
    written = (
        await db.execute(
            text("""
        SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :t AND e.kind IN ('note', 'check_in', 'extension')"""),
            {"t": number},
        )
    ).scalar()
    assert written == 0


# --- reporting on behalf ----------------------------------------------------------------------


async def test_a_worker_files_a_walk_in_report_with_the_channel_recorded(
    client, db, settings, scene
):
    _world, users = scene
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports",
        headers=auth_headers(users["worker"], settings),
        json={
            "category": "fire.blocked_exit",
            "lon": lon,
            "lat": lat,
            "channel": "patrol",
            "contact_name": "李奶奶",
            "contact_phone": "13900001111",
        },
    )
    assert response.status_code == 201, response.text
    staff = (
        await client.get(
            f"/incidents/{response.json()['tracking_number']}",
            headers=auth_headers(users["cm_a"], settings),
        )
    ).json()
    assert staff["channel"] == "patrol"
    assert staff["reporter_contact"] == {"name": "李奶奶", "phone": "13900001111"}
