"""Notification delivery: the outbox fanned out to inboxes and webhooks at least once and
never twice, concurrent workers, a worker killed midway, signed webhooks with retries,
the inbox API and its live stream."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import Random

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text

import api.routes.inbox as inbox_routes
from api.app import create_app
from api.tokens import create_access_token
from incidents.notify.outbox import claim_pending, deliver_batch, fan_out, run_worker
from incidents.notify.webhooks import (
    FIRST_RETRY_SECONDS,
    MAX_ATTEMPTS,
    MAX_RETRY_SECONDS,
    new_webhook_client,
    retry_delay,
    send_next_webhook,
    validate_webhook_url,
)
from tests.factories import auth_headers, make_scene, metres_point

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def scene(db):
    return await make_scene(db, "cm_a", "cm_b", "admin", "resident")


async def _message(
    db, recipients: list[int], topic: str = "incident.assigned", number: str = "260101-AAAA0001"
) -> int:
    return (
        await db.execute(
            text("""
        INSERT INTO outbox (topic, recipient_ids, payload)
        VALUES (:topic, :r, jsonb_build_object('tracking_number', CAST(:n AS text)))
        RETURNING id"""),
            {"topic": topic, "r": recipients, "n": number},
        )
    ).scalar_one()


async def _deliver(db, limit: int = 100) -> int:
    return await db.run_sync(lambda session: deliver_batch(session.connection(), limit))


async def _inbox(db, message_id: int) -> list[int]:
    return list(
        (
            await db.execute(
                text("SELECT user_id FROM inbox_items WHERE outbox_id = :m ORDER BY user_id"),
                {"m": message_id},
            )
        ).scalars()
    )


# --- fan-out --------------------------------------------------------------------------------


async def test_a_routed_report_reaches_its_workers_inbox_once_delivered(
    client, db, settings, scene
):
    _world, users = scene
    lon, lat = metres_point(250, 250)
    number = (
        await client.post(
            "/reports", json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
        )
    ).json()["tracking_number"]
    mine = auth_headers(users["worker"], settings)
    assert (await client.get("/inbox", headers=mine)).json()["items"] == []
    assert await _deliver(db) == 1
    body = (await client.get("/inbox", headers=mine)).json()
    assert body["unread"] == 1
    (item,) = body["items"]
    assert (item["topic"], item["tracking_number"], item["read_at"]) == (
        "incident.assigned",
        number,
        None,
    )
    assert item["payload"]["category"] == "fire.blocked_exit"


async def test_delivery_fans_out_to_every_recipient_and_skips_deleted_accounts(db, scene):
    _world, users = scene
    recipients = [users["worker"].id, users["cm_a"].id, users["cm_b"].id]
    gone = 2_000_000_000  # an account deleted since the message was written
    message = await _message(db, [*recipients, gone, users["cm_a"].id])
    assert await _deliver(db) == 1
    assert await _inbox(db, message) == sorted(recipients)
    delivered_at, attempts = (
        await db.execute(
            text("SELECT delivered_at, attempts FROM outbox WHERE id = :m"), {"m": message}
        )
    ).one()
    assert delivered_at is not None and attempts == 1
    assert await _deliver(db) == 0  # nothing left


async def test_redelivering_a_message_adds_no_duplicate_inbox_items(db, scene):
    _world, users = scene
    message = await _message(db, [users["worker"].id, users["cm_a"].id])
    await _deliver(db)
    await db.execute(text("UPDATE outbox SET delivered_at = NULL WHERE id = :m"), {"m": message})
    again = await db.run_sync(lambda s: fan_out(s.connection(), claim_pending(s.connection(), 10)))
    assert (again.messages, again.inbox_items) == (1, 0)
    assert await _inbox(db, message) == sorted([users["worker"].id, users["cm_a"].id])
    assert (
        await db.execute(text("SELECT attempts FROM outbox WHERE id = :m"), {"m": message})
    ).scalar() == 2


async def test_delivery_queues_a_webhook_delivery_for_each_matching_active_webhook(db, scene):
    hooks = {}
    for name, topics, active in [
        ("all", [], True),
        ("assigned", ["incident.assigned"], True),
        ("other", ["incident.close"], True),
        ("off", [], False),
    ]:
        hooks[name] = (
            await db.execute(
                text("""
            INSERT INTO webhooks (url, secret, topics, active)
            VALUES ('http://127.0.0.1:9/' || CAST(:n AS text), 'k', :t, :a) RETURNING id"""),
                {"n": name, "t": topics, "a": active},
            )
        ).scalar_one()
    message = await _message(db, [], topic="incident.assigned")
    await _deliver(db)
    await db.execute(text("UPDATE outbox SET delivered_at = NULL WHERE id = :m"), {"m": message})
    await _deliver(db)  # redelivered: still one delivery per webhook
    queued = (
        (
            await db.execute(
                text(
                    "SELECT webhook_id FROM webhook_deliveries WHERE outbox_id = :m ORDER BY webhook_id"
                ),
                {"m": message},
            )
        )
        .scalars()
        .all()
    )
    assert queued == sorted([hooks["all"], hooks["assigned"]])


# --- the inbox API ----------------------------------------------------------------------------


async def test_the_inbox_is_newest_first_keyset_paged_and_filters_unread(
    client, db, settings, scene
):
    _world, users = scene
    me, other = users["cm_a"].id, users["cm_b"].id
    for i in range(5):
        await _message(db, [me], number=f"260101-AAAA000{i}")
    await _message(db, [other], number="260101-BBBB0000")
    await _deliver(db)
    headers = auth_headers(users["cm_a"], settings)
    first = (await client.get("/inbox", params={"limit": 3}, headers=headers)).json()
    assert [i["tracking_number"][-1] for i in first["items"]] == ["4", "3", "2"]
    assert first["unread"] == 5 and first["next_after"] == first["items"][-1]["id"]
    rest = (
        await client.get(
            "/inbox", params={"limit": 3, "after": first["next_after"]}, headers=headers
        )
    ).json()
    assert [i["tracking_number"][-1] for i in rest["items"]] == ["1", "0"]
    assert rest["next_after"] is None
    newest = first["items"][0]["id"]
    read = await client.post(f"/inbox/{newest}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = (await client.get("/inbox", params={"unread": "true"}, headers=headers)).json()
    assert newest not in [i["id"] for i in unread["items"]]
    assert len(unread["items"]) == 4 and unread["unread"] == 4
    assert (await client.get("/inbox", params={"limit": 0}, headers=headers)).status_code == 422


async def test_only_my_own_notifications_can_be_marked_read(client, db, settings, scene):
    _world, users = scene
    await _message(db, [users["cm_b"].id])
    await _deliver(db)
    theirs = (await client.get("/inbox", headers=auth_headers(users["cm_b"], settings))).json()[
        "items"
    ][0]["id"]
    mine = auth_headers(users["cm_a"], settings)
    for item in (theirs, theirs + 1000):
        response = await client.post(f"/inbox/{item}/read", headers=mine)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    owner = auth_headers(users["cm_b"], settings)
    first = (await client.post(f"/inbox/{theirs}/read", headers=owner)).json()["read_at"]
    assert (await client.post(f"/inbox/{theirs}/read", headers=owner)).json()["read_at"] == first


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/inbox"), ("POST", "/inbox/1/read"), ("GET", "/inbox/stream")]
)
async def test_the_inbox_needs_an_account(client, method, path):
    assert (await client.request(method, path)).status_code == 401


async def test_a_resident_reads_their_own_notifications_only(client, settings, scene):
    _world, users = scene
    resident = auth_headers(users["resident"], settings)
    response = await client.get("/inbox", headers=resident)
    assert response.status_code == 200 and response.json()["items"] == []
    assert (await client.post("/inbox/1/read", headers=resident)).status_code == 404


async def test_the_stream_takes_its_token_from_the_query_and_refuses_a_bad_one(
    client, settings, scene
):
    assert (
        await client.get("/inbox/stream", params={"access_token": "nonsense"})
    ).status_code == 401


# --- webhooks: registration -------------------------------------------------------------------


async def test_admins_register_list_and_deactivate_webhooks(client, db, settings, scene):
    _world, users = scene
    admin = auth_headers(users["admin"], settings)
    created = await client.post(
        "/admin/webhooks",
        headers=admin,
        json={"url": "https://hooks.example.org/gridgov", "topics": ["incident.assigned"]},
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert len(hook["secret"]) >= 32 and hook["active"] is True
    chosen = await client.post(
        "/admin/webhooks",
        headers=admin,
        json={"url": "http://hooks.example.net:8080/in", "secret": "s" * 20},
    )
    assert chosen.json()["secret"] == "s" * 20 and chosen.json()["topics"] == []
    await _message(db, [], topic="incident.assigned")
    await _deliver(db)
    listed = await client.get("/admin/webhooks", headers=admin)
    assert "secret" not in listed.text and "s" * 20 not in listed.text
    by_id = {h["id"]: h for h in listed.json()}
    assert by_id[hook["id"]]["pending"] == 1
    assert (await client.delete(f"/admin/webhooks/{hook['id']}", headers=admin)).status_code == 204
    after = {h["id"]: h for h in (await client.get("/admin/webhooks", headers=admin)).json()}
    assert after[hook["id"]]["active"] is False
    assert (after[hook["id"]]["pending"], after[hook["id"]]["failed"]) == (0, 1)
    assert (await client.delete("/admin/webhooks/999999", headers=admin)).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "javascript:alert(1)",
        "http://",
        "https:///path",
        "http://user:pw@example.org/",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "example.org/hook",
        "http://example.org/" + "x" * 2000,
    ],
)
async def test_a_webhook_url_must_be_http_with_a_host_and_no_credentials(
    client, settings, scene, url
):
    _world, users = scene
    response = await client.post(
        "/admin/webhooks", headers=auth_headers(users["admin"], settings), json={"url": url}
    )
    assert response.status_code == 422, url
    assert response.json()["error"]["fields"][0]["field"] == "url"


def test_good_webhook_urls_pass_validation():
    for url in (
        "https://hooks.example.org/gridgov?x=1",
        "http://127.0.0.1:8080/in",
        "http://[::1]:9000/",
    ):
        assert validate_webhook_url(f"  {url} ") == url


@pytest.mark.parametrize("role", ["grid_worker", "community_manager", "resident"])
async def test_only_admins_manage_webhooks(client, settings, scene, role):
    _world, users = scene
    user = {
        "grid_worker": users["worker"],
        "community_manager": users["cm_a"],
        "resident": users["resident"],
    }[role]
    headers = auth_headers(user, settings)
    assert (await client.get("/admin/webhooks", headers=headers)).status_code == 403
    assert (
        await client.post("/admin/webhooks", headers=headers, json={"url": "https://example.org/"})
    ).status_code == 403


# --- webhooks: sending ------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the statuses it is told, in turn."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"answer!")

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def receiver(monkeypatch) -> Iterator[Receiver]:
    monkeypatch.setenv("NO_PROXY", "*")  # whatever the environment says, stay local
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


async def _hooked_message(db, url: str, secret: str = "a-long-enough-secret") -> tuple[int, int]:
    """A webhook for every topic and one delivered message: (delivery id, message id)."""
    hook = (
        await db.execute(
            text("INSERT INTO webhooks (url, secret) VALUES (:u, :s) RETURNING id"),
            {"u": url, "s": secret},
        )
    ).scalar_one()
    message = await _message(db, [], topic="incident.resolve")
    await _deliver(db)
    delivery = (
        await db.execute(
            text("SELECT id FROM webhook_deliveries WHERE webhook_id = :h"), {"h": hook}
        )
    ).scalar_one()
    return delivery, message


async def _send(db, now: datetime, rng: Random | None = None):
    # The receivers here listen on loopback, which only an explicit allowance reaches.
    with new_webhook_client(LOOPBACK) as http:
        return await db.run_sync(
            lambda s: send_next_webhook(s.connection(), http, now, rng or Random(7))
        )


async def _delivery(db, delivery: int):
    return (
        (await db.execute(text("SELECT * FROM webhook_deliveries WHERE id = :d"), {"d": delivery}))
        .mappings()
        .one()
    )


async def test_a_failing_webhook_is_retried_with_backoff_then_delivered_signed(db, receiver):
    secret = "a-long-enough-secret"
    delivery, message = await _hooked_message(db, receiver.url, secret)
    receiver.answers = [(500, {}), (200, {})]
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await _send(db, now) == "retrying"
    row = await _delivery(db, delivery)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("HTTP 500")
    wait = (row["next_attempt_at"] - now).total_seconds()
    assert FIRST_RETRY_SECONDS / 2 <= wait <= FIRST_RETRY_SECONDS
    assert await _send(db, now + timedelta(seconds=wait - 1)) is None  # not due yet
    assert await _send(db, row["next_attempt_at"]) == "delivered"
    row = await _delivery(db, delivery)
    assert (row["status"], row["attempts"], row["delivered_at"]) == (
        "delivered",
        2,
        row["next_attempt_at"],
    )
    assert len(receiver.requests) == 2
    for _path, headers, body in receiver.requests:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Gridgov-Signature"] == f"sha256={expected}"
        assert headers["X-Gridgov-Delivery"] == str(delivery)
        assert abs(int(headers["X-Gridgov-Timestamp"]) - time.time()) < 60
        sent = json.loads(body)
        assert (sent["id"], sent["topic"]) == (message, "incident.resolve")
        assert sent["payload"]["tracking_number"] == "260101-AAAA0001"
        assert datetime.fromisoformat(sent["created_at"]).tzinfo is not None
    assert await _send(db, now + timedelta(days=1)) is None  # delivered: never again


async def test_a_webhook_gives_up_after_its_last_attempt(db, receiver):
    delivery, _message_id = await _hooked_message(db, receiver.url)
    await db.execute(
        text("UPDATE webhook_deliveries SET attempts = :n WHERE id = :d"),
        {"n": MAX_ATTEMPTS - 1, "d": delivery},
    )
    receiver.answers = [(503, {})]
    assert await _send(db, datetime.now(UTC) + timedelta(seconds=1)) == "failed"
    row = await _delivery(db, delivery)
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert row["last_error"] == "HTTP 503: answer!"
    assert await _send(db, datetime.now(UTC) + timedelta(days=2)) is None


async def test_a_webhook_redirect_is_not_followed(db, receiver):
    delivery, _message_id = await _hooked_message(db, receiver.url)
    receiver.answers = [(307, {"Location": "/elsewhere"})]
    assert await _send(db, datetime.now(UTC) + timedelta(seconds=1)) == "retrying"
    assert [path for path, _h, _b in receiver.requests] == ["/hook"]
    assert "redirect to /elsewhere not followed" in (await _delivery(db, delivery))["last_error"]


async def test_an_unreachable_webhook_is_retried(db, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    with socket.socket() as bound:  # a port that is taken but where nobody listens
        bound.bind(("127.0.0.1", 0))
        delivery, _message_id = await _hooked_message(
            db, f"http://127.0.0.1:{bound.getsockname()[1]}/hook"
        )
        assert await _send(db, datetime.now(UTC) + timedelta(seconds=1)) == "retrying"
    assert (await _delivery(db, delivery))["last_error"].startswith("ConnectError")


def test_retry_delays_double_from_30_seconds_up_to_an_hour_with_jitter():
    rng = Random(3)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600)]:
        delays = [retry_delay(attempts, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempts
        assert len(set(delays)) > 1  # jittered
    assert retry_delay(100, rng) <= MAX_RETRY_SECONDS


# --- real workers on committed data -----------------------------------------------------------


def _cleanup(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE topic LIKE 'test.%'"))
        conn.execute(text("DELETE FROM webhooks WHERE url LIKE 'http://127.0.0.1:%'"))
        conn.execute(text("DELETE FROM users WHERE username LIKE 'obx-%'"))


@pytest.fixture
def committed_users(sync_engine) -> Iterator[list[int]]:
    """Three accounts committed for real (workers and the live server use their own
    connections); they and the test messages are removed afterwards."""
    _cleanup(sync_engine)
    with sync_engine.begin() as conn:
        ids = (
            conn.execute(
                text("""
            INSERT INTO users (username, display_name, role, password_hash)
            SELECT 'obx-' || g, 'outbox test', 'admin', 'x' FROM generate_series(1, 3) g
            RETURNING id""")
            )
            .scalars()
            .all()
        )
    yield sorted(ids)
    _cleanup(sync_engine)


def _commit_messages(
    engine: Engine, recipients: list[int], count: int, wake_workers: bool = False
) -> list[int]:
    with engine.begin() as conn:
        ids = (
            conn.execute(
                text("""
            INSERT INTO outbox (topic, recipient_ids, payload)
            SELECT 'test.ping', :r, jsonb_build_object('tracking_number', 'T' || g)
            FROM generate_series(1, :n) g
            RETURNING id"""),
                {"r": recipients, "n": count},
            )
            .scalars()
            .all()
        )
        if wake_workers:  # what an AFTER INSERT trigger on outbox would do
            conn.execute(text("SELECT pg_notify('gridgov_outbox', '')"))
    return sorted(ids)


def _state(engine: Engine, ids: list[int]) -> dict[int, tuple[bool, int, int]]:
    """message id -> (delivered, attempts, inbox items)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            SELECT o.id, o.delivered_at IS NOT NULL, o.attempts,
                   (SELECT count(*) FROM inbox_items i WHERE i.outbox_id = o.id)
            FROM outbox o WHERE o.id = ANY(:ids)"""),
            {"ids": ids},
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_a_second_worker_skips_messages_the_first_holds_instead_of_waiting(
    sync_engine, committed_users
):
    ids = _commit_messages(sync_engine, committed_users, 6)
    with sync_engine.connect() as first, sync_engine.connect() as second:
        first_tx = first.begin()
        held = claim_pending(first, 3)
        with second.begin():
            # Waiting on the first worker's locks would fail here instead of hanging.
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            taken = claim_pending(second, 100)
            fan_out(second, taken)
        assert held == ids[:3]
        assert set(ids[3:]) <= set(taken) and not set(held) & set(taken)
        fan_out(first, held)
        first_tx.commit()
    assert set(_state(sync_engine, ids).values()) == {(True, 1, 3)}


def test_concurrent_workers_deliver_each_message_exactly_once(sync_engine, committed_users):
    ids = _commit_messages(sync_engine, committed_users[:2], 60)
    results = []

    def work() -> None:
        results.append(run_worker(sync_engine, once=True, batch=7, progress=lambda _m: None))

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert len(results) == 3
    assert sum(r.messages for r in results) >= 60
    assert set(_state(sync_engine, ids).values()) == {(True, 1, 2)}


def test_the_worker_sends_webhooks_for_what_it_delivers(sync_engine, committed_users, receiver):
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhooks (url, secret, topics) "
                "VALUES (:u, 'worker-test-secret', '{test.ping}')"
            ),
            {"u": receiver.url},
        )
    ids = _commit_messages(sync_engine, committed_users[:1], 2)
    lines = []
    totals = run_worker(
        sync_engine, once=True, progress=lines.append, http_client=new_webhook_client(LOOPBACK)
    )
    assert totals.webhooks.delivered >= 2
    assert sorted(json.loads(body)["id"] for _p, _h, body in receiver.requests) == ids
    assert any(line.startswith("webhooks: 2 delivered") for line in lines)


LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def _worker_env(settings) -> dict[str, str]:
    return os.environ | {
        "GRIDGOV_DATABASE_URL": settings.database_url,
        "GRIDGOV_ENVIRONMENT": "test",
        "GRIDGOV_SECRET_KEY": settings.secret_key.get_secret_value(),
        "GRIDGOV_ID_HASH_KEY": settings.id_hash_key.get_secret_value(),
    }


# The real `gridgov notify run`, made to die like a SIGKILL (no rollback, no cleanup: the
# connection just drops) right after the second batch wrote its inbox items, before that
# batch commits.
_KILLED_WORKER = """
import os
from sqlalchemy import event
from sqlalchemy.engine import Engine

