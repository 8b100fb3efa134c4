"""`gridgov notify run`: the outbox workers delivering notifications."""

from __future__ import annotations

import click

from cli.running import timed_progress
from core.settings import get_settings


@click.group()
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
            progress=timed_progress(),
        )
    finally:
        engine.dispose()
    hooks = totals.webhooks
    click.echo(
        f"notify: {totals.messages} message(s) delivered, {totals.inbox_items} "
        f"inbox item(s); webhooks: {hooks.delivered} delivered, {hooks.retrying} to "
        f"retry, {hooks.failed} given up"
    )
