"""`gridgov demo`: load the synthetic demo city, its base map and demo reports."""

from __future__ import annotations

import click

from cli.running import bulk_transaction, timed_progress
from core.settings import get_settings
from demo.seed import DEFAULT_SEED


@click.command()
@click.option("--replace", is_flag=True, help="Wipe the register and load the demo city again.")
@click.option("--skip-if-loaded", is_flag=True, help="Exit quietly when data is already there.")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Same seed, same city.")
@click.option(
    "--reports",
    default=400,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Demo hazard reports to file, through intake and handling.",
)
def demo(replace: bool, skip_if_loaded: bool, seed: int, reports: int) -> None:
    """Load the synthetic demo city (regions, cells, workers, buildings, accounts, people)
    and its base map (roads, water, parks, places, compounds)."""
    from sqlalchemy import text

    from demo.assets import assets_are_empty, load_demo_assets
    from demo.basemap import (
        basemap_is_empty,
        demo_is_loaded,
        holds_demo_city,
        load_demo_basemap,
    )
    from demo.city import generate_demo_city
    from demo.load import clear_register, load_demo_city, register_is_empty
    from grid.accounts import hash_password
    from grid.user_admin import DEMO_PASSWORD, demo_account_lines

    _ensure_demo_secrets()
    progress = timed_progress()
    # One transaction: a failure or Ctrl-C leaves the register as it was.
    with bulk_transaction() as conn:
        # Two demo loads at once would interleave; the second waits, then sees data.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov demo'))"))
        if not register_is_empty(conn):
            if skip_if_loaded:
                click.echo("demo: the register already holds data; keeping it (--replace reloads)")
                # A demo loaded before the base map (or the assets) existed gets it now
                # (run-demo's path).
                no_basemap, no_assets = basemap_is_empty(conn), assets_are_empty(conn)
                if demo_is_loaded(conn) and (no_basemap or no_assets):
                    city = generate_demo_city(seed=seed, progress=progress)
                    if holds_demo_city(conn, city):
                        counts = {}
                        if no_basemap:
                            counts |= load_demo_basemap(conn, city, seed, progress=progress)
                        if no_assets:
                            counts |= load_demo_assets(conn, city, seed, progress=progress)
                        progress("done: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
                    else:
                        click.echo(
                            f"demo: the demo cells are not those of seed {seed}; "
                            "no base map loaded (--replace reloads both)"
                        )
                _print_accounts(demo_account_lines(conn), DEMO_PASSWORD)
                return
            if not replace:
                raise click.ClickException(
                    "the register already holds data; run `gridgov demo --replace` to wipe "
                    "it and load the demo city again"
                )
            progress("clearing the register")
            clear_register(conn)
        city = generate_demo_city(seed=seed, progress=progress)
        id_hash_key = get_settings().id_hash_key.get_secret_value().encode()
        counts = load_demo_city(
            conn, city, hash_password(DEMO_PASSWORD), id_hash_key, progress=progress
        )
        counts |= load_demo_basemap(conn, city, seed, progress=progress)
        counts |= load_demo_assets(conn, city, seed, progress=progress)
        progress("done: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
        click.echo(
            f"Demo population (演示人口): {counts['houses']} houses, "
            f"{counts['households']} households, {counts['people']} people, "
            f"{counts['vulnerable_people']} vulnerable people"
        )
        accounts = demo_account_lines(conn)
    if reports:
        _demo_reports(reports, seed, progress)
    _print_accounts(accounts, DEMO_PASSWORD)


def _ensure_demo_secrets() -> None:
    """Random signing and ID-hash keys in .env before anything is hashed or signed: the
    published placeholders would let anyone forge an admin token."""
    from core.settings import ensure_local_secrets

    written = ensure_local_secrets()
    if written:
        get_settings.cache_clear()
        click.echo(f"demo: wrote random {' and '.join(written)} to .env (kept from now on)")
    for name in get_settings().weak_secrets():
        click.echo(
            f"demo: warning: {name} is a placeholder (set in the environment); "
            "`gridgov serve` will refuse any address but 127.0.0.1",
            err=True,
        )


def _demo_reports(count: int, seed: int, progress) -> None:
    """File demo reports through the real intake and lifecycle, then deliver their
    notifications, so the pages and inboxes have something to show."""
    import asyncio

    from api.app import intake_context
    from core.database import create_request_engine, session_factory
    from demo.reports import make_demo_incidents
    from incidents.notify.outbox import deliver_batch

    settings = get_settings()

    async def file_them():
        engine = create_request_engine(settings.database_url, pool_size=2)
        try:
            return await make_demo_incidents(
                session_factory(engine),
                intake_context(settings),
                count=count,
                seed=seed,
                progress=progress,
            )
        finally:
            await engine.dispose()

    progress(f"filing {count} demo reports through intake and handling")
    made = asyncio.run(file_them())
    with bulk_transaction() as conn:
        while deliver_batch(conn, 500):
            pass
    click.echo(
        "Demo reports (演示上报): "
        + ", ".join(f"{n} {status}" for status, n in made.by_status.most_common())
    )


def _print_accounts(accounts: list[tuple[str, str, str]], password: str) -> None:
    click.echo("\nDemo accounts (演示账号), password for all: " + password)
    for username, role, area in accounts:
        click.echo(f"  {username:<10} {role:<18} {area}")
