"""Token endpoint, "who am I", and refusal of bad tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.tokens import ISSUER, create_access_token
from tests.factories import PASSWORD, auth_headers, make_user, make_world


async def _login(client, username, password):
    return await client.post("/auth/token", data={"username": username, "password": password})


async def test_login_returns_a_bearer_token_that_identifies_the_user(client, db):
    world = await make_world(db)
    await make_user(db, "manager-a", "community_manager", world.community_a)
    response = await _login(client, "manager-a", PASSWORD)
    assert response.status_code == 200
    token = response.json()["access_token"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    body = me.json()
    assert body["username"] == "manager-a"
    assert body["role"] == "community_manager"
    assert body["region"]["code"] == world.community_a.code


async def test_me_lists_a_grid_workers_current_cells(client, db, settings):
    from tests.factories import assign

    world = await make_world(db)
    worker = await make_user(db, "worker-a", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker)
    await assign(db, world.cell_a2, worker, kind="backup")
    me = await client.get("/auth/me", headers=auth_headers(worker, settings))
    assert me.json()["cells"] == [world.cell_a1.code, world.cell_a2.code]


@pytest.mark.parametrize(
    ("username", "password"), [("manager-a", "wrong-password"), ("nobody-here", PASSWORD)]
)
async def test_failed_login_says_the_same_for_wrong_password_and_unknown_user(
    client, db, username, password
):
    world = await make_world(db)
    await make_user(db, "manager-a", "community_manager", world.community_a)
    response = await _login(client, username, password)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.json()["error"]["message"] == "用户名或密码错误"


async def test_disabled_account_cannot_log_in_or_use_its_token(client, db, settings):
    user = await make_user(db, "resident-x", "resident")
    headers = auth_headers(user, settings)
    user.is_active = False
    await db.flush()
    assert (await _login(client, "resident-x", PASSWORD)).status_code == 401
    assert (await client.get("/auth/me", headers=headers)).status_code == 401


async def test_missing_token_is_refused_with_401_and_www_authenticate(client):
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_refused(client, db, settings):
    user = await make_user(db, "resident-x", "resident")
    long_ago = datetime.now(UTC) - timedelta(minutes=settings.token_ttl_minutes + 5)
    token = create_access_token(user.id, settings, now=long_ago)
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"] or "过期" in response.text


async def test_tampered_token_is_refused(client, db, settings):
    user = await make_user(db, "resident-x", "resident")
    token = create_access_token(user.id, settings)
    header, _payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"1","iss":"gridgov"}').decode()
    for forged in (f"{header}.{forged_payload}.{signature}", token[:-4] + "AAAA"):
        response = await client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401


async def test_token_signed_with_another_algorithm_is_refused(client, db, settings):
    user = await make_user(db, "resident-x", "resident")
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iss": ISSUER, "iat": now, "exp": now + timedelta(hours=1)}
    key = settings.secret_key.get_secret_value()
    other_alg = jwt.encode(claims, key, algorithm="HS512")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (other_alg, unsigned):
        response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_token_for_an_unknown_user_is_refused(client, settings):
    token = create_access_token(987_654_321, settings)
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_token_signed_with_another_key_is_refused(client, db, settings):
    user = await make_user(db, "resident-x", "resident")
    other = settings.model_copy(update={"secret_key": settings.secret_key.__class__("k" * 48)})
    token = create_access_token(user.id, other)
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
