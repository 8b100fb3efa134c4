"""Admin views of security: the audit log (who read, changed, signed in, exported what)
and the ban list of networks and accounts."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api.abuse import audit_actor
from api.deps import AdminPrincipal, SessionDep
from core import audit, bans
from core.audit import ACTIONS, AuditQuery
from core.bans import bans_in_force
from core.errors import InvalidInput

router = APIRouter(prefix="/admin", tags=["admin"])

BIGINT = 2**63 - 1


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


@router.get("/bans")
async def list_bans(session: SessionDep, principal: AdminPrincipal) -> dict[str, Any]:
    """Bans in force (no expiry, or expiring later)."""
    return {"bans": await bans_in_force(session)}


@router.post("/bans", status_code=201)
async def add_ban(
    body: BanIn, request: Request, session: SessionDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Refuse a network or an account everywhere (in every worker within seconds)."""
    ban = await bans.add_ban(
        session,
        audit_actor(request, principal),
        network=body.network,
        user_id=body.user_id,
        reason=body.reason,
        expires_at=body.expires_at,
    )
    await request.app.state.bans.refresh(force=True)
    return ban


@router.post("/bans/{ban_id}/lift")
async def lift_ban(
    ban_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
) -> dict[str, Any]:
    """End a ban now (the row stays, expired, as history)."""
    ban = await bans.lift_ban(session, audit_actor(request, principal), ban_id)
    await request.app.state.bans.refresh(force=True)
    return ban
