"""Access bans: networks and accounts refused everywhere. Adding and lifting one are
audited use cases, each committed; each process's BanList (core.rate_limits) reads them."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.audit import Actor
from core.database import commits
from core.errors import InvalidInput, NotFound

# The widest network one ban may cover: a typo or a bad paste (0.0.0.0/0, ::/0) must not
# refuse the whole internet, every administrator included.
WIDEST_BAN_PREFIX = {4: 8, 6: 32}

_COLUMNS = "id, network::text AS network, user_id, reason, created_by, created_at, expires_at"

_IN_FORCE = text(
    f"SELECT {_COLUMNS} FROM access_bans WHERE expires_at IS NULL OR expires_at > now() ORDER BY id"
)
_ADD = text(
    "INSERT INTO access_bans (network, user_id, reason, created_by, expires_at) "
    "VALUES (CAST(:network AS cidr), :user_id, :reason, :by, :expires) "
    f"RETURNING {_COLUMNS}"
)
_LIFT = text(
    "UPDATE access_bans SET expires_at = now() WHERE id = :id "
    "AND (expires_at IS NULL OR expires_at > now()) "
    f"RETURNING {_COLUMNS}"
)


async def bans_in_force(session: AsyncSession) -> list[dict[str, Any]]:
    """Bans with no expiry or expiring later, oldest first."""
    return [dict(r._mapping) for r in await session.execute(_IN_FORCE)]


@commits
async def add_ban(
    session: AsyncSession,
    actor: Actor,
    *,
    network: str | None,
    user_id: int | None,
    reason: str,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """Refuse a network or an account (exactly one), audited and committed; never the
    administrator's own account or address, nor a network wider than WIDEST_BAN_PREFIX."""
    if user_id is not None and user_id == actor.id:
        raise InvalidInput(
            "an administrator cannot ban their own account", "不能限制自己的账号", field="user_id"
        )
    if network is not None:
        _refuse_sweeping_network(network, actor.ip)
    if (
        user_id is not None
        and not (
            await session.execute(text("SELECT 1 FROM users WHERE id = :id"), {"id": user_id})
        ).first()
    ):
        raise InvalidInput(f"no account {user_id}", f"账号 {user_id} 不存在", field="user_id")
    params = {
        "network": network,
        "user_id": user_id,
        "reason": reason,
        "by": actor.id,
        "expires": expires_at,
    }
    row = (await session.execute(_ADD, params)).one()
    await audit.record(
        session, "ban", actor, "ban", row.id, network=network, user_id=user_id, reason=reason
    )
    return dict(row._mapping)


def _refuse_sweeping_network(network: str, caller_ip: str | None) -> None:
    """Refuse a ban wider than WIDEST_BAN_PREFIX, or one covering the caller's own address
    (an administrator locking themselves, and likely every colleague, out)."""
    net = ipaddress.ip_network(network, strict=False)
    widest = WIDEST_BAN_PREFIX[net.version]
    if net.prefixlen < widest:
        raise InvalidInput(
            f"the network {net} is wider than /{widest}; ban smaller networks",
            f"网络 {net} 范围超过 /{widest}，请限制更小的网段",
            field="network",
        )
    try:
        caller = ipaddress.ip_address(caller_ip) if caller_ip else None
    except ValueError:
        caller = None
    if caller is not None and getattr(caller, "ipv4_mapped", None):
        caller = caller.ipv4_mapped
    if caller is not None and caller.version == net.version and caller in net:
        raise InvalidInput(
            f"the network {net} includes your own address ({caller}); it would lock you out",
            f"网络 {net} 包含您自己的地址（{caller}），会导致您无法访问",
            field="network",
        )


@commits
async def lift_ban(session: AsyncSession, actor: Actor, ban_id: int) -> dict[str, Any]:
    """End a ban now, audited and committed (the row stays, expired, as history)."""
    row = (await session.execute(_LIFT, {"id": ban_id})).first()
    if row is None:
        raise NotFound(f"No ban {ban_id} in force", f"没有生效中的限制 {ban_id}")
    await audit.record(session, "ban", actor, "ban", ban_id, lifted=True)
    return dict(row._mapping)
