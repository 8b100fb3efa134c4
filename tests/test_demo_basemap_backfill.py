"""`gridgov demo --skip-if-loaded` (what scripts/run-demo runs) on a database holding a
demo loaded before the base map existed: the demo base map is loaded, once, and only for
the demo city of that seed."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import cli.demo
import cli.main
import demo.city
from demo.basemap import basemap_is_empty
from demo.city import generate_demo_city
from demo.load import load_demo_city

SEED = 20261124
_real_generate = generate_demo_city


@pytest.fixture(scope="module")
def city():
    """The demo city of run-demo's seed."""
    return _real_generate(seed=SEED)


@pytest.fixture
def demo_without_basemap(sync_engine, settings, city, monkeypatch):
    """The demo register loaded as an older `gridgov demo` left it (no base map), with
    the command's transaction and key set-up pointed at this rolled-back connection."""
    with sync_engine.connect() as conn:
        outer = conn.begin()
        load_demo_city(
            conn, city, "$argon2id$dummy", settings.id_hash_key.get_secret_value().encode()
        )
        assert basemap_is_empty(conn)

        @contextmanager
        def this_connection():
            yield conn

        monkeypatch.setattr(cli.demo, "bulk_transaction", this_connection)
        monkeypatch.setattr(cli.demo, "_ensure_demo_secrets", lambda: None)
        # The same seed gives the same city: reuse the one built once for this module.
        monkeypatch.setattr(
            demo.city,
            "generate_demo_city",
            lambda seed, progress=None: city if seed == SEED else _real_generate(seed=seed),
        )
        yield conn
        outer.rollback()


def _demo_rows(conn) -> int:
    return conn.execute(
        text(
            "SELECT (SELECT count(*) FROM basemap.roads WHERE source = 'demo') "
            "+ (SELECT count(*) FROM basemap.compounds WHERE source = 'demo')"
        )
    ).scalar_one()


def test_skip_if_loaded_gives_an_existing_demo_its_base_map_once(demo_without_basemap, monkeypatch):
    conn = demo_without_basemap
    result = CliRunner().invoke(cli.main.main, ["demo", "--skip-if-loaded", "--reports", "0"])
    assert result.exit_code == 0, result.output
    loaded = _demo_rows(conn)
    assert loaded > 100
    assert (
        conn.execute(text("SELECT count(*) FROM basemap.places WHERE source = 'demo'")).scalar_one()
        > 0
    )

    def no_city(**_kwargs):
        raise AssertionError("the city is built again although the base map is there")

    monkeypatch.setattr(demo.city, "generate_demo_city", no_city)
    again = CliRunner().invoke(cli.main.main, ["demo", "--skip-if-loaded", "--reports", "0"])
    assert again.exit_code == 0, again.output
    assert _demo_rows(conn) == loaded


def test_a_demo_of_another_seed_gets_no_base_map_that_would_not_fit(demo_without_basemap):
    conn = demo_without_basemap
    result = CliRunner().invoke(
        cli.main.main, ["demo", "--skip-if-loaded", "--reports", "0", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "not those of seed 7" in result.output
    assert basemap_is_empty(conn)


def test_a_register_that_is_not_the_demo_gets_no_demo_base_map(conn, monkeypatch):
    @contextmanager
    def this_connection():
        yield conn

    monkeypatch.setattr(cli.demo, "bulk_transaction", this_connection)
    monkeypatch.setattr(cli.demo, "_ensure_demo_secrets", lambda: None)
    result = CliRunner().invoke(cli.main.main, ["demo", "--skip-if-loaded", "--reports", "0"])
    assert result.exit_code == 0, result.output
    assert basemap_is_empty(conn)
