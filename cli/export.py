"""`gridgov export map`: a self-contained HTML map of an area for analysts and meetings."""

from __future__ import annotations

import click

from cli.running import in_async_transaction


@click.group()
def export() -> None:
    """Export files for analysts and meetings (public-safe data only)."""


@export.command("map")
@click.option("--region", "region_code", required=True, help="Code of the area shown.")
@click.option(
    "--layer",
    type=click.Choice(["coverage", "incidents"]),
    default="coverage",
    show_default=True,
    help="coverage: the cells in force with their counts; incidents: open hazards at "
    "their public place.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The .html file written.",
)
def export_map(region_code: str, layer: str, out_path: str) -> None:
    """Write one HTML file (folium/Leaflet, everything inlined: it opens offline) mapping
    an area's cells and their counts, or its open hazards as the public map shows them."""
    from datetime import UTC, datetime
    from pathlib import Path

    from maps.offline_map import area_map

    async def work(session):
        return await area_map(session, region_code, layer, datetime.now(UTC))

    try:
        html, shown = in_async_transaction(work)
    except FileNotFoundError as exc:  # Leaflet's files are installed by scripts/setup
        raise click.ClickException(str(exc)) from exc
    Path(out_path).write_text(html, encoding="utf-8")
    click.echo(f"{shown} {layer} feature(s) of region {region_code} mapped in {out_path}")
