"""The `gridgov` command line: database, demo city, accounts, server."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Connection

from core.settings import get_settings


def _progress(start: float):
    def report(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}", err=True)

    return report


@contextmanager
def bulk_transaction() -> Iterator[Connection]:
    """One sync transaction on the configured database: committed on success, rolled back
    on any failure (nothing half-written); domain errors become clean CLI errors."""
    from core.database import create_bulk_engine
    from core.errors import GridgovError

    engine = create_bulk_engine(get_settings().database_url)
    try:
        with engine.begin() as conn:
            yield conn
    except GridgovError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise click.ClickException(where + exc.message("en")) from exc
    finally:
        engine.dispose()


@click.group()
def main() -> None:
    """gridgov: 网格化社会治理 GIS 平台 / grid-based social-governance GIS platform."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    from migrations import alembic_config

    command.upgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")
    if revision == "head":
        from incidents.categories import sync_categories

        with bulk_transaction() as conn:
            click.echo(f"{sync_categories(conn)} report categories in force")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every gridgov table)."""
    from alembic import command

    from migrations import alembic_config

    command.downgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")


@db.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    from alembic import command

    from migrations import alembic_config

    command.current(alembic_config(get_settings().database_url))


@main.command()
@click.option("--replace", is_flag=True, help="Wipe the register and load the demo city again.")
@click.option("--skip-if-loaded", is_flag=True, help="Exit quietly when data is already there.")
@click.option("--seed", default=20261124, show_default=True, help="Same seed, same city.")
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
    progress = _progress(time.monotonic())
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


@main.group("import")
def import_() -> None:
    """Import register data from GIS files (GeoPackage, Shapefile, GeoJSON, CSV)."""


def _finish_import(report, report_path: str | None) -> None:
    """Show the first rejected rows, save the full report if asked, print the summary."""
    from pathlib import Path

    for issue in report.rejected[:20]:
        click.echo(
            f"  rejected row {issue.row} ({issue.external_id}): {issue.field}: {issue.reason}"
        )
    if len(report.rejected) > 20:
        click.echo(f"  ... and {len(report.rejected) - 20} more rejected rows (see --report)")
    if report_path:
        report.write(Path(report_path))
    click.echo(report.summary())


@import_.command("buildings")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML field mapping ([fields] and [values.<field>]).",
)
@click.option("--layer", help="Layer name in a multi-layer file (GeoPackage).")
@click.option("--encoding", help="Text encoding when the file has no .cpg (e.g. GBK).")
@click.option("--crs", "csv_crs", help="CRS of a CSV's coordinates (e.g. EPSG:4547).")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def import_buildings_cmd(path, mapping, layer, encoding, csv_crs, dry_run, report_path) -> None:
    """Import building footprints: upsert by external id, link to cells, report rows."""
    from pathlib import Path

    from grid.importing.buildings import import_buildings
    from grid.importing.reading import FieldMapping

    progress = _progress(time.monotonic())
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_buildings(
            conn,
            Path(path),
            mapping=FieldMapping.load(mapping and Path(mapping)),
            layer=layer,
            encoding=encoding,
            csv_crs=csv_crs,
            dry_run=dry_run,
            progress=progress,
        )
    _finish_import(report, report_path)


@import_.command("assets")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML field mapping ([fields] and [values.<field>]).",
)
@click.option("--layer", help="Layer name in a multi-layer file (GeoPackage).")
@click.option("--encoding", help="Text encoding when the file has no .cpg (e.g. GBK).")
@click.option("--crs", "csv_crs", help="CRS of a CSV's coordinates (e.g. EPSG:4547).")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def import_assets_cmd(path, mapping, layer, encoding, csv_crs, dry_run, report_path) -> None:
    """Import city assets (部件: hydrants, cabinets, chargers, manhole covers, street
    lights) with their 16-digit codes: upsert by code, link to cells; any rejected row
    and nothing is written."""
    from pathlib import Path

    from grid.importing.assets import import_assets
    from grid.importing.reading import FieldMapping

    progress = _progress(time.monotonic())
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_assets(
            conn,
            Path(path),
            mapping=FieldMapping.load(mapping and Path(mapping)),
            layer=layer,
            encoding=encoding,
            csv_crs=csv_crs,
            dry_run=dry_run,
            progress=progress,
        )
    _finish_import(report, report_path)
    if report.rejected:
        raise click.ClickException("rows were rejected; nothing was written")


@import_.command("basemap")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML mapping ([[layers]]: table, layer, class/kind or fixed, name, id); "
    "not for .osm.pbf.",
)
@click.option("--commit", is_flag=True, help="Write; without it this is a dry run.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def import_basemap_cmd(path, mapping, commit, report_path) -> None:
    """Import base-map roads, water, green, places and compounds from an .osm.pbf, or a
    GeoPackage / zipped Shapefile / GeoJSON in any CRS; a dry run unless --commit."""
    from pathlib import Path

    from maps.basemap_import import import_basemap

    progress = _progress(time.monotonic())
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_basemap(
            conn, Path(path), mapping=mapping and Path(mapping), commit=commit, progress=progress
        )
    _finish_import(report, report_path)
    if report.rejected:
        raise click.ClickException("rows were rejected; nothing was written")


@import_.command("people")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML field mapping ([fields] and [values.<field>]).",
)
@click.option("--encoding", help="Text encoding when the file is not UTF-8 (e.g. GBK).")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def import_people_cmd(path, mapping, encoding, dry_run, report_path) -> None:
    """Import houses, households and people from a flat CSV (人口台账): upsert by external
    id, ID numbers kept as keyed hash + last four, every rejected row reported."""
    from pathlib import Path

    from grid.importing.people import import_population
    from grid.importing.reading import FieldMapping

    progress = _progress(time.monotonic())
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_population(
            conn,
            Path(path),
            mapping=FieldMapping.load(mapping and Path(mapping)),
            encoding=encoding,
            id_hash_key=get_settings().id_hash_key.get_secret_value(),
            dry_run=dry_run,
            progress=progress,
        )
    _finish_import(report, report_path)


@import_.command("regions")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML field mapping ([fields] and [values.<field>]).",
)
@click.option("--layer", help="Layer name in a multi-layer file (GeoPackage).")
@click.option("--encoding", help="Text encoding when the file has no .cpg (e.g. GBK).")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def import_regions_cmd(path, mapping, layer, encoding, dry_run, report_path) -> None:
    """Import administrative regions (city, district, street, community): upsert by code,
    levels and parents from the codes unless given, paths follow moves, rows reported."""
    from pathlib import Path

    from grid.importing.reading import FieldMapping
    from grid.importing.regions import import_regions

    progress = _progress(time.monotonic())
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_regions(
            conn,
            Path(path),
            mapping=FieldMapping.load(mapping and Path(mapping)),
            layer=layer,
            encoding=encoding,
            dry_run=dry_run,
            progress=progress,
        )
    for issue in report.outside_parent[:20]:
        click.echo(f"  warning row {issue.row} ({issue.external_id}): {issue.reason}")
    _finish_import(report, report_path)


@import_.command("cells")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--label", required=True, help="Name of the new boundary version.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False))
@click.option("--layer")
@click.option("--encoding")
@click.option("--dry-run", is_flag=True)
def import_cells_cmd(path, label, mapping, layer, encoding, dry_run) -> None:
    """Import grid cells as a new draft boundary version (then: cells check / activate)."""
    from pathlib import Path

    from grid.importing.cells import import_cells
    from grid.importing.reading import FieldMapping

    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report, version_id = import_cells(
            conn,
            Path(path),
            label=label,
            mapping=FieldMapping.load(mapping and Path(mapping)),
            layer=layer,
            encoding=encoding,
            dry_run=dry_run,
            progress=_progress(time.monotonic()),
        )
    for issue in report.rejected:
        click.echo(f"  rejected row {issue.row}: {issue.field}: {issue.reason}")
    click.echo(report.summary())
    if version_id is not None:
        click.echo(
            f"draft version {version_id}: `gridgov cells check {version_id}`, then "
            f"`gridgov cells activate {version_id}`"
        )


@main.group()
def cells() -> None:
    """Boundary versions of grid cells."""


@cells.command("check")
@click.argument("version_id", type=int)
def cells_check(version_id: int) -> None:
    """Report overlaps, gaps and cells outside their community, with areas in m²."""
    from grid.checks import check_version

    with bulk_transaction() as conn:
        problems = check_version(conn, version_id)
    for p in problems:
        click.echo(
            f"  {p.kind:<18} community {p.community_code} cells "
            f"{','.join(p.cell_codes) or '-'}: {p.area_m2:,.1f} m²"
        )
    click.echo(f"{len(problems)} problem(s) in version {version_id}")


@cells.command("activate")
@click.argument("version_id", type=int)
def cells_activate(version_id: int) -> None:
    """Put a draft version in force; buildings, assignments and open incidents move to
    the new cells."""
    from grid.versions import activate_version
    from incidents.handling.relinking import ACTIVATION_FOLLOWERS

    with bulk_transaction() as conn:  # a failure leaves nothing behind
        result = activate_version(conn, version_id, ACTIVATION_FOLLOWERS)
    click.echo(
        f"version {version_id} active: {result.cells_activated} cells in force, "
        f"{result.cells_retired} retired, {result.assignments_moved} assignments "
        f"moved, {result.buildings_relinked} buildings relinked, "
        f"{result.followers_moved.get('incidents', 0)} open incidents moved"
    )


@cells.command("draft")
@click.argument("community_code")
@click.option("--shape", required=True, type=click.Choice(["square", "hex", "buildings"]))
@click.option(
    "--size",
    "size_m",
    type=float,
    help="Cell size in metres: a square's side, a hexagon's width across flats.",
)
@click.option("--buildings-per-cell", type=int, help="Buildings per cell (--shape buildings).")
@click.option("--label", help="Name of the new boundary version (default: describes the draft).")
def cells_draft(
    community_code: str,
    shape: str,
    size_m: float | None,
    buildings_per_cell: int | None,
    label: str | None,
) -> None:
    """Draft coded cells for a community as a new draft version (then: check / activate)."""
    from grid.drafting import draft_cells

    with bulk_transaction() as conn:  # a failure leaves nothing behind
        draft = draft_cells(
            conn,
            community_code,
            shape=shape,
            size_m=size_m,
            buildings_per_cell=buildings_per_cell,
            label=label,
        )
    click.echo(
        f"draft version {draft.version_id}: {draft.cells} {draft.shape} cells for "
        f"community {draft.community_code}, {draft.min_area_m2:,.0f} to "
        f"{draft.max_area_m2:,.0f} m² each"
    )
    if draft.replaces_cells_in_force:
        click.echo(
            f"  activating it will replace the {draft.replaces_cells_in_force} cells "
            f"in force in {draft.community_code}"
        )
    click.echo(
        f"next: `gridgov cells check {draft.version_id}`, then "
        f"`gridgov cells activate {draft.version_id}`"
    )


@main.command("escalate")
@click.option("--loop", is_flag=True, help="Run again every --every seconds until Ctrl-C.")
@click.option(
    "--every",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds between runs with --loop.",
)
@click.option(
    "--interval",
    default="1wd",
    show_default=True,
    help="Time an overdue report waits between steps up: 30m, 4h, 1wd ...",
)
@click.option("--dry-run", is_flag=True, help="Count what is due; change nothing.")
def escalate_cmd(loop: bool, every: int, interval: str, dry_run: bool) -> None:
    """Escalate unaccepted and overdue reports and overdue rectification work orders, and
    record the default rating of reports past the rating period (once, or forever with
    --loop)."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import OperationalError

    from incidents.handling.escalation import escalate
    from incidents.handling.workdays import DeadlineRule, load_work_calendar
    from incidents.ratings import default_ratings

    try:
        rule = DeadlineRule.parse(interval)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from exc
    settings = get_settings()
    calendar = load_work_calendar(settings.holidays_file, settings.working_hours)
    try:
        while True:
            now = datetime.now(UTC)
            try:
                # One transaction per run: Ctrl-C in the middle rolls the run back.
                with bulk_transaction() as conn:
                    run = escalate(conn, now, calendar=calendar, interval=rule, dry_run=dry_run)
                    defaults = default_ratings(
                        conn,
                        now,
                        settings.rating_period_days,
                        settings.default_rating,
                        dry_run=dry_run,
                    )
                click.echo(
                    f"{now.isoformat(timespec='seconds')} {run.summary()}; {defaults.summary()}"
                )
            except OperationalError as exc:
                if not loop:
                    raise
                # A loop outlives a database restart: say so and try again next time.
                click.echo(f"database unavailable ({exc.orig}); retrying in {every}s", err=True)
            if not loop:
                return
            time.sleep(every)
    except KeyboardInterrupt:
        click.echo("escalate: stopped", err=True)


