"""Network-facing attacks (issue 15): webhooks aimed inside the network (loopback, cloud
metadata, the app itself, DNS rebinding), bans that lock every admin out, forged
X-Forwarded-For and IPv6 clients rotating addresses inside their /64."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx import ASGITransport, AsyncClient

from tests.factories import app_on_session, auth_headers, make_user

ADMIN_IP = "198.51.100.20"


def _app(settings, db, **overrides):
    """The real app sharing the test's transaction, with settings overridden."""
    return app_on_session(settings.model_copy(update=overrides), db)


@asynccontextmanager
async def _client(app, ip: str = ADMIN_IP, base_url: str = "http://gridgov.test"
                  ) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=(ip, 40000))
    async with AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


# --- item 15: bans that lock the admins out ---------------------------------------------------


@pytest.mark.parametrize("network", [
    "0.0.0.0/0", "::/0", "10.0.0.0/7", "2001:db8::/31",  # wider than /8 or /32
    ADMIN_IP, "198.51.100.0/24",  # the caller's own address and network
])
async def test_a_ban_covering_the_callers_address_or_too_wide_is_refused(db, settings, network):
    admin = await make_user(db, "net-ban-admin", "admin")
    app = _app(settings, db, rate_limits_enabled=True)
    async with _client(app) as client:
        response = await client.post("/admin/bans", json={"network": network, "reason": "x"},
                                     headers=auth_headers(admin, settings))
        # The admin is not locked out: their next request is answered.
        after = await client.get("/admin/bans", headers=auth_headers(admin, settings))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "network"
    assert after.status_code == 200 and after.json()["bans"] == []


async def test_a_narrow_ban_elsewhere_is_accepted(db, settings):
    admin = await make_user(db, "net-ban-admin2", "admin")
    async with _client(_app(settings, db)) as client:
        accepted = [(await client.post("/admin/bans", json={"network": n, "reason": "x"},
                                       headers=auth_headers(admin, settings))).status_code
                    for n in ("203.0.113.0/24", "11.0.0.0/8", "2001:db8::/32")]
    assert accepted == [201, 201, 201]
