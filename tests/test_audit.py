"""The audit log: append-only for the application's own database role; logins, failed
logins, reads of personal data and state changes recorded; queried by admins only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import (
    PASSWORD,
    assign,
    auth_headers,
    make_building,
    make_household,
    make_person,
    make_user,
    make_world,
    metres_point,
    valid_id_number,
)

ID_NUMBER = valid_id_number("88010119700101003")


@pytest.fixture
async def mark(db) -> int:
    """The last entry before the test: entries committed by other tests (the page tests'
    server commits) stay forever, append-only, so each test reads only its own."""
    return (await db.execute(text("SELECT coalesce(max(id), 0) FROM audit_log"))).scalar_one()


async def _entries(db, action: str, after: int) -> list[dict]:
    rows = await db.execute(
        text("SELECT * FROM audit_log WHERE action = :a AND id > :after ORDER BY id"),
        {"a": action, "after": after},
    )
    return [dict(r._mapping) for r in rows]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'login'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_the_application_role_cannot_change_or_remove_audit_entries(db, mark, statement):
    await db.execute(text("INSERT INTO audit_log (action) VALUES ('login')"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.begin_nested():
            await db.execute(text(statement))
    assert len(await _entries(db, "login", mark)) == 1


async def test_logins_and_failed_logins_are_recorded_with_the_address(client, db, mark):
    world = await make_world(db)
    user = await make_user(db, "audit-cm", "community_manager", world.community_a)
    ok = await client.post("/auth/token", data={"username": "audit-cm", "password": PASSWORD})
    bad = await client.post("/auth/token", data={"username": "audit-cm", "password": "nope"})
    unknown = await client.post("/auth/token", data={"username": "nobody", "password": "x"})
    assert (ok.status_code, bad.status_code, unknown.status_code) == (200, 401, 401)
    [login] = await _entries(db, "login", mark)
    assert (login["actor_id"], login["actor_role"]) == (user.id, "community_manager")
    assert str(login["ip"]) == "127.0.0.1"
    failed = await _entries(db, "login_failed", mark)
    assert [(f["actor_id"], f["actor_name"]) for f in failed] == [
        (user.id, "audit-cm"),
        (None, "nobody"),
    ]


async def test_reading_a_persons_record_is_audited_and_a_search_keeps_no_id_number(
    client, db, settings, mark
):
    world = await make_world(db)
    worker = await make_user(db, "audit-w", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    building = await make_building(db, world.cell_a1, (10, 10, 40, 40), address="审计路1号")
    home = await make_household(db, building, "101")
    person = await make_person(db, home, "赵审计", settings=settings, id_number=ID_NUMBER)
    headers = auth_headers(worker, settings)

    assert (await client.get(f"/register/people/{person.id}", headers=headers)).status_code == 200
    found = await client.get("/register/people", params={"q": ID_NUMBER}, headers=headers)
    assert [p["id"] for p in found.json()["people"]] == [person.id]

    reads = await _entries(db, "personal_read", mark)
    assert [(r["subject_type"], r["subject_id"], r["actor_id"]) for r in reads] == [
        ("person", str(person.id), worker.id),
        ("people_search", None, worker.id),
    ]
    assert reads[1]["detail"]["person_ids"] == [person.id]
    assert ID_NUMBER not in str(reads)


async def test_a_residents_list_and_a_reporters_contact_are_audited(client, db, settings, mark):
    world = await make_world(db)
    worker = await make_user(db, "audit-w2", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    lon, lat = metres_point(250, 250)
    filed = await client.post(
        "/reports",
        json={
            "category": "fire.blocked_exit",
            "lon": lon,
            "lat": lat,
            "contact_name": "钱报告",
            "contact_phone": "13900001111",
        },
    )
    number = filed.json()["tracking_number"]
    headers = auth_headers(worker, settings)

    assert (await client.get(f"/incidents/{number}", headers=headers)).status_code == 200
    residents = await client.get(f"/cells/{world.cell_a1.code}/residents", headers=headers)
    assert residents.status_code == 200

    reads = await _entries(db, "personal_read", mark)
    assert [(r["subject_type"], r["subject_id"]) for r in reads] == [
        ("incident_contact", number),
        ("cell_residents", world.cell_a1.code),
    ]


async def test_every_state_change_is_recorded_by_the_database(client, db, settings, mark):
    world = await make_world(db)
    worker = await make_user(db, "audit-w3", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    lon, lat = metres_point(250, 250)
    number = (
        await client.post(
            "/reports", json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
        )
    ).json()["tracking_number"]
    accepted = await client.post(
        f"/incidents/{number}/actions",
        json={"action": "accept"},
        headers=auth_headers(worker, settings),
    )
    assert accepted.status_code == 200, accepted.text
    incident_id = (
        await db.execute(text("SELECT id FROM incidents WHERE tracking_number = :n"), {"n": number})
    ).scalar_one()
    changes = [
        e for e in await _entries(db, "state_change", mark) if e["subject_id"] == str(incident_id)
    ]
    assert [(c["detail"]["to"], c["actor_id"]) for c in changes][-1] == ("accepted", worker.id)
    assert changes[0]["detail"]["to"] in ("submitted", "assigned")


async def test_only_admins_query_the_audit_log_filtered_and_paged(client, db, settings):
    world = await make_world(db)
    admin = await make_user(db, "audit-admin", "admin")
    manager = await make_user(db, "audit-cm2", "community_manager", world.community_a)
    for _ in range(3):
        await client.post("/auth/token", data={"username": "audit-cm2", "password": "bad"})

    refused = await client.get("/admin/audit", headers=auth_headers(manager, settings))
    assert refused.status_code == 403
    first = await client.get(
        "/admin/audit",
        params={"action": "login_failed", "limit": 2},
        headers=auth_headers(admin, settings),
    )
    assert first.status_code == 200
    page = first.json()
    assert [e["action"] for e in page["entries"]] == ["login_failed"] * 2
    rest = await client.get(
        "/admin/audit",
        params={"action": "login_failed", "limit": 2, "before": page["next_before"]},
        headers=auth_headers(admin, settings),
    )
    ids = [e["id"] for e in page["entries"] + rest.json()["entries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids) >= 3
    bad = await client.get(
        "/admin/audit", params={"action": "nonsense"}, headers=auth_headers(admin, settings)
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "action"