@main.group()
def ratings() -> None:
    """好差评: ratings of closed reports."""


@ratings.command("default")
@click.option("--dry-run", is_flag=True, help="Count what is due; record nothing.")
def ratings_default(dry_run: bool) -> None:
    """Record the default rating (GRIDGOV_DEFAULT_RATING, marked defaulted) of every report
    closed longer than GRIDGOV_RATING_PERIOD_DAYS ago without a rating, and of every
    revisited work order not re-rated in that time; `gridgov escalate` does this each run."""
    from datetime import UTC, datetime

    from incidents.ratings import default_ratings

    settings = get_settings()
    with bulk_transaction() as conn:
        run = default_ratings(
            conn,
            datetime.now(UTC),
            settings.rating_period_days,
            settings.default_rating,
            dry_run=dry_run,
        )
    click.echo(run.summary())


@main.group()
def retention() -> None:
    """Retention of personal data in finished reports."""


@retention.command("run")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    help="Finished this many days ago or more (default GRIDGOV_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
def retention_run(days: int | None, dry_run: bool) -> None:
    """Anonymise reports finished longer ago than the retention period: contact and
    reporter account removed, phone and ID numbers redacted from free text, photos'
    originals replaced by their metadata-free copies; prints what changed, by kind."""
    from datetime import UTC, datetime, timedelta

    from incidents.retention import anonymise_finished_reports

    period = timedelta(days=days or get_settings().retention_days)
    say = _progress(time.monotonic())
    with bulk_transaction() as conn:
        report = anonymise_finished_reports(
            conn,
            datetime.now(UTC),
            period,
            dry_run=dry_run,
            progress=lambda n: say(f"{n} report(s) done"),
        )
    for line in report.lines():
        click.echo(line)


