"""`gridgov serve`: run the HTTP service."""

from __future__ import annotations

import click

from core.settings import get_settings


@click.command()
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
