"""`gridgov screenshots`: photograph every page for the README."""

from __future__ import annotations

import click

from core.settings import get_settings


@click.command("screenshots")
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
