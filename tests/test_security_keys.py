"""Forgeable admin tokens (issue 15, item 3): the demo set-up writes random keys into
.env once, a token signed with the published placeholder is refused by an app configured
that way, `serve` refuses placeholder keys on any address but loopback, and no token
lives longer than the hard maximum even with a good signature."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from click.testing import CliRunner
from httpx import ASGITransport, AsyncClient

from api.tokens import ISSUER, create_access_token, user_id_from_token
from cli.main import main as cli
from core.errors import NotAuthenticated
from core.settings import (
    MAX_TOKEN_TTL_MINUTES,
    PLACEHOLDER_SECRETS,
    Settings,
    ensure_local_secrets,
    get_settings,
    is_loopback_host,
)
from tests.factories import app_on_session, make_user

PLACEHOLDER = "dev-secret-change-me"  # the published default signing key
KEYS = ("GRIDGOV_SECRET_KEY", "GRIDGOV_ID_HASH_KEY")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No GRIDGOV_ keys from the caller's environment, and a fresh working directory
    (Settings reads .env from there)."""
    for name in (*KEYS, "GRIDGOV_ENVIRONMENT", "GRIDGOV_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _forged(user_id: int, key: str, years: int = 10) -> str:
    now = datetime.now(UTC)
    with warnings.catch_warnings():  # PyJWT rightly warns that the placeholder is short
        warnings.simplefilter("ignore")
        return jwt.encode(
            {
                "sub": str(user_id),
                "iss": ISSUER,
                "iat": now,
                "exp": now + timedelta(days=365 * years),
            },
            key,
            algorithm="HS256",
        )


def _env_values(path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_the_demo_set_up_writes_random_keys_once_and_never_overwrites(clean_env):
    env = clean_env / ".env"
    assert ensure_local_secrets(env) == list(KEYS)
    first = _env_values(env)
    assert all(len(first[k]) >= 32 and first[k] not in PLACEHOLDER_SECRETS for k in KEYS)
    assert first["GRIDGOV_SECRET_KEY"] != first["GRIDGOV_ID_HASH_KEY"]
    assert env.stat().st_mode & 0o077 == 0  # owner-only
    assert ensure_local_secrets(env) == []
    assert _env_values(env) == first


def test_placeholders_copied_from_the_example_are_replaced_real_keys_kept(clean_env):
    env = clean_env / ".env"
    real = "r" * 40
    env.write_text(
        f"GRIDGOV_ENVIRONMENT=development\nGRIDGOV_SECRET_KEY=change-me\n"
        f"GRIDGOV_ID_HASH_KEY={real}\n"
    )
    assert ensure_local_secrets(env) == ["GRIDGOV_SECRET_KEY"]
    values = _env_values(env)
    assert values["GRIDGOV_ID_HASH_KEY"] == real
    assert values["GRIDGOV_SECRET_KEY"] not in PLACEHOLDER_SECRETS
    assert values["GRIDGOV_ENVIRONMENT"] == "development"


def test_a_gitignored_env_file_holds_the_keys():
    from pathlib import Path

    ignored = Path(__file__).resolve().parent.parent / ".gitignore"
    assert ".env" in ignored.read_text().splitlines()


async def test_a_placeholder_signed_admin_token_is_refused_as_run_demo_configures(
    clean_env, settings, db
):
    ensure_local_secrets(clean_env / ".env")
    # The demo's configuration: development, keys from .env, our test database.
    demo = Settings(
        environment="development", database_url=settings.database_url, rate_limits_enabled=False
    )
    assert demo.weak_secrets() == []
    admin = await make_user(db, "sec-admin", "admin")
    forged = _forged(admin.id, PLACEHOLDER)
    with pytest.raises(NotAuthenticated):
        user_id_from_token(forged, demo)
    transport = ASGITransport(app=app_on_session(demo, db))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
        honest = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {create_access_token(admin.id, demo)}"}
        )
    assert refused.status_code == 401
    assert honest.status_code == 200


async def test_a_ten_year_token_signed_with_the_real_key_is_refused(client, settings, db):
    admin = await make_user(db, "sec-admin", "admin")
    key = settings.secret_key.get_secret_value()
    for token in (
        _forged(admin.id, key),
        jwt.encode(
            {
                "sub": str(admin.id),
                "iss": ISSUER,
                "iat": datetime.now(UTC),
                "exp": datetime.now(UTC) + timedelta(minutes=MAX_TOKEN_TTL_MINUTES + 1),
            },
            key,
        ),
    ):
        with pytest.raises(NotAuthenticated):
            user_id_from_token(token, settings)
        response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    fresh = create_access_token(admin.id, settings)
    assert (
        await client.get("/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    ).status_code == 200


def test_the_configured_lifetime_cannot_exceed_the_hard_maximum():
    with pytest.raises(ValueError, match="token_ttl_minutes"):
        Settings(token_ttl_minutes=MAX_TOKEN_TTL_MINUTES + 1)


@pytest.fixture
def served(monkeypatch):
    """uvicorn.run replaced by a recorder: the command's decision is what is tested."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gridgov.example"])
def test_serve_on_a_reachable_address_with_placeholder_keys_exits_with_the_reason(
    clean_env, served, host
):
    result = CliRunner().invoke(cli, ["serve", "--host", host])
    assert result.exit_code != 0
    assert f"refusing to serve on {host}" in result.output
    assert "GRIDGOV_SECRET_KEY" in result.output and "GRIDGOV_ID_HASH_KEY" in result.output
    assert served == []


def test_serve_with_a_short_key_is_refused_too(clean_env, served, monkeypatch):
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", "s" * 31)
    monkeypatch.setenv("GRIDGOV_ID_HASH_KEY", "h" * 48)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "GRIDGOV_SECRET_KEY" in result.output
    assert "GRIDGOV_ID_HASH_KEY" not in result.output
    assert served == []


def test_serve_runs_on_loopback_with_placeholders_and_anywhere_with_real_keys(clean_env, served):
    assert CliRunner().invoke(cli, ["serve", "--host", "127.0.0.1"]).exit_code == 0
    ensure_local_secrets(clean_env / ".env")
    get_settings.cache_clear()
    assert CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"]).exit_code == 0
    assert [c["host"] for c in served] == ["127.0.0.1", "0.0.0.0"]


def test_loopback_is_only_this_machine():
    assert all(map(is_loopback_host, ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback_host, ["0.0.0.0", "::", "10.0.0.1", "example.org"]))
