"""Network-facing attacks (issue 15): webhooks aimed inside the network (loopback, cloud
metadata, the app itself, DNS rebinding), bans that lock every admin out, forged
X-Forwarded-For and IPv6 clients rotating addresses inside their /64."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from incidents.notify.outbox import deliver_batch
from incidents.notify.webhooks import new_webhook_client, send_next_webhook
from tests.factories import app_on_session, auth_headers, make_user

ADMIN_IP = "198.51.100.20"


def _app(settings, db, **overrides):
    """The real app sharing the test's transaction, with settings overridden."""
    return app_on_session(settings.model_copy(update=overrides), db)


@asynccontextmanager
async def _client(
    app, ip: str = ADMIN_IP, base_url: str = "http://gridgov.test"
) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=(ip, 40000))
    async with AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


# --- item 12: webhook targets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]:8000/",  # loopback spelled as IPv6
        "http://0.0.0.0:8000/",  # reaches loopback on Linux
        "http://localhost:8000/",  # a name: resolved, then refused
        "http://10.0.0.5:8080/in",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://gridgov.test/admin/users",  # the app itself, by the name it is called
    ],
)
async def test_a_webhook_aimed_inside_is_refused_at_registration(db, settings, url):
    admin = await make_user(db, "net-admin", "admin")
    async with _client(_app(settings, db)) as client:
        response = await client.post(
            "/admin/webhooks", json={"url": url}, headers=auth_headers(admin, settings)
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "url"
    assert (
        await db.execute(text("SELECT count(*) FROM webhooks WHERE url = :u"), {"u": url})
    ).scalar_one() == 0


async def test_a_listed_private_network_may_receive_webhooks(db, settings):
    admin = await make_user(db, "net-admin2", "admin")
    app = _app(settings, db, webhook_allow_private=["10.20.0.0/16"])
    async with _client(app) as client:
        listed = await client.post(
            "/admin/webhooks",
            json={"url": "http://10.20.3.4:8080/in"},
            headers=auth_headers(admin, settings),
        )
        other = await client.post(
            "/admin/webhooks",
            json={"url": "http://10.21.3.4:8080/in"},
            headers=auth_headers(admin, settings),
        )
    assert listed.status_code == 201, listed.text
    assert other.status_code == 422


class _Receiver:
    """An HTTP receiver on 127.0.0.1 recording what reaches it."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hits.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = _Receiver()
    yield running
    running.close()


async def test_delivery_refuses_a_name_rebound_to_loopback_after_registration(
    db, settings, receiver, monkeypatch
):
    # Registered while the name resolved nowhere (or somewhere public)...
    admin = await make_user(db, "net-admin3", "admin")
    url = f"http://rebind.example:{receiver.port}/hook"
    async with _client(_app(settings, db)) as client:
        created = await client.post(
            "/admin/webhooks", json={"url": url}, headers=auth_headers(admin, settings)
        )
    assert created.status_code == 201, created.text
    await db.execute(
        text(
            "INSERT INTO outbox (topic, recipient_ids, payload) "
            "VALUES ('incident.resolve', '{}', '{}'::jsonb)"
        )
    )
    await db.run_sync(lambda s: deliver_batch(s.connection(), 100))

    # ...then the attacker's DNS answers 127.0.0.1, as in DNS rebinding.
    real_getaddrinfo = socket.getaddrinfo

    def rebound(host, *args, **kwargs):
        if host == "rebind.example":
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    due = datetime.now(UTC) + timedelta(seconds=1)

    async def send(allow):
        with new_webhook_client(allow) as http:
            return await db.run_sync(lambda s: send_next_webhook(s.connection(), http, due))

    assert await send([]) == "retrying"
    assert receiver.hits == []
    error = (
        await db.execute(
            text(
                "SELECT last_error FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                "WHERE w.url = :u"
            ),
            {"u": url},
        )
    ).scalar_one()
    assert "refused" in error and "127.0.0.1" in error
    # The same delivery with loopback allowed does arrive: the refusal above was the guard.
    await db.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now()"))
    assert await send([ipaddress.ip_network("127.0.0.0/8")]) == "delivered"
    assert len(receiver.hits) == 1


# --- item 15: bans that lock the admins out ---------------------------------------------------


@pytest.mark.parametrize(
    "network",
    [
        "0.0.0.0/0",
        "::/0",
        "10.0.0.0/7",
        "2001:db8::/31",  # wider than /8 or /32
        ADMIN_IP,
        "198.51.100.0/24",  # the caller's own address and network
    ],
)
async def test_a_ban_covering_the_callers_address_or_too_wide_is_refused(db, settings, network):
    admin = await make_user(db, "net-ban-admin", "admin")
    app = _app(settings, db, rate_limits_enabled=True)
    async with _client(app) as client:
        response = await client.post(
            "/admin/bans",
            json={"network": network, "reason": "x"},
            headers=auth_headers(admin, settings),
        )
        # The admin is not locked out: their next request is answered.
        after = await client.get("/admin/bans", headers=auth_headers(admin, settings))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "network"
    assert after.status_code == 200 and after.json()["bans"] == []


async def test_a_narrow_ban_elsewhere_is_accepted(db, settings):
    admin = await make_user(db, "net-ban-admin2", "admin")
    async with _client(_app(settings, db)) as client:
        accepted = [
            (
                await client.post(
                    "/admin/bans",
                    json={"network": n, "reason": "x"},
                    headers=auth_headers(admin, settings),
                )
            ).status_code
            for n in ("203.0.113.0/24", "11.0.0.0/8", "2001:db8::/32")
        ]
    assert accepted == [201, 201, 201]


# --- item 10: X-Forwarded-For and IPv6 /64 ----------------------------------------------------

# Any per-address limit shows it; the address search is the cheapest to call.
SEARCH_3 = {"search.ip": "3/3600"}


async def _search(app, ip: str, n: int, headers: dict | None = None) -> list[int]:
    async with _client(app, ip=ip) as client:
        return [
            (await client.get("/addresses", params={"q": "测试路"}, headers=headers)).status_code
            for _ in range(n)
        ]


async def test_a_forged_x_forwarded_for_is_ignored_without_trusted_proxies(db, settings):
    app = _app(
        settings, db, rate_limits_enabled=True, rate_limits={**settings.rate_limits, **SEARCH_3}
    )
    codes = []
    # Even from 127.0.0.1 (a client on the same machine), each "new" forwarded address
    # is the same caller: the limit holds.
    for n in range(4):
        codes += await _search(
            app, "127.0.0.1", 1, headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}
        )
    assert codes == [200, 200, 200, 429]


async def test_a_ban_cannot_be_dodged_by_a_forged_x_forwarded_for(db, settings):
    admin = await make_user(db, "net-xff-admin", "admin")
    app = _app(settings, db)
    async with _client(app) as client:
        assert (
            await client.post(
                "/admin/bans",
                json={"network": "192.0.2.0/24", "reason": "x"},
                headers=auth_headers(admin, settings),
            )
        ).status_code == 201
    async with _client(app, ip="192.0.2.7") as banned:
        dodged = await banned.get("/categories", headers={"X-Forwarded-For": "8.8.8.8"})
    assert dodged.status_code == 403


async def test_a_trusted_proxy_names_the_client_by_its_right_most_untrusted_hop(db, settings):
    app = _app(
        settings,
        db,
        rate_limits_enabled=True,
        trusted_proxies=["10.9.0.0/16"],
        rate_limits={**settings.rate_limits, **SEARCH_3},
    )
    # The proxy appends the address it saw; what the client wrote to the left is ignored.
    codes = []
    for n in range(4):
        codes += await _search(
            app,
            "10.9.0.2",
            1,
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}, 198.51.100.50, 10.9.0.1"},
        )
    assert codes == [200, 200, 200, 429]
    # Another real client behind the same proxy has its own count.
    assert await _search(app, "10.9.0.2", 1, headers={"X-Forwarded-For": "198.51.100.51"}) == [200]
    # The header from a client that is not a trusted proxy changes nothing.
    assert await _search(app, "198.51.100.50", 1, headers={"X-Forwarded-For": "198.51.100.52"}) == [
        429
    ]


async def test_ipv6_clients_are_limited_per_64_not_per_address(db, settings):
    app = _app(
        settings, db, rate_limits_enabled=True, rate_limits={**settings.rate_limits, **SEARCH_3}
    )
    codes = []
    # Rotating addresses inside one /64.
    for host in ("::1", "::2", ":abcd:0:0:1", ":ffff:ffff:ffff:ffff"):
        codes += await _search(app, f"2001:db8:5:7{host}", 1)
    assert codes == [200, 200, 200, 429]
    # The next /64 is another subscriber.
    assert await _search(app, "2001:db8:5:8::1", 1) == [200]
