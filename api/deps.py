"""Dependencies routes share: settings, a database session, report intake, the current
principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from api.tokens import user_id_from_token
from core.errors import NotAuthenticated, PermissionDenied
from core.settings import Settings
from grid.access import Principal, load_principal
from grid.roles import MANAGER_ROLES, STAFF_ROLES, Role
from incidents.intake.filing import IntakeContext

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with (async: a plain def would cost every request a
    trip through the thread pool)."""
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed afterwards (services own their transactions)."""
    async with request.app.state.sessions() as session:
        yield session


async def get_intake(request: Request) -> IntakeContext:
    """The app's one intake context (calendar, deadline tiers, keys, category cache),
    made when the app is built."""
    return request.app.state.intake


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
IntakeDep = Annotated[IntakeContext, Depends(get_intake)]

# Runs sync bulk work (imports, activation) in one transaction off the event loop.
BulkRunner = Callable[[Callable[[Connection], Any]], Awaitable[Any]]


def get_bulk_runner(request: Request) -> BulkRunner:
    """Bulk work on the app's psycopg2 engine: committed on success, rolled back on any
    failure, run in a worker thread so requests keep being served."""
    engine = request.app.state.bulk_engine()

    async def run(work: Callable[[Connection], Any]) -> Any:
        def in_transaction() -> Any:
            with engine.begin() as conn:
                return work(conn)

        return await run_in_threadpool(in_transaction)

    return run


BulkDep = Annotated[BulkRunner, Depends(get_bulk_runner)]


async def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str | None = Depends(oauth2_scheme),
) -> Principal:
    """The account behind the bearer token; 401 when missing, invalid or unknown, 403
    when the account is on the ban list."""
    if not token:
        raise NotAuthenticated()
    principal = await load_principal(session, user_id_from_token(token, settings))
    if principal is None:
        raise NotAuthenticated("The account does not exist or is disabled", "账号不存在或已停用")
    await request.app.state.bans.refuse_account(principal.id)
    return principal


async def get_optional_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str | None = Depends(oauth2_scheme),
) -> Principal | None:
    """For public routes that show staff more: None for anonymous or bad credentials."""
    if not token:
        return None
    try:
        return await get_principal(request, session, settings, token)
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


# The role gates routes use: 403 for anyone else (401 without credentials).
StaffPrincipal = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
ManagerPrincipal = Annotated[Principal, Depends(require_roles(*MANAGER_ROLES))]
AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
WorkerPrincipal = Annotated[Principal, Depends(require_roles(Role.GRID_WORKER))]