@main.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.option("--username", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        [
            "resident",
            "grid_worker",
            "community_manager",
            "street_manager",
            "district_manager",
            "admin",
        ]
    ),
)
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--region", "region_code", help="Region code the staff account is bound to.")
@click.option("--phone")
@click.password_option(help="Prompted when not given.")
def user_create(
    username: str,
    role: str,
    display_name: str | None,
    region_code: str | None,
    phone: str | None,
    password: str,
) -> None:
    """Create an account (staff accounts need --region)."""
    from grid.user_admin import create_user

    with bulk_transaction() as conn:  # a failure leaves nothing behind
        user_id = create_user(
            conn,
            username=username,
            role=role,
            password=password,
            display_name=display_name,
            region_code=region_code,
            phone=phone,
        )
    click.echo(f"created user {username} (id {user_id}, role {role})")


@main.group()
def open311() -> None:
    """Open311 GeoReport v2: API keys of trusted clients."""


@open311.group("key")
def open311_key() -> None:
    """Create, revoke and list client API keys (kept only as a hash)."""


@open311_key.command("create")
@click.argument("name")
def open311_key_create(name: str) -> None:
    """Create a trusted client NAME and print its API key, once."""
    from interop.open311.api_keys import create_client_key

    with bulk_transaction() as conn:
        api_key = create_client_key(conn, name)
    click.echo(
        f"Open311 client {name.strip()} created; its api_key (shown only now, "
        f"keep it secret):\n{api_key}"
    )


