"""Settings are typed, read from GRIDGOV_* variables, and refuse placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_development_accepts_the_placeholder_secret():
    assert Settings(_env_file=None, environment="development").secret_key.get_secret_value()


@pytest.mark.parametrize("environment", ["production", "test"])
def test_placeholder_secret_is_refused_outside_development(environment):
    with pytest.raises(ValidationError, match="GRIDGOV_SECRET_KEY"):
        Settings(
            _env_file=None,
            environment=environment,
            secret_key="dev-secret-change-me",
            id_hash_key="y" * 40,
        )


def test_placeholder_id_hash_key_is_refused_outside_development():
    with pytest.raises(ValidationError, match="GRIDGOV_ID_HASH_KEY"):
        Settings(_env_file=None, environment="production", secret_key="x" * 40)


def test_short_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(
            _env_file=None, environment="production", secret_key="too-short", id_hash_key="y" * 40
        )


def test_long_random_secret_is_accepted_in_production():
    settings = Settings(
        _env_file=None, environment="production", secret_key="x" * 40, id_hash_key="y" * 40
    )
    assert settings.environment == "production"


def test_database_url_must_be_postgresql():
    with pytest.raises(ValidationError, match="postgresql"):
        Settings(database_url="mysql://root@localhost/gridgov")


def test_settings_read_gridgov_prefixed_environment(monkeypatch):
    monkeypatch.setenv("GRIDGOV_PORT", "8123")
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", "postgresql://u:p@db.example:5433/x")
    settings = Settings()
    assert settings.port == 8123
    assert settings.database_url == "postgresql://u:p@db.example:5433/x"
    assert not settings.is_local_database


def test_out_of_range_port_is_refused(monkeypatch):
    monkeypatch.setenv("GRIDGOV_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()