fan_outs = []

@event.listens_for(Engine, "after_cursor_execute")
def die_in_the_second_batch(conn, cursor, statement, *args):
    if "INSERT INTO inbox_items" in statement:
        fan_outs.append(statement)
        if len(fan_outs) == 2:
            os._exit(137)

from cli.main import main
main(["notify", "run", "--once", "--batch", "5"])
"""


def test_a_worker_killed_midway_loses_nothing_and_the_next_run_delivers_the_rest(
    sync_engine, committed_users, settings
):
    ids = _commit_messages(sync_engine, committed_users, 12)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER],
        cwd=REPO,
        env=_worker_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == 137, killed.stderr
    after_kill = _state(sync_engine, ids)
    delivered = [m for m, (done, _a, _n) in after_kill.items() if done]
    assert 0 < len(delivered) < len(ids)  # the first batch committed, the second did not
    for done, attempts, items in after_kill.values():
        # All or nothing per message: the killed batch left no inbox items behind.
        assert (attempts, items) == ((1, 3) if done else (0, 0))

    rerun = subprocess.run(
        [sys.executable, "-m", "cli.main", "notify", "run", "--once", "--batch", "5"],
        cwd=REPO,
        env=_worker_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "delivered 5 message(s)" in rerun.stderr
    assert set(_state(sync_engine, ids).values()) == {(True, 1, 3)}
    with sync_engine.connect() as conn:
        inbox = conn.execute(
            text("""
            SELECT count(*), count(DISTINCT (outbox_id, user_id)) FROM inbox_items
            WHERE outbox_id = ANY(:ids)"""),
            {"ids": ids},
        ).one()
    assert tuple(inbox) == (36, 36)


def test_a_looping_worker_wakes_on_notify_and_stops_when_asked(sync_engine, committed_users):
    stop = threading.Event()
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            run_worker(
                sync_engine, poll_seconds=30, batch=10, stop_event=stop, progress=lambda _m: None
            )
        )
    )
    worker.start()
    try:
        time.sleep(0.2)
        ids = _commit_messages(sync_engine, committed_users[:1], 3, wake_workers=True)
        deadline = time.monotonic() + 5
        # Polling every 30 s, only the NOTIFY can make this quick.
        while time.monotonic() < deadline and not all(
            done for done, _a, _n in _state(sync_engine, ids).values()
        ):
            time.sleep(0.05)
        assert set(_state(sync_engine, ids).values()) == {(True, 1, 1)}
    finally:
        stop.set()
        _commit_messages(sync_engine, [], 0, wake_workers=True)  # wake it to see the stop
        worker.join(10)
    assert not worker.is_alive() and results[0].messages >= 3


# --- the live stream --------------------------------------------------------------------------


@pytest.fixture
def live_server(settings, monkeypatch) -> Iterator[str]:
    """The real app under uvicorn on a free 127.0.0.1 port, in a thread."""
    monkeypatch.setattr(inbox_routes, "HEARTBEAT_SECONDS", 0.3)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, object]]:
    """(event, data) for each event and ("comment", text) for each comment line."""
    event, data = None, []
    async for line in lines:
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line == "":
            if data:
                yield event or "message", json.loads("\n".join(data))
            event, data = None, []
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


async def _next(events, kind: str = "inbox", timeout: float = 5.0):
    async def until() -> object:
        async for event, data in events:
            if event == kind:
                return data
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(until(), timeout)


def _stream_connections(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'gridgov inbox stream'"
            )
        ).scalar()


def _deliver_committed(engine: Engine, recipients: list[int]) -> None:
    _commit_messages(engine, recipients, 1)
    with engine.begin() as conn:
        deliver_batch(conn)


async def test_the_live_stream_sends_the_unread_count_then_each_delivery(
    live_server, sync_engine, committed_users, settings
):
    me, other = committed_users[:2]
    token = create_access_token(me, settings)
    await asyncio.to_thread(_deliver_committed, sync_engine, [me])  # one unread already
    async with httpx.AsyncClient(base_url=live_server, timeout=10, trust_env=False) as http:
        async with http.stream("GET", "/inbox/stream", params={"access_token": token}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _sse(r.aiter_lines())
            assert await _next(events) == {"unread": 1, "items": []}
            assert await _next(events, "comment") == "ping"  # heartbeat
            await asyncio.to_thread(_deliver_committed, sync_engine, [other])  # not mine
            await asyncio.to_thread(_deliver_committed, sync_engine, [me, other])
            data = await _next(events)
            assert data["unread"] == 2
            assert [i["topic"] for i in data["items"]] == ["test.ping"]
            last_seen = data["items"][0]["id"]
        assert await _until(lambda: _stream_connections(sync_engine) == 0)

        # Missed while away: the browser resumes with Last-Event-ID and gets it at once.
        await asyncio.to_thread(_deliver_committed, sync_engine, [me])
        async with http.stream(
            "GET",
            "/inbox/stream",
            headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(last_seen)},
        ) as r:
            resumed = await _next(_sse(r.aiter_lines()))
            assert resumed["unread"] == 3 and len(resumed["items"]) == 1
            assert resumed["items"][0]["id"] > last_seen
    assert await _until(lambda: _stream_connections(sync_engine) == 0)


async def test_the_live_stream_sends_an_item_that_commits_after_a_newer_one(
    live_server, sync_engine, committed_users, settings
):
    me = committed_users[0]
    headers = {"Authorization": f"Bearer {create_access_token(me, settings)}"}
    first, second = _commit_messages(sync_engine, [me], 2)
    async with (
        httpx.AsyncClient(base_url=live_server, timeout=10, trust_env=False) as http,
        http.stream("GET", "/inbox/stream", headers=headers) as r,
    ):
        events = _sse(r.aiter_lines())
        assert (await _next(events))["unread"] == 0
        with sync_engine.connect() as slow:
            slow_tx = slow.begin()
            assert claim_pending(slow, 1) == [first]
            fan_out(slow, [first])  # the older item, not committed yet
            await asyncio.to_thread(_deliver_committed, sync_engine, [])  # the newer one
            newer = await _next(events)
            assert [i["id"] for i in newer["items"]] == [_item_id(sync_engine, second)]
            slow_tx.commit()
        older = await _next(events)
        assert [i["id"] for i in older["items"]] == [_item_id(sync_engine, first)]
        assert older["unread"] == 2


def _item_id(engine: Engine, message: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM inbox_items WHERE outbox_id = :m"), {"m": message}
        ).scalar_one()


async def _until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(0.1)
    return False


# --- no NOTIFY in a report's transaction; delivery by polling within a second ---------------


def test_writing_to_the_outbox_notifies_nobody(sync_engine):
    with sync_engine.connect() as conn:
        triggers = (
            conn.execute(
                text("""
            SELECT tgname FROM pg_trigger
            WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal""")
            )
            .scalars()
            .all()
        )
        functions = conn.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname = 'outbox_notify'")
        ).scalar()
    assert triggers == [] and functions == 0


def test_the_pending_probe_is_answered_from_the_partial_index(sync_engine):
    with sync_engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT EXISTS (SELECT 1 FROM outbox WHERE delivered_at IS NULL)")
            ).scalars()
        )
    assert "ix_outbox_pending" in plan


async def test_a_message_reaches_the_live_stream_within_a_second_without_any_notify(
    live_server, sync_engine, committed_users, settings
):
    """A looping worker at its default poll, a stream open, a message committed the way a
    report commits its notification (no NOTIFY anywhere): the stream has it within 1 s."""
    me = committed_users[0]
    headers = {"Authorization": f"Bearer {create_access_token(me, settings)}"}
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(sync_engine,),
        kwargs={"stop_event": stop, "progress": lambda _m: None},
        daemon=True,
    )
    worker.start()
    try:
        async with (
            httpx.AsyncClient(base_url=live_server, timeout=10, trust_env=False) as http,
            http.stream("GET", "/inbox/stream", headers=headers) as r,
        ):
            events = _sse(r.aiter_lines())
            assert (await _next(events))["unread"] == 0
            latencies = []
            for _ in range(3):
                committed = time.monotonic()
                await asyncio.to_thread(_commit_messages, sync_engine, [me], 1)
                data = await _next(events, timeout=5)
                latencies.append(time.monotonic() - committed)
                assert [i["topic"] for i in data["items"]] == ["test.ping"]
            assert max(latencies) < 1.0, latencies
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
