"""`gridgov user create`: accounts."""

from __future__ import annotations

import click

from cli.running import bulk_transaction


@click.group()
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