@open311_key.command("revoke")
@click.argument("name")
def open311_key_revoke(name: str) -> None:
    """Revoke client NAME's key at once (its requests stay attributed to it)."""
    from interop.open311.api_keys import revoke_client_key

    with bulk_transaction() as conn:
        revoked_at = revoke_client_key(conn, name)
    click.echo(
        f"Open311 client {name.strip()}: key revoked ({revoked_at.isoformat(timespec='seconds')})"
    )


@open311_key.command("list")
def open311_key_list() -> None:
    """List clients: name, the key's first characters, created, revoked."""
    from interop.open311.api_keys import list_clients

    with bulk_transaction() as conn:
        clients = list_clients(conn)
    for c in clients:
        revoked = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "in force"
        click.echo(
            f"  {c.name:<24} {c.key_prefix}…  created {c.created_at:%Y-%m-%d %H:%M}  {revoked}"
        )
    click.echo(f"{len(clients)} Open311 client(s)")


@main.group()
def hotline() -> None:
    """12345 hotline work orders (工单): file new orders, export their results."""


def _in_async_transaction(work):
    """Run `work(session)` in one async transaction on the configured database (report
    intake is async): committed on success, rolled back on any failure; domain errors
    become clean CLI errors."""
    import asyncio

    from core.database import create_request_engine, session_factory
    from core.errors import GridgovError

    async def run():
        engine = create_request_engine(get_settings().database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GridgovError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise click.ClickException(where + exc.message("en")) from exc


async def _admin_named(session, username: str):
    """The active admin account filing hotline orders from the command line."""
    from sqlalchemy import text

    from grid.access import load_principal
    from grid.roles import Role

    user_id = (
        await session.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username})
    ).scalar()
    principal = user_id and await load_principal(session, user_id)
    if not principal or principal.role is not Role.ADMIN:
        raise click.BadParameter(f"{username} is not an active admin account", param_hint="--as")
    return principal


