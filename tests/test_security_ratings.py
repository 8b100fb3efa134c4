"""Issue 15, item 4: staff cannot pre-empt 好差评. A staff-recorded rating is never by the
handler or the closer; the reporter's own rating replaces a staff-recorded one within
the period; a work order's revisit and its re-rating are by different people."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.factories import auth_headers, make_scene
from tests.test_ratings import _closed


@pytest.fixture
async def scene(db):
    return await make_scene(db, "cm_a", "cm_a2", "street", "resident")


async def _rate(client, settings, number, user=None, **body):
    headers = auth_headers(user, settings) if user else {}
    return await client.post(
        f"/reports/{number}/rating", headers=headers, json={"overall": 5} | body
    )


async def _ratings(db, number) -> list[tuple]:
    return [
        tuple(r)
        for r in await db.execute(
            text("""
        SELECT g.kind, g.overall, g.channel, rb.username FROM ratings g
        JOIN incidents i ON i.id = g.incident_id LEFT JOIN users rb ON rb.id = g.recorded_by_id
        WHERE i.tracking_number = :t ORDER BY g.id"""),
            {"t": number},
        )
    ]


async def test_the_closer_cannot_record_a_five_star_phone_rating_at_once(
    client, db, settings, scene
):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    for who in ("cm_a", "worker"):  # the closer, the handler
        attack = await _rate(client, settings, number, users[who], channel="phone")
        assert attack.status_code == 403, (who, attack.text)
    assert await _ratings(db, number) == []
    own = await _rate(client, settings, number, overall=2, secret=secret)
    assert own.status_code == 201 and own.json()["channel"] == "secret"
    assert await _ratings(db, number) == [("handling", 2, "secret", None)]


async def test_the_reporters_own_rating_replaces_a_staff_recorded_one(client, db, settings, scene):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    # Another manager (not the handler, not the closer) records a 5 "by phone" ...
    staff = await _rate(client, settings, number, users["cm_a2"], channel="phone")
    assert staff.status_code == 201
    # ... and the reporter is not shut out: their own rating stands.
    own = await _rate(client, settings, number, overall=1, secret=secret, comment="没人来过")
    assert own.status_code == 201, own.text
    body = own.json()
    assert body["replaced_staff_recorded"] is True and body["channel"] == "secret"
    assert body["rating_id"] == staff.json()["rating_id"]
    assert body["work_order"]["status"] == "open"  # a bad rating of theirs opens one
    assert await _ratings(db, number) == [("handling", 1, "secret", None)]
    # The timeline keeps what was replaced, and who recorded it.
    replaced = (
        await db.execute(
            text("""
        SELECT e.data -> 'replaced' FROM incident_events e JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :t AND e.kind = 'rating' AND e.data ? 'replaced'"""),
            {"t": number},
        )
    ).scalar()
    assert replaced == {"overall": 5, "channel": "phone", "recorded_by": users["cm_a2"].id}
    # Once the reporter has rated, nobody replaces it, not even the reporter.
    again = await _rate(client, settings, number, overall=5, secret=secret)
    assert again.status_code == 409
    staff_again = await _rate(client, settings, number, users["street"], channel="phone")
    assert staff_again.status_code == 409
    assert await _ratings(db, number) == [("handling", 1, "secret", None)]


async def test_the_reporters_account_rating_replaces_it_too(client, db, settings, scene):
    _world, users = scene
    number, _secret = await _closed(client, settings, users, users["resident"])
    assert (
        await _rate(client, settings, number, users["cm_a2"], channel="terminal")
    ).status_code == 201
    own = await _rate(client, settings, number, users["resident"], overall=4)
    assert own.status_code == 201 and own.json()["channel"] == "account"
    assert await _ratings(db, number) == [("handling", 4, "account", None)]


async def _work_order(client, settings, users, secret, number) -> int:
    bad = await _rate(client, settings, number, overall=1, secret=secret)
    assert bad.status_code == 201, bad.text
    return bad.json()["work_order"]["id"]


REVISIT = {"contact_method": "visit", "outcome": "居民认可整改", "actions_taken": "再次清理"}


async def test_one_manager_cannot_record_both_the_revisit_and_the_rerating(
    client, db, settings, scene
):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    order = await _work_order(client, settings, users, secret, number)
    done = await client.post(
        f"/work-orders/{order}/revisit",
        json=REVISIT,
        headers=auth_headers(users["cm_a2"], settings),
    )
    assert done.status_code == 200, done.text
    attack = await client.post(
        f"/work-orders/{order}/rating",
        json={"overall": 5, "channel": "phone"},
        headers=auth_headers(users["cm_a2"], settings),
    )
    assert attack.status_code == 403
    status = (
        await db.execute(text("SELECT status FROM work_orders WHERE id = :i"), {"i": order})
    ).scalar()
    assert status == "revisited"  # not closed by the one who revisited
    # Someone else may record it; the reporter's own re-rating then replaces it.
    other = await client.post(
        f"/work-orders/{order}/rating",
        json={"overall": 5, "channel": "phone"},
        headers=auth_headers(users["street"], settings),
    )
    assert other.status_code == 201, other.text
    own = await client.post(f"/work-orders/{order}/rating", json={"overall": 2, "secret": secret})
    assert own.status_code == 201, own.text
    assert own.json()["replaced_staff_recorded"] is True
    assert await _ratings(db, number) == [
        ("handling", 1, "secret", None),
        ("rectification", 2, "secret", None),
    ]
