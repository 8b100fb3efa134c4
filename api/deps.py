"""Dependencies routes share: settings, a database session, the current principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import user_id_from_token
from gis.errors import NotAuthenticated, PermissionDenied
from gis.settings import Settings
from grid.access import Principal, load_principal
from grid.roles import Role

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed afterwards (services own their transactions)."""
    async with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    session: SessionDep, settings: SettingsDep, token: str | None = Depends(oauth2_scheme)
) -> Principal:
    """The account behind the bearer token; 401 when missing, invalid or unknown."""
    if not token:
        raise NotAuthenticated()
    principal = await load_principal(session, user_id_from_token(token, settings))
    if principal is None:
        raise NotAuthenticated("The account does not exist or is disabled", "账号不存在或已停用")
    return principal


async def get_optional_principal(
    session: SessionDep, settings: SettingsDep, token: str | None = Depends(oauth2_scheme)
) -> Principal | None:
    """For public routes that show staff more: None for anonymous or bad credentials."""
    try:
        return await get_principal(session, settings, token)
    except NotAuthenticated:
        return None


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only the given roles (403 for the others)."""
    allowed = frozenset(roles)

    async def _check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise PermissionDenied()
        return principal

    return _check