@hotline.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--as",
    "username",
    required=True,
    help="The admin account filing the orders (recorded on each report).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML on top of the bundled mapping ([columns], [categories], [defaults]).",
)
@click.option("--encoding", help="Text encoding of a CSV (default: UTF-8, else GB 18030).")
@click.option("--dry-run", is_flag=True, help="Check and report, file nothing.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the full report (.json, or .csv of row issues).",
)
def hotline_import(path, username, mapping, encoding, dry_run, report_path) -> None:
    """File the new orders of a 12345 export (CSV or JSON) as reports routed like any
    other; orders filed before are not filed again (a changed one is reported)."""
    from datetime import UTC, datetime
    from pathlib import Path

    from api.app import intake_context
    from interop.hotline.mapping import HotlineMapping
    from interop.hotline.work_orders import import_hotline_orders

    settings = get_settings()
    progress = _progress(time.monotonic())

    async def work(session):
        return await import_hotline_orders(
            session,
            intake_context(settings),
            Path(path),
            filer=await _admin_named(session, username),
            hash_key=settings.id_hash_key.get_secret_value(),
            now=datetime.now(UTC),
            mapping=HotlineMapping.load(mapping and Path(mapping)),
            encoding=encoding,
            dry_run=dry_run,
            progress=progress,
            first_contact=settings.hotline_first_contact,
        )

    report = _in_async_transaction(work)
    for issue in report.changed[:20]:
        click.echo(f"  changed row {issue.row} ({issue.external_id}): {issue.reason}")
    _finish_import(report, report_path)


