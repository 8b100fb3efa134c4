"""Abuse limits: rate limits on intake, login and search counted per address and per
account in PostgreSQL (so every worker process shares them); the ban list."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import pytest
from httpx import ASGITransport, AsyncClient

from api.app import create_app
from tests.factories import (
    PASSWORD,
    app_on_session,
    assign,
    auth_headers,
    make_user,
    make_world,
    metres_point,
)

LIMITS = {
    "intake.ip": "3/3600",
    "intake.account": "2/3600",
    "login.ip": "50/3600",
    "login.username": "3/3600",
    "search.ip": "4/3600",
}


def _app(settings, db, **overrides):
    """A worker process's app with limits on, sharing the test's transaction."""
    return app_on_session(
        settings.model_copy(
            update={
                "rate_limits_enabled": True,
                "rate_limits": {**settings.rate_limits, **LIMITS},
                **overrides,
            }
        ),
        db,
    )


@asynccontextmanager
async def _client(app, ip: str = "198.51.100.7") -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=(ip, 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _report() -> dict:
    lon, lat = metres_point(250, 250)
    return {"category": "fire.blocked_exit", "lon": lon, "lat": lat}


async def test_intake_over_the_per_address_limit_gets_429_with_retry_after(db, settings):
    await make_world(db)
    async with _client(_app(settings, db)) as client:
        codes = [(await client.post("/reports", json=_report())).status_code for _ in range(4)]
        refused = await client.post("/reports", json=_report())
    assert codes == [201, 201, 201, 429]
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    async with _client(_app(settings, db), ip="198.51.100.8") as other:
        assert (await other.post("/reports", json=_report())).status_code == 201


async def test_two_worker_processes_share_one_count(db, settings):
    await make_world(db)
    first, second = _app(settings, db), _app(settings, db)
    async with _client(first) as a, _client(second) as b:
        codes = [
            (await client.post("/reports", json=_report())).status_code for client in (a, b, a, b)
        ]
    assert codes == [201, 201, 201, 429]


async def test_an_account_is_limited_across_addresses(db, settings):
    world = await make_world(db)
    resident = await make_user(db, "abuse-res", "resident")
    headers = auth_headers(resident, settings)
    codes = []
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        async with _client(_app(settings, db), ip=ip) as client:
            codes.append(
                (await client.post("/reports", json=_report(), headers=headers)).status_code
            )
    assert codes == [201, 201, 429]
    assert world  # the world holds the cells the reports land in


async def test_login_is_limited_per_username_even_with_the_right_password(db, settings):
    world = await make_world(db)
    await make_user(db, "abuse-cm", "community_manager", world.community_a)
    async with _client(_app(settings, db)) as client:
        wrong = [
            (
                await client.post("/auth/token", data={"username": "abuse-cm", "password": "guess"})
            ).status_code
            for _ in range(3)
        ]
        right = await client.post(
            "/auth/token", data={"username": "abuse-cm", "password": PASSWORD}
        )
        unknown = await client.post(
            "/auth/token", data={"username": "someone-else", "password": "x"}
        )
    assert wrong == [401, 401, 401]
    assert right.status_code == 429
    # Another name from the same address is still answered (and as 401, not revealing).
    assert unknown.status_code == 401


async def test_search_is_limited_and_an_exempt_network_is_not(db, settings):
    await make_world(db)
    async with _client(_app(settings, db)) as client:
        codes = [
            (await client.get("/addresses", params={"q": "测试路"})).status_code for _ in range(5)
        ]
    assert codes == [200, 200, 200, 200, 429]
    exempt = _app(settings, db, rate_limit_exempt=["198.51.100.0/24"])
    async with _client(exempt) as client:
        assert (await client.get("/addresses", params={"q": "测试路"})).status_code == 200


async def test_limits_off_counts_nothing(db, settings):
    await make_world(db)
    app = _app(settings, db, rate_limits_enabled=False)
    async with _client(app) as client:
        codes = {(await client.post("/reports", json=_report())).status_code for _ in range(5)}
    assert codes == {201}


async def test_a_banned_network_is_refused_everywhere_until_the_ban_is_lifted(db, settings):
    world = await make_world(db)
    admin = await make_user(db, "abuse-admin", "admin")
    worker = await make_user(db, "abuse-w", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    app = _app(settings, db)
    async with _client(app, ip="192.0.2.10") as admin_client:
        ban = await admin_client.post(
            "/admin/bans",
            json={"network": "203.0.113.0/24", "reason": "批量刷单"},
            headers=auth_headers(admin, settings),
        )
        assert ban.status_code == 201, ban.text
        assert ban.json()["network"] == "203.0.113.0/24"
        async with _client(app, ip="203.0.113.9") as banned:
            for path in ("/categories", "/map", "/reports/GG-NOPE"):
                refused = await banned.get(path)
                assert refused.status_code == 403 and refused.json()["error"]["code"] == "banned"
            assert (await banned.get("/health")).status_code != 403
        lifted = await admin_client.post(
            f"/admin/bans/{ban.json()['id']}/lift", headers=auth_headers(admin, settings)
        )
        assert lifted.status_code == 200
        async with _client(app, ip="203.0.113.9") as again:
            assert (await again.get("/categories")).status_code == 200


async def test_a_banned_account_can_neither_use_its_token_nor_sign_in(db, settings):
    world = await make_world(db)
    admin = await make_user(db, "abuse-admin2", "admin")
    cm = await make_user(db, "abuse-cm2", "community_manager", world.community_a)
    app = _app(settings, db)
    async with _client(app) as client:
        ban = await client.post(
            "/admin/bans",
            json={"user_id": cm.id, "reason": "账号被盗"},
            headers=auth_headers(admin, settings),
        )
        assert ban.status_code == 201
        me = await client.get("/auth/me", headers=auth_headers(cm, settings))
        login = await client.post(
            "/auth/token", data={"username": "abuse-cm2", "password": PASSWORD}
        )
    assert me.status_code == 403 and me.json()["error"]["code"] == "banned"
    assert login.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"network": "not-a-net", "reason": "x"}, "network"),
        ({"reason": "x"}, "network"),
        ({"network": "10.0.0.0/8", "user_id": 5, "reason": "x"}, "network"),
        ({"network": "10.0.0.0/8", "reason": ""}, "reason"),
        ({"user_id": 2147480000, "reason": "x"}, "user_id"),
    ],
)
async def test_a_bad_ban_is_refused_naming_the_field(client, db, settings, body, field):
    admin = await make_user(db, "abuse-admin3", "admin")
    response = await client.post("/admin/bans", json=body, headers=auth_headers(admin, settings))
    assert response.status_code == 422
    assert any(
        field in f["field"] or field in f["reason"] for f in response.json()["error"]["fields"]
    )


async def test_only_admins_manage_bans(client, db, settings):
    world = await make_world(db)
    cm = await make_user(db, "abuse-cm3", "community_manager", world.community_a)
    headers = auth_headers(cm, settings)
    assert (await client.get("/admin/bans", headers=headers)).status_code == 403
    assert (
        await client.post(
            "/admin/bans", json={"network": "10.0.0.1", "reason": "x"}, headers=headers
        )
    ).status_code == 403


async def test_a_body_over_its_limit_is_413_whether_declared_or_streamed(client, db):
    await make_world(db)
    big = b'{"category": "fire.blocked_exit", "description": "' + b"x" * 2**20 + b'"}'
    declared = await client.post(
        "/reports", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"

    async def chunks():
        yield (
            b'--b\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(80):
            yield b"x" * 2**20  # 80 MiB of photo, over the photo form's limit

    streamed = await client.post(
        "/reports", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413
    small = await client.post("/reports", json=_report())
    assert small.status_code == 201


async def test_a_real_server_counts_in_autocommit_across_requests(settings, migrated_db):
    # The app as served (its own engine, counters committed one statement at a time).
    app = create_app(
        settings.model_copy(
            update={
                "rate_limits_enabled": True,
                "rate_limits": {**settings.rate_limits, "search.ip": "1/3600"},
            }
        )
    )
    ip = f"192.0.2.{secrets.randbelow(250) + 1}"
    async with app.router.lifespan_context(app), _client(app, ip=ip) as client:
        first = await client.get("/addresses", params={"q": "测试路"})
        second = await client.get("/addresses", params={"q": "测试路"})
    assert (first.status_code, second.status_code) == (200, 429)
