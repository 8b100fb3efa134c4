"""Login throttling (issue 15, item 6): a stranger guessing passwords is slowed down at
their own address and cannot lock the real user out; an office behind one address signs
in as often as it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from httpx import ASGITransport, AsyncClient

from core.settings import DEFAULT_RATE_LIMITS
from tests.factories import PASSWORD, app_on_session, make_user, make_world

USER_IP = "198.51.100.30"
ATTACKER_IP = "203.0.113.66"


def _app(settings, db, **limits):
    """The real app with the shipped login limits on (or `limits` instead)."""
    return app_on_session(
        settings.model_copy(
            update={
                "rate_limits_enabled": True,
                "rate_limits": {**settings.rate_limits, **DEFAULT_RATE_LIMITS, **limits},
            }
        ),
        db,
    )


@asynccontextmanager
async def _from(app, ip: str) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=(ip, 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _login(client: AsyncClient, username: str, password: str):
    return await client.post("/auth/token", data={"username": username, "password": password})


async def test_fifty_wrong_passwords_slow_the_attacker_and_not_the_user(db, settings):
    world = await make_world(db)
    await make_user(db, "login-cm", "community_manager", world.community_a)
    app = _app(settings, db)
    async with _from(app, ATTACKER_IP) as attacker:
        answers = [await _login(attacker, "login-cm", f"guess-{n}") for n in range(50)]
        # Even the right password is refused at the guessing address for now.
        right_from_attacker = await _login(attacker, "login-cm", PASSWORD)
    codes = [a.status_code for a in answers]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 300
    assert right_from_attacker.status_code == 429
    # The real user, from their own address, signs in at once.
    async with _from(app, USER_IP) as user:
        signed_in = await _login(user, "login-cm", PASSWORD)
    assert signed_in.status_code == 200 and signed_in.json()["access_token"]


async def test_a_guess_spread_over_many_addresses_is_bounded_but_the_users_address_is_not(
    db, settings
):
    world = await make_world(db)
    await make_user(db, "login-cm2", "community_manager", world.community_a)
    app = _app(settings, db, **{"login.username": "20/900"})
    async with _from(app, USER_IP) as user:  # the user signed in from here before
        assert (await _login(user, "login-cm2", PASSWORD)).status_code == 200
    codes = []
    for n in range(30):  # 30 addresses, a few guesses each: the per-name ceiling is 20
        async with _from(app, f"192.0.2.{n + 1}") as bot:
            codes.append((await _login(bot, "login-cm2", f"guess-{n}")).status_code)
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    async with _from(app, "192.0.2.200") as fresh:  # a new address: over the ceiling
        assert (await _login(fresh, "login-cm2", PASSWORD)).status_code == 429
    async with _from(app, USER_IP) as user:  # the user's own address: exempt
        assert (await _login(user, "login-cm2", PASSWORD)).status_code == 200


async def test_an_office_behind_one_address_signs_in_as_often_as_it_needs(db, settings):
    world = await make_world(db)
    staff = [
        await make_user(db, f"login-office-{n}", "community_manager", world.community_a)
        for n in range(4)
    ]
    app = _app(settings, db, **{"login.ip": "10/300"})
    async with _from(app, "198.51.100.99") as office:
        codes = {
            (await _login(office, staff[n % 4].username, PASSWORD)).status_code for n in range(25)
        }
        # A colleague's typo does not stop the others either.
        typo = await _login(office, staff[0].username, "typo")
        after = await _login(office, staff[1].username, PASSWORD)
    assert codes == {200}
    assert typo.status_code == 401 and after.status_code == 200