@hotline.command("export")
@click.option(
    "--since",
    help="Every order changed at or after this China time "
    "(2026-11-01 or 2026-11-24 09:00); default: orders new or "
    "changed since their last export.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="A .csv (Excel, Chinese headers) or .json file; default: JSON on stdout.",
)
@click.option("--dry-run", is_flag=True, help="Export without marking the orders exported.")
def hotline_export(since: str | None, out_path: str | None, dry_run: bool) -> None:
    """Export the results of orders from 12345: status, handling result, times, callback
    and satisfaction; marks what was exported."""
    from datetime import UTC, datetime
    from pathlib import Path

    from interop.hotline.csv_reading import RowProblem, parse_china_time
    from interop.hotline.results_export import export_hotline_results

    try:
        since_time = since and parse_china_time(since, "--since")
    except RowProblem as exc:
        raise click.BadParameter(exc.reason_en, param_hint="--since") from None
    if out_path and Path(out_path).suffix.lower() not in (".csv", ".json"):
        raise click.BadParameter("write a .csv or a .json file", param_hint="--out")

    async def work(session):
        export = await export_hotline_results(
            session, now=datetime.now(UTC), since=since_time or None, mark=not dry_run
        )
        # Written before the marks commit: a file that cannot be written marks nothing.
        as_csv = bool(out_path) and Path(out_path).suffix.lower() == ".csv"
        body = export.to_csv() if as_csv else export.to_json()
        if out_path:
            Path(out_path).write_bytes(body)
        else:
            click.echo(body.decode("utf-8"))
        return export

    export = _in_async_transaction(work)
    verb = "listed (not marked)" if dry_run else "exported"
    click.echo(f"hotline: {len(export.orders)} orders {verb}", err=True)


@main.group()
def notify() -> None:
    """Notification delivery: outbox to inboxes, live streams and webhooks."""


@notify.command("run")
@click.option("--once", is_flag=True, help="Deliver what is pending, then exit.")
@click.option(
    "--batch",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Messages delivered per transaction.",
)
@click.option(
    "--poll",
    "poll_seconds",
    default=0.25,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between looks at the outbox (one index probe each).",
)
def notify_run(once: bool, batch: int, poll_seconds: float) -> None:
    """Deliver outbox messages to inboxes and webhooks, once or until stopped (Ctrl-C or
    SIGTERM let the batch under way finish). Run as many as you like: they share the
    work, and a killed one loses nothing."""
    import signal
    import threading

    from core.database import create_bulk_engine
    from incidents.notify.outbox import run_worker

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    engine = create_bulk_engine(get_settings().database_url)
    try:
        totals = run_worker(
            engine,
            once=once,
            poll_seconds=poll_seconds,
            batch=batch,
            stop_event=stop,
            progress=_progress(time.monotonic()),
        )
    finally:
        engine.dispose()
    hooks = totals.webhooks
    click.echo(
        f"notify: {totals.messages} message(s) delivered, {totals.inbox_items} "
        f"inbox item(s); webhooks: {hooks.delivered} delivered, {hooks.retrying} to "
        f"retry, {hooks.failed} given up"
    )


@main.command()
@click.option("--host", default=None, help="Default: GRIDGOV_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: GRIDGOV_PORT (8000).")
@click.option("--workers", default=1, show_default=True, help="Worker processes.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, workers: int, reload: bool) -> None:
    """Run the HTTP service."""
    import uvicorn

    from core.settings import is_loopback_host

    settings = get_settings()
    bind = host or settings.host
    weak = settings.weak_secrets()
    # Placeholder keys are public: on an address others can reach, anyone could sign an
    # admin token. Loopback stays allowed for a laptop's first look.
    if weak and not is_loopback_host(bind):
        raise click.ClickException(
            f"refusing to serve on {bind}: {' and '.join(weak)} "
            f"{'is' if len(weak) == 1 else 'are'} a published placeholder or shorter than "
            "32 characters. Set random values in .env (`gridgov demo` writes them; or "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), or serve on "
            "127.0.0.1"
        )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=bind,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        # X-Forwarded-For is read by the app itself, from GRIDGOV_TRUSTED_PROXIES only
        # (uvicorn's own default trusts 127.0.0.1, i.e. anyone on this machine).
        proxy_headers=False,
        # Open inbox streams never end by themselves: give them 5 s, then close them.
        timeout_graceful_shutdown=5,
    )


