"""`gridgov import ...`: register data and the base map from GIS files."""

from __future__ import annotations

import click

from cli.running import bulk_transaction, timed_progress
from core.settings import get_settings


@click.group("import")
def import_() -> None:
    """Import register data from GIS files (GeoPackage, Shapefile, GeoJSON, CSV)."""


def finish_import(report, report_path: str | None) -> None:
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


def _footprint_file_options(command):
    """The options every vector-file import shares: the file, its field mapping, layer,
    encoding, a CSV's CRS, a dry run and the full report."""
    decorators = [
        click.argument("path", type=click.Path(exists=True, dir_okay=False)),
        click.option(
            "--mapping",
            type=click.Path(exists=True, dir_okay=False),
            help="TOML field mapping ([fields] and [values.<field>]).",
        ),
        click.option("--layer", help="Layer name in a multi-layer file (GeoPackage)."),
        click.option("--encoding", help="Text encoding when the file has no .cpg (e.g. GBK)."),
        click.option("--crs", "csv_crs", help="CRS of a CSV's coordinates (e.g. EPSG:4547)."),
        click.option("--dry-run", is_flag=True, help="Check and report, write nothing."),
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False),
            help="Write the full report (.json, or .csv of row issues).",
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def _import_footprint_file(importer, path, mapping, layer, encoding, csv_crs, dry_run, report_path):
    """Run one vector-file import in one transaction (a failure leaves nothing behind),
    then show its report; returns the report."""
    from pathlib import Path

    from grid.importing.reading import FieldMapping

    progress = timed_progress()
    with bulk_transaction() as conn:
        report = importer(
            conn,
            Path(path),
            mapping=FieldMapping.load(mapping and Path(mapping)),
            layer=layer,
            encoding=encoding,
            csv_crs=csv_crs,
            dry_run=dry_run,
            progress=progress,
        )
    finish_import(report, report_path)
    return report


@import_.command("buildings")
@_footprint_file_options
def import_buildings_cmd(path, mapping, layer, encoding, csv_crs, dry_run, report_path) -> None:
    """Import building footprints: upsert by external id, link to cells, report rows."""
    from grid.importing.buildings import import_buildings

    _import_footprint_file(
        import_buildings, path, mapping, layer, encoding, csv_crs, dry_run, report_path
    )


@import_.command("assets")
@_footprint_file_options
def import_assets_cmd(path, mapping, layer, encoding, csv_crs, dry_run, report_path) -> None:
    """Import city assets (部件: hydrants, cabinets, chargers, manhole covers, street
    lights) with their 16-digit codes: upsert by code, link to cells; any rejected row
    and nothing is written."""
    from grid.importing.assets import import_assets

    report = _import_footprint_file(
        import_assets, path, mapping, layer, encoding, csv_crs, dry_run, report_path
    )
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

    progress = timed_progress()
    with bulk_transaction() as conn:  # a failure leaves nothing behind
        report = import_basemap(
            conn, Path(path), mapping=mapping and Path(mapping), commit=commit, progress=progress
        )
    finish_import(report, report_path)
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

    progress = timed_progress()
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
    finish_import(report, report_path)


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

    progress = timed_progress()
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
    finish_import(report, report_path)


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
            progress=timed_progress(),
        )
    for issue in report.rejected:
        click.echo(f"  rejected row {issue.row}: {issue.field}: {issue.reason}")
    click.echo(report.summary())
    if version_id is not None:
        click.echo(
            f"draft version {version_id}: `gridgov cells check {version_id}`, then "
            f"`gridgov cells activate {version_id}` (a dry run; --commit applies)"
        )
