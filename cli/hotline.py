"""`gridgov hotline import|export`: the 12345 hotline's work orders."""

from __future__ import annotations

import click

from cli.imports import finish_import
from cli.running import in_async_transaction, timed_progress
from core.settings import get_settings


@click.group()
def hotline() -> None:
    """12345 hotline work orders (工单): file new orders, export their results."""


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
    from interop.hotline.orders_in import import_hotline_orders

    settings = get_settings()
    progress = timed_progress()

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

    report = in_async_transaction(work)
    for issue in report.changed[:20]:
        click.echo(f"  changed row {issue.row} ({issue.external_id}): {issue.reason}")
    finish_import(report, report_path)


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

    export = in_async_transaction(work)
    verb = "listed (not marked)" if dry_run else "exported"
    click.echo(f"hotline: {len(export.orders)} orders {verb}", err=True)
