"""`gridgov cells draft|check|activate`: boundary versions of grid cells."""

from __future__ import annotations

import click

from cli.running import bulk_transaction


@click.group()
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
@click.option("--commit", is_flag=True, help="Apply; without it this is a dry run.")
def cells_activate(version_id: int, commit: bool) -> None:
    """Put a draft version in force; buildings, assignments and open incidents move to
    the new cells. A dry run (everything done, counted, then rolled back) unless --commit."""
    from grid.versions import activate_version
    from incidents.handling.relinking import ACTIVATION_FOLLOWERS

    # A failure leaves nothing behind. The dry run does the real work in a savepoint, so
    # its counts are exactly what --commit would change, and undoes it.
    with bulk_transaction() as conn, conn.begin_nested() as trial:
        result = activate_version(conn, version_id, ACTIVATION_FOLLOWERS)
        if not commit:
            trial.rollback()
    moved = (
        f"{result.cells_activated} cells in force, {result.cells_retired} retired, "
        f"{result.assignments_moved} assignments moved, {result.buildings_relinked} "
        f"buildings relinked, {result.followers_moved.get('incidents', 0)} open incidents moved"
    )
    if commit:
        click.echo(f"version {version_id} active: {moved}")
    else:
        click.echo(f"dry run, nothing changed: activating version {version_id} would put {moved}")
        click.echo(f"apply with `gridgov cells activate {version_id} --commit`")


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
        f"`gridgov cells activate {draft.version_id}` (a dry run; --commit applies)"
    )
