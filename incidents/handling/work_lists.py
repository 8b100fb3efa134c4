"""The worker's day and the manager's desk: work lists of reports, sorted by deadline and
paged by cursor, for each view a caller may open."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local_date
from core.errors import InvalidInput, PermissionDenied
from grid.access import Principal, assignment_valid_on
from grid.models import CellAssignment, GridCell, Region, User
from grid.roles import Role
from grid.sql_fragments import reach_params, region_within_reach
from incidents.handling.actions import actions_for
from incidents.handling.escalation import AWAITING_ACCEPTANCE
from incidents.lifecycle import OPEN
from incidents.models.reports import Category, Incident


class View(StrEnum):
    """Which list: my work, the area's unassigned queue, all open work in the area, or
    the reports that escalated."""

    MINE = "mine"
    QUEUE = "queue"
    AREA = "area"
    ESCALATED = "escalated"


MAX_PAGE = 200
_MANAGER_VIEWS = frozenset({View.QUEUE, View.ESCALATED})


@dataclass(frozen=True)
class ListFilter:
    """What a caller narrows a work list to; `statuses` empty = every open status."""

    statuses: tuple[str, ...] = ()
    category: str | None = None
    overdue: bool | None = None
    cell_code: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


# The deadline that binds now: while a report waits to be signed for, the earlier of its
# accept and resolve deadlines (a reassigned report gets a fresh accept window but keeps
# its resolve deadline); once accepted, the resolve deadline; none once it left the open
# states. A report is overdue exactly when this lies in the past, so sorting by it puts
# the overdue first, and the order does not shift as time passes.
_due = case(
    (
        Incident.status.in_(sorted(AWAITING_ACCEPTANCE)),
        func.least(Incident.accept_due_at, Incident.resolve_due_at),
    ),
    (Incident.status.in_(sorted(OPEN)), Incident.resolve_due_at),
    else_=None,
)
# Keyset order: reports without a deadline last, then by deadline, then by id.
_no_due = _due.is_(None)
_due_key = func.coalesce(_due, literal(datetime(1970, 1, 1, tzinfo=UTC)))


def _encode_cursor(no_due: bool, due: datetime | None, incident_id: int) -> str:
    raw = json.dumps([no_due, due.isoformat() if due else None, incident_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[bool, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        no_due, due, incident_id = json.loads(raw)
        when = datetime.fromisoformat(due) if due else datetime(1970, 1, 1, tzinfo=UTC)
        if not (isinstance(no_due, bool) and isinstance(incident_id, int)) or when.tzinfo is None:
            raise ValueError
        return no_due, when, incident_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "after is not a cursor this list gave out", "分页游标无效", field="after"
        ) from None


def _scope(principal: Principal, view: View, now: datetime) -> list[Any]:
    """Where clauses: what the view holds and what the caller may see."""
    clauses: list[Any] = []
    if view is View.MINE:
        clauses.append(Incident.assignee_id == principal.id)
    elif view is View.QUEUE:
        clauses.append(Incident.assignee_id.is_(None))
    elif view is View.ESCALATED:
        clauses.append(Incident.escalation_level > 0)
    if principal.is_admin or view is View.MINE:
        return clauses  # one's own work is always in sight
    if principal.role is Role.GRID_WORKER:
        cells = select(CellAssignment.cell_id).where(
            CellAssignment.user_id == principal.id, *assignment_valid_on(local_date(now))
        )
        clauses.append(or_(Incident.assignee_id == principal.id, Incident.cell_id.in_(cells)))
    else:
        # The regions within the manager's reach (none without a region); the incident side
        # then uses its region_id index.
        reach = text(region_within_reach("regions.path")).bindparams(**reach_params(principal))
        clauses.append(Incident.region_id.in_(select(Region.id).where(reach)))
    return clauses


def _filters(wanted: ListFilter, now: datetime) -> list[Any]:
    clauses: list[Any] = [Incident.status.in_(wanted.statuses or sorted(OPEN))]
    if wanted.category:
        clauses.append(Incident.category_code == wanted.category)
    if wanted.cell_code:
        clauses.append(GridCell.code == wanted.cell_code)
    if wanted.created_from:
        clauses.append(Incident.created_at >= wanted.created_from)
    if wanted.created_to:
        clauses.append(Incident.created_at < wanted.created_to)
    if wanted.overdue is True:
        clauses.append(_due < now)
    elif wanted.overdue is False:
        clauses.append(or_(_no_due, _due >= now))
    return clauses


def _list_row(principal: Principal, row: Any, now: datetime) -> dict[str, Any]:
    awaiting = row.status in AWAITING_ACCEPTANCE
    return {
        "tracking_number": row.tracking_number,
        "status": row.status,
        "version": row.version,
        "category": {
            "code": row.category_code,
            "label_zh": row.label_zh,
            "label_en": row.label_en,
            "tier": row.tier,
        },
        "cell_code": row.cell_code,
        "address": row.address,
        # The exact pin only for its assignee (their own map); others plan by address.
        "lon": row.lon if row.assignee_id == principal.id else None,
        "lat": row.lat if row.assignee_id == principal.id else None,
        "created_at": row.created_at.isoformat(),
        "accept_due_at": row.accept_due_at and row.accept_due_at.isoformat(),
        "resolve_due_at": row.resolve_due_at and row.resolve_due_at.isoformat(),
        "due_at": row.due_at and row.due_at.isoformat(),
        "accept_overdue": bool(awaiting and row.accept_due_at and row.accept_due_at < now),
        "resolve_overdue": bool(
            row.status in OPEN and row.resolve_due_at and row.resolve_due_at < now
        ),
        "overdue": bool(row.due_at and row.due_at < now),
        "escalation_level": row.escalation_level,
        "assignee": row.assignee,
        "allowed_actions": actions_for(principal, row),
    }


async def list_incidents(
    session: AsyncSession,
    principal: Principal,
    view: View,
    wanted: ListFilter,
    now: datetime,
    *,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of a work list, nearest deadline first (overdue ones lead), with the cursor
    of the next page. No reporter contact: lists are for planning, not for calling."""
    if view in _MANAGER_VIEWS and principal.role is Role.GRID_WORKER:
        raise PermissionDenied(
            f"the {view.value} list is for managers", "该列表仅供管理人员使用", field="view"
        )
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(
            Incident.id,
            Incident.tracking_number,
            Incident.status,
            Incident.version,
            Incident.category_code,
            Category.label_zh,
            Category.label_en,
            Category.tier,
            GridCell.code.label("cell_code"),
            Incident.address,
            func.ST_X(Incident.location).label("lon"),
            func.ST_Y(Incident.location).label("lat"),
            Incident.created_at,
            Incident.accept_due_at,
            Incident.resolve_due_at,
            Incident.escalation_level,
            Incident.assignee_id,
            User.username.label("assignee"),
            Region.path.label("region_path"),
            _due.label("due_at"),
            _no_due.label("no_due"),
        )
        .join(Category, Category.code == Incident.category_code)
        .outerjoin(GridCell, GridCell.id == Incident.cell_id)
        .outerjoin(Region, Region.id == Incident.region_id)
        .outerjoin(User, User.id == Incident.assignee_id)
        .where(*_scope(principal, view, now), *_filters(wanted, now))
        .order_by(_no_due, _due_key, Incident.id)
        .limit(limit + 1)
    )
    if after:
        query = query.where(
            tuple_(_no_due, _due_key, Incident.id)
            > tuple_(*(literal(v) for v in _decode_cursor(after)))
        )
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    return {
        "view": view.value,
        "items": [_list_row(principal, row, now) for row in page],
        "next": last and _encode_cursor(last.no_due, last.due_at, last.id),
    }