@main.command("screenshots")
@click.option(
    "--base-url",
    help="A running gridgov (default: serve the configured database "
    "on a free port of 127.0.0.1 while the screenshots are taken).",
)
@click.option(
    "--out",
    "out_dir",
    default="docs/screenshots",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the PNGs are written.",
)
@click.option(
    "--lang", type=click.Choice(["zh-Hans", "en", "both"]), default="both", show_default=True
)
@click.option(
    "--page",
    "pages",
    multiple=True,
    type=click.Choice(["map", "report", "track", "dashboard", "worker"]),
    help="Only these pages (repeatable; default all).",
)
@click.option("--width", default=1280, show_default=True, type=click.IntRange(200, 4000))
@click.option("--height", default=800, show_default=True, type=click.IntRange(200, 4000))
@click.option(
    "--mobile-width",
    default=390,
    show_default=True,
    type=click.IntRange(200, 2000),
    help="/report is also shot at this phone size.",
)
@click.option(
    "--mobile-height",
    default=844,
    show_default=True,
    type=click.IntRange(0, 4000),
    help="0: no phone-size shot.",
)
@click.option(
    "--manager",
    default="street",
    show_default=True,
    help="The community or street manager account /dashboard signs in as.",
)
@click.option(
    "--worker",
    default="worker",
    show_default=True,
    help="The grid worker account /worker signs in as.",
)
@click.option("--password", default=None, help="The accounts' password (default: the demo's).")
@click.option(
    "--track",
    "tracking_number",
    help="The report /track shows (default: one in the manager's area, the furthest along).",
)
@click.option("--lossless", is_flag=True, help="Keep every colour (larger files).")
def screenshots_cmd(
    base_url,
    out_dir,
    lang,
    pages,
    width,
    height,
    mobile_width,
    mobile_height,
    manager,
    worker,
    password,
    tracking_number,
    lossless,
) -> None:
    """Screenshot every page (for the README) in headless chromium, each once its map
    has drawn; the staff pages signed in as demo accounts."""
    import asyncio
    from contextlib import nullcontext
    from pathlib import Path

    try:
        from demo.screenshots import PAGES, Account, ShotPlan, serving, take_screenshots
    except ImportError as exc:  # Playwright is a development dependency
        raise click.ClickException(f"{exc}: install with `pip install -e '.[dev]'`") from exc
    from grid.user_admin import DEMO_PASSWORD

    password = password or DEMO_PASSWORD
    if base_url is None:
        from api.app import create_app

        server = serving(create_app(get_settings()))
    else:
        server = nullcontext(base_url.rstrip("/"))
    with server as url:
        click.echo(f"screenshots of {url} into {out_dir}", err=True)
        shots = asyncio.run(
            take_screenshots(
                ShotPlan(
                    base_url=url,
                    out_dir=Path(out_dir),
                    manager=Account(manager, password),
                    worker=Account(worker, password),
                    languages=("zh-Hans", "en") if lang == "both" else (lang,),
                    pages=pages or PAGES,
                    size=(width, height),
                    mobile_size=(mobile_width, mobile_height) if mobile_height else None,
                    tracking_number=tracking_number,
                    lossless=lossless,
                ),
                say=lambda line: click.echo(line, err=True),
            )
        )
    failed = [s for s in shots if s.problems]
    written = sum(s.png_bytes for s in shots)
    click.echo(
        f"{len(shots) - len(failed)} of {len(shots)} screenshots without problems, "
        f"{written / 1024:.0f} KiB written to {out_dir}"
    )
    if failed:
        raise click.ClickException(
            "problems with: " + ", ".join(f"{s.name} ({s.lang})" for s in failed)
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
