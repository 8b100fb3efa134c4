"""The `gridgov` root command, gathering every command group."""

from __future__ import annotations

import sys

import click

from cli import (
    cells,
    db,
    demo,
    escalation,
    export,
    hotline,
    imports,
    notify,
    open311,
    ratings,
    retention,
    screenshots,
    serve,
    users,
)


@click.group()
def main() -> None:
    """gridgov: 网格化社会治理 GIS 平台 / grid-based social-governance GIS platform."""


for command in (
    db.db,
    demo.demo,
    users.user,
    imports.import_,
    export.export,
    cells.cells,
    escalation.escalate_cmd,
    ratings.ratings,
    retention.retention,
    notify.notify,
    open311.open311,
    hotline.hotline,
    serve.serve,
    screenshots.screenshots_cmd,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
