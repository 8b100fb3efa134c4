"""Admin views of security: the audit log (who read, changed, signed in, exported what)
and the ban list of networks and accounts."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import text

from api.abuse import audit_actor, client_ip
from api.deps import AdminPrincipal, SessionDep
from core import audit
from core.audit import ACTIONS, AuditQuery
from core.errors import InvalidInput, NotFound

router = APIRouter(prefix="/admin", tags=["admin"])

BIGINT = 2**63 - 1
# The widest network one ban may cover: a typo or a bad paste (0.0.0.0/0, ::/0) must not
# refuse the whole internet, every administrator included.
WIDEST_BAN_PREFIX = {4: 8, 6: 32}


@router.get("/audit")
async def search_audit_log(
    session: SessionDep,
    principal: AdminPrincipal,
    action: Annotated[str | None, Query(description=f"one of {', '.join(ACTIONS)}")] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    subject_type: Annotated[str | None, Query(max_length=32)] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before: Annotated[int | None, Query(ge=1, le=BIGINT, description="cursor: next_before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Audit entries, newest first, filtered; page with `before=<next_before>`."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(
            f"unknown action; expected one of {', '.join(ACTIONS)}",
            "未知的操作类型",
            field="action",
        )
    entries = await audit.search(
        session,
        AuditQuery(
            action=action,
            actor_id=actor_id,
            subject_type=subject_type,
            subject_id=subject_id,
            since=since,
            until=until,
            before=before,
            limit=limit,
        ),
    )
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return {"entries": entries, "next_before": next_before}


class BanIn(BaseModel):
    """A network (CIDR or one address) or an account to refuse, why, and until when."""

    network: str | None = Field(None, max_length=50, examples=["203.0.113.0/24"])
    user_id: int | None = Field(None, ge=1, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=500)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_target(self) -> BanIn:
        if (self.network is None) == (self.user_id is None):
            raise ValueError("give exactly one of network and user_id")
        if self.network is not None:
            try:
                self.network = str(ipaddress.ip_network(self.network, strict=False))
            except ValueError as exc:
                raise ValueError(f"network: {exc}") from None
        return self


_BAN_COLUMNS = "id, network::text AS network, user_id, reason, created_by, created_at, expires_at"


@router.get("/bans")
async def list_bans(session: SessionDep, principal: AdminPrincipal) -> dict[str, Any]:
    """Bans in force (no expiry, or expiring later)."""
    rows = await session.execute(
        text(
            f"SELECT {_BAN_COLUMNS} FROM access_bans "
            "WHERE expires_at IS NULL OR expires_at > now() ORDER BY id"
        )
    )
    return {"bans": [dict(r._mapping) for r in rows]}


@router.post("/bans", status_code=201)
async def add_ban(
    body: BanIn, request: Request, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Refuse a network or an account everywhere (in every worker within seconds)."""
    if body.user_id is not None and body.user_id == principal.id:
        raise InvalidInput(
            "an administrator cannot ban their own account", "不能限制自己的账号", field="user_id"
        )
    if body.network is not None:
        _refuse_sweeping_network(body.network, client_ip(request))
    if (
        body.user_id is not None
        and not (
            await session.execute(text("SELECT 1 FROM users WHERE id = :id"), {"id": body.user_id})
        ).first()
    ):
        raise InvalidInput(
            f"no account {body.user_id}", f"账号 {body.user_id} 不存在", field="user_id"
        )
    row = (
        await session.execute(
            text(
                "INSERT INTO access_bans (network, user_id, reason, created_by, expires_at) "
                "VALUES (CAST(:network AS cidr), :user_id, :reason, :by, :expires) "
                f"RETURNING {_BAN_COLUMNS}"
            ),
            {
                "network": body.network,
                "user_id": body.user_id,
                "reason": body.reason,
                "by": principal.id,
                "expires": body.expires_at,
            },
        )
    ).one()
    await audit.record(
        session,
        "ban",
        audit_actor(request, principal),
        "ban",
        row.id,
        network=body.network,
        user_id=body.user_id,
        reason=body.reason,
    )
    await session.commit()
    await request.app.state.bans.refresh(force=True)
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


@router.post("/bans/{ban_id}/lift")
async def lift_ban(
    ban_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
) -> dict[str, Any]:
    """End a ban now (the row stays, expired, as history)."""
    row = (
        await session.execute(
            text(
                "UPDATE access_bans SET expires_at = now() WHERE id = :id "
                "AND (expires_at IS NULL OR expires_at > now()) "
                f"RETURNING {_BAN_COLUMNS}"
            ),
            {"id": ban_id},
        )
    ).first()
    if row is None:
        raise NotFound(f"No ban {ban_id} in force", f"没有生效中的限制 {ban_id}")
    await audit.record(session, "ban", audit_actor(request, principal), "ban", ban_id, lifted=True)
    await session.commit()
    await request.app.state.bans.refresh(force=True)
    return dict(row._mapping)
