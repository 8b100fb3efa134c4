"""Token endpoint and "who am I"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import select

from api.abuse import client_ip
from api.deps import CurrentPrincipal, SessionDep, SettingsDep
from api.tokens import create_access_token
from core.clock import local_date
from core.errors import NotAuthenticated
from core.rate_limits import LoginThrottle
from grid.access import assignment_valid_on
from grid.accounts import check_credentials, record_sign_in
from grid.models import CellAssignment, GridCell, Region
from grid.roles import Role

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    """A bearer token and its lifetime in seconds."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class RegionOut(BaseModel):
    """The region a staff account is bound to."""

    code: str
    name: str
    level: str


class MeOut(BaseModel):
    """The caller's own account."""

    id: int
    username: str
    display_name: str
    role: Role
    region: RegionOut | None
    cells: list[str]


@router.post("/token", response_model=TokenOut)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """Exchange username and password for a bearer token (OAuth2 password flow). The
    answer to a wrong password, an unknown or a disabled account is the same."""
    username = form.username.strip().lower()
    # Failures are counted per address and per name tried, whether or not the account
    # exists; an address over its limits is slowed down, other addresses are not.
    throttle = LoginThrottle(request.app.state.limiter)
    await throttle.refuse_if_over(username, client_ip(request))
    user = await check_credentials(session, username, form.password, client_ip(request))
    if user is None:
        await throttle.failed(username, client_ip(request))
        raise NotAuthenticated("Invalid username or password", "用户名或密码错误")
    await request.app.state.bans.refuse_account(user.id)
    await throttle.succeeded(username, client_ip(request))
    await record_sign_in(session, user, client_ip(request))
    return TokenOut(
        access_token=create_access_token(user.id, settings),
        expires_in=settings.token_ttl_minutes * 60,
    )


@router.get("/me", response_model=MeOut)
async def who_am_i(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """The current account, its region and (for grid workers) today's cells."""
    region = None
    if principal.region_id is not None:
        r = await session.get(Region, principal.region_id)
        region = RegionOut(code=r.code, name=r.name, level=r.level) if r else None
    cells: list[str] = []
    if principal.role is Role.GRID_WORKER:
        cells = list(
            (
                await session.execute(
                    select(GridCell.code)
                    .join(CellAssignment, CellAssignment.cell_id == GridCell.id)
                    .where(
                        CellAssignment.user_id == principal.id,
                        GridCell.in_force(),
                        *assignment_valid_on(local_date()),
                    )
                    .distinct()
                    .order_by(GridCell.code)
                )
            ).scalars()
        )
    return MeOut(
        id=principal.id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        region=region,
        cells=cells,
    )
