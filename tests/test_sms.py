"""SMS to reporters through the gateway adapter, against a local receiver on 127.0.0.1: a
status change reaches the reporter's phone once (a resend after a crash carries the same
message id), a failing gateway is retried, nothing is queued without a phone, for topics
the reporter does not hear about or with SMS off; the phone appears only in the gateway
request, never in the delivery rows, error text, logs or public answers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random

import pytest
from sqlalchemy import text

from api.logs import mask_personal_data
from core.settings import get_settings
from incidents.notify.outbox import claim_pending, fan_out
from incidents.notify.sms import (
    SmsGateway,
    configured_gateway,
    message_id,
    new_sms_client,
    send_next_sms,
)
from tests.factories import assign, auth_headers, make_user, make_world, metres_point

PHONE = "13698765432"


class Gateway:
    """An SMS gateway on 127.0.0.1 that records each request and answers with the
    statuses it is told, in turn (200 once they run out)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.answers: list[int] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append((dict(self.headers), json.loads(body)))
                status = gateway.answers.pop(0) if gateway.answers else 200
                # A gateway that echoes the number back: it must not reach our records.
                answer = json.dumps({"to": PHONE, "ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def received(self) -> list[str]:
        """The message ids of the requests, in order."""
        return [body["id"] for _headers, body in self.requests]


@pytest.fixture
def gateway(monkeypatch) -> Iterator[Gateway]:
    monkeypatch.setenv("NO_PROXY", "*")
    running = Gateway()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
async def scene(db):
    world = await make_world(db)
    worker = await make_user(db, "sms-w", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    return worker


async def _file(client, phone: str | None = PHONE) -> str:
    lon, lat = metres_point(250, 250)
    body = {"category": "fire.blocked_exit", "lon": lon, "lat": lat, "description": "楼道堵塞"}
    if phone:
        body |= {"contact_name": "钱七", "contact_phone": phone}
    answer = await client.post("/reports", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_number"]


async def _accept(client, settings, worker, number: str) -> None:
    answer = await client.post(
        f"/incidents/{number}/actions",
        json={"action": "accept"},
        headers=auth_headers(worker, settings),
    )
    assert answer.status_code == 200, answer.text


async def _fan_out(db, sms: bool = True) -> int:
    def run(session) -> int:
        conn = session.connection()
        return fan_out(conn, claim_pending(conn, 100), sms=sms).messages

    return await db.run_sync(run)


async def _send_all(db, gw: SmsGateway, now: datetime | None = None) -> list[str]:
    outcomes = []
    with new_sms_client() as http:
        while (
            outcome := await db.run_sync(
                lambda s: send_next_sms(s.connection(), http, gw, now, Random(3))
            )
        ) is not None:
            outcomes.append(outcome)
    return outcomes


async def _rows(db) -> list[dict]:
    return [
        dict(r)
        for r in (
            await db.execute(
                text(
                    "SELECT d.*, o.topic FROM sms_deliveries d JOIN outbox o ON o.id = d.outbox_id "
                    "ORDER BY d.id"
                )
            )
        ).mappings()
    ]


async def test_a_status_change_reaches_the_reporters_phone_once(
    client, db, settings, scene, gateway
):
    number = await _file(client)
    await _accept(client, settings, scene, number)
    gw = SmsGateway(gateway.url)
    await _fan_out(db)
    await _fan_out(db)  # nothing left to claim: nothing queued twice
    assert await _send_all(db, gw) == ["delivered"]
    assert await _send_all(db, gw) == []  # a second round sends nothing more
    assert len(gateway.requests) == 1
    headers, body = gateway.requests[0]
    (row,) = await _rows(db)
    assert row["topic"] == "incident.accept" and row["status"] == "delivered"
    assert body == {
        "id": message_id(row["outbox_id"]),
        "to": PHONE,
        "text": f"【网格治理】您上报的隐患（编号 {number}）已受理，网格员将尽快处理。",
    }
    assert headers["X-Gridgov-Message-Id"] == body["id"]


async def test_a_redelivered_message_queues_no_second_sms(client, db, settings, scene, gateway):
    number = await _file(client)
    await _accept(client, settings, scene, number)
    await _fan_out(db)
    # The same message fanned out again (a worker killed after its fan-out committed
    # nothing else): the delivery row is unique per message.
    await db.execute(text("UPDATE outbox SET delivered_at = NULL"))
    await _fan_out(db)
    assert len(await _rows(db)) == 1


async def test_a_resend_after_a_crash_carries_the_same_message_id(
    client, db, settings, scene, gateway
):
    number = await _file(client)
    await _accept(client, settings, scene, number)
    await _fan_out(db)
    gw = SmsGateway(gateway.url)
    # The worker dies after the POST, before its commit: the row is still pending.
    savepoint = await db.begin_nested()
    assert await _send_all(db, gw) == ["delivered"]
    await savepoint.rollback()
    assert await _send_all(db, gw) == ["delivered"]
    first, again = gateway.received()
    assert first == again  # the gateway drops the repeat by its id


async def test_a_failing_gateway_is_retried_later_and_its_answer_is_not_kept(
    client, db, settings, scene, gateway
):
    number = await _file(client)
    await _accept(client, settings, scene, number)
    await _fan_out(db)
    gw = SmsGateway(gateway.url)
    gateway.answers = [503]
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await _send_all(db, gw, now) == ["retrying"]
    (row,) = await _rows(db)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"] == "HTTP 503" and row["next_attempt_at"] > now
    assert await _send_all(db, gw, now) == []  # not due yet
    assert await _send_all(db, gw, now + timedelta(hours=2)) == ["delivered"]
    assert len(gateway.requests) == 2


async def test_nothing_is_queued_without_a_phone_an_sms_topic_or_a_gateway(
    client, db, settings, scene
):
    silent = await _file(client, phone=None)
    await _accept(client, settings, scene, silent)
    await _file(client)  # routed to the worker: 'incident.assigned' is not the reporter's
    await _fan_out(db)
    assert await _rows(db) == []
    number = await _file(client)
    await _accept(client, settings, scene, number)
    await _fan_out(db, sms=False)  # SMS off
    assert await _rows(db) == []


def test_sms_is_off_without_a_gateway_url(monkeypatch):
    monkeypatch.delenv("GRIDGOV_SMS_GATEWAY_URL", raising=False)
    monkeypatch.chdir("/")  # no .env here
    get_settings.cache_clear()  # the one settings object is read once per process
    try:
        assert configured_gateway() is None
        monkeypatch.setenv("GRIDGOV_SMS_GATEWAY_URL", "https://sms.example.gov.cn/send")
        monkeypatch.setenv("GRIDGOV_SMS_TEMPLATE", "{tracking_number}: {message}")
        get_settings.cache_clear()
        gw = configured_gateway()
        assert gw is not None and gw.url == "https://sms.example.gov.cn/send"
        assert gw.text_for("incident.close", {"tracking_number": "N"}).startswith("N: 已办结")
    finally:
        get_settings.cache_clear()


def test_a_template_with_an_unknown_placeholder_is_refused():
    with pytest.raises(ValueError, match="phone"):
        SmsGateway("https://sms.example.gov.cn/send", "{phone}: {message}")


async def test_the_phone_is_only_in_the_gateway_request(
    client, db, settings, scene, gateway, caplog
):
    caplog.set_level(logging.DEBUG)
    number = await _file(client)
    await _accept(client, settings, scene, number)
    await _fan_out(db)
    gateway.answers = [500]
    gw = SmsGateway(gateway.url)
    await _send_all(db, gw)
    await _send_all(db, gw, datetime.now(UTC) + timedelta(hours=2))
    assert [body["to"] for _h, body in gateway.requests] == [PHONE, PHONE]
    assert PHONE not in caplog.text
    assert PHONE not in json.dumps(await _rows(db), default=str)
    public = await client.get(f"/reports/{number}")
    assert PHONE not in public.text and PHONE[-4:] not in public.text
    reporter = await client.post(
        f"/reports/{number}/reporter-view", json={"phone_last4": PHONE[-4:]}
    )
    assert reporter.status_code == 200 and PHONE not in reporter.text
    # The access log's mask, for a phone someone put in a query string.
    assert PHONE not in mask_personal_data(f'"GET /track?number={PHONE} HTTP/1.1" 400')
