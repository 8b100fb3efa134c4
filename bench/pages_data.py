"""The pages bench's cities: the demo city and the synthetic district loaded into databases
of their own (kept between runs), with a street manager and reports filed through the
real intake."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    refuse_shared_databases,
    run_gridgov,
)
from bench.district_load import WORKER_PASSWORD, load_register, prepare_files
from core.database import create_bulk_engine, ensure_database
from demo.screenshots import Account

DISTRICT_STREET_MANAGER = "bench-street"
DISTRICT_PASSWORD = WORKER_PASSWORD  # the street manager signs in as the workers do


@dataclass(frozen=True)
class City:
    """A database to measure and the accounts its staff pages sign in with."""

    name: str
    url: str
    manager: Account
    worker: Account


def gridgov(url: str, *command: str, quiet: bool = False) -> None:
    """Run the gridgov command on a database (the product's own set-up path)."""
    run_gridgov({**os.environ, "GRIDGOV_DATABASE_URL": url}, *command, quiet=quiet)


def prepare_demo(args: argparse.Namespace, say: Clock) -> City:
    """The demo city (`gridgov demo`), loaded once and kept."""
    from grid.user_admin import DEMO_PASSWORD

    url = args.demo_database_url
    refuse_shared_databases(url, "wipes its register")
    ensure_database(url)
    say(f"migrating {make_url(url).database}")
    gridgov(url, "db", "upgrade", quiet=True)
    mode = "--replace" if args.rebuild else "--skip-if-loaded"
    say(f"gridgov demo {mode}")
    gridgov(url, "demo", mode, quiet=True)
    return City("demo", url, Account("street", DEMO_PASSWORD), Account("worker", DEMO_PASSWORD))


def prepare_district(args: argparse.Namespace, say: Clock) -> City:
    """The register bench's district (bench/district.py): its cells in force with a
    worker each, footprints imported, a street manager, and reports filed through the
    real intake and handling. Loaded once and kept (--rebuild loads it again)."""
    url = args.district_database_url
    refuse_shared_databases(url, "wipes its register")
    ensure_database(url)
    say(f"migrating {make_url(url).database}")
    gridgov(url, "db", "upgrade", quiet=True)
    engine = create_bulk_engine(url)
    try:
        if args.rebuild or not district_loaded(engine, args.cells):
            load_district(engine, url, args, say)
        else:
            say(f"reusing the {args.cells:,}-cell district in {make_url(url).database}")
        worker = busiest_worker(engine)
    finally:
        engine.dispose()
    return City(
        "district",
        url,
        Account(DISTRICT_STREET_MANAGER, DISTRICT_PASSWORD),
        Account(worker, DISTRICT_PASSWORD),
    )


def district_loaded(engine: Engine, cells: int) -> bool:
    with engine.connect() as conn:
        in_force = conn.execute(
            text(
                "SELECT count(*) FROM grid_cells "
                "WHERE active_from IS NOT NULL AND active_to IS NULL"
            )
        ).scalar_one()
        manager = conn.execute(
            text("SELECT count(*) FROM users WHERE username = :u"), {"u": DISTRICT_STREET_MANAGER}
        ).scalar_one()
        reports = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    return in_force == cells and manager == 1 and reports > 0


def load_district(engine: Engine, url: str, args: argparse.Namespace, say: Clock) -> None:
    from bench.district import STREET_CODE, make_district
    from grid.importing.buildings import import_buildings
    from grid.user_admin import create_user

    district = make_district(args.cells, args.seed)
    cells_path, buildings_path = prepare_files(
        district, args.work_dir, args.cells, args.buildings, args.seed, say
    )
    load_register(engine, district, cells_path, say)
    say(f"importing {args.buildings:,} footprints")
    with engine.begin() as conn:
        import_buildings(conn, buildings_path, progress=say)
        create_user(
            conn,
            username=DISTRICT_STREET_MANAGER,
            role="street_manager",
            password=DISTRICT_PASSWORD,
            region_code=STREET_CODE,
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE buildings, users"))
    say(f"filing {args.reports:,} reports through intake and handling")
    asyncio.run(file_reports(url, args.reports, args.seed, say))


async def file_reports(url: str, count: int, seed: int, say: Clock) -> None:
    from api.app import intake_context
    from core.database import create_request_engine, session_factory
    from core.settings import Settings
    from demo.reports import make_demo_incidents

    engine = create_request_engine(url, pool_size=2)
    try:
        made = await make_demo_incidents(
            session_factory(engine),
            intake_context(Settings(database_url=url)),
            count=count,
            seed=seed,
            progress=say,
        )
    finally:
        await engine.dispose()
    say("reports: " + ", ".join(f"{n} {s}" for s, n in made.by_status.most_common()))


def busiest_worker(engine: Engine) -> str:
    """The grid worker with the most reports, so /worker has something to draw."""
    with engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT u.username FROM incidents i JOIN users u ON u.id = i.assignee_id
            WHERE u.role = 'grid_worker' GROUP BY u.username
            ORDER BY count(*) DESC, u.username LIMIT 1
        """)
        ).scalar_one()
