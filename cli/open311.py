"""`gridgov open311 key ...`: API keys of trusted Open311 clients."""

from __future__ import annotations

import click

from cli.running import bulk_transaction


@click.group()
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
