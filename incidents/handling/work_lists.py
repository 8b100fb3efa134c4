"""The worker's day and the manager's desk around the state machine: work lists sorted by
deadline, notes, on-site check-ins, extension requests and their decisions, and bulk
assignment. Every write runs in the caller's transaction."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, false, func, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local_date
from core.errors import Conflict, GridgovError, InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, assignment_valid_on
from grid.models import CellAssignment, GridCell, Region, User
from grid.roles import Role
from incidents.handling.actions import (
    ActionRequest,
    actions_for,
    assignee_id_for,
    locked_incident,
    manager_over,
    take_action,
)
from incidents.handling.escalation import AWAITING_ACCEPTANCE
from incidents.intake.evidence import photo_rows
from incidents.intake.filing import IntakeContext
from incidents.intake.photos import Photo
from incidents.lifecycle import OPEN
from incidents.models.handling import ExtensionRequest
from incidents.models.reports import Category, Incident

# --- work lists -------------------------------------------------------------------------


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
    elif principal.region_path:
        # The regions below the manager's, by path prefix; the incident side then uses its
        # region_id index.
        area = select(Region.id).where(
            Region.path.startswith(principal.region_path, autoescape=True)
        )
        clauses.append(Incident.region_id.in_(area))
    else:
        clauses.append(false())
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


# --- events and notifications -----------------------------------------------------------

_EVENT = text("""
    INSERT INTO incident_events (incident_id, kind, actor_id, actor_role, note, public,
                                 data, at)
    VALUES (:id, :kind, :actor_id, :role, :note, :public, CAST(:data AS jsonb), :now)
    RETURNING id
""")

# The managers whose area holds a region (by its path), as notification recipients.
_NOTIFY = text("""
    INSERT INTO outbox (topic, incident_id, recipient_ids, payload, created_at)
    SELECT :topic, :id, ARRAY(
        SELECT DISTINCT x FROM unnest(
            CAST(:recipients AS integer[])
            || CASE WHEN CAST(:managers_of AS text) IS NULL THEN '{}'::int[] ELSE ARRAY(
                   SELECT u.id FROM users u JOIN regions r ON r.id = u.region_id
                   WHERE u.is_active AND u.role IN
                       ('community_manager', 'street_manager', 'district_manager')
                     AND CAST(:managers_of AS text) LIKE r.path || '%') END) AS x
        WHERE x IS NOT NULL AND x <> :actor_id),
        CAST(:payload AS jsonb), :now
""")


async def _event(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    principal: Principal,
    now: datetime,
    *,
    note: str | None = None,
    public: bool = False,
    data: dict[str, Any] | None = None,
) -> int:
    return (
        await session.execute(
            _EVENT,
            {
                "id": incident_id,
                "kind": kind,
                "actor_id": principal.id,
                "role": principal.role.value,
                "note": note,
                "public": public,
                "data": json.dumps(data or {}, ensure_ascii=False),
                "now": now,
            },
        )
    ).scalar_one()


async def _notify(
    session: AsyncSession,
    topic: str,
    incident_id: int,
    principal: Principal,
    now: datetime,
    payload: dict[str, Any],
    *,
    recipients: list[int | None] | None = None,
    managers_of: str | None = None,
) -> None:
    await session.execute(
        _NOTIFY,
        {
            "topic": topic,
            "id": incident_id,
            "actor_id": principal.id,
            "now": now,
            "recipients": [r for r in recipients or [] if r is not None],
            "managers_of": managers_of,
            "payload": json.dumps(payload, ensure_ascii=False),
        },
    )


def _assignee_or_manager(principal: Principal, row: Any, what: str) -> None:
    if principal.id != row.assignee_id and not manager_over(principal, row.region_path):
        raise PermissionDenied(
            f"only the assignee or a manager over it may {what}",
            "只有处理人或辖区管理人员可以执行此操作",
        )


def _assignee_only(principal: Principal, row: Any, what: str) -> None:
    if principal.id != row.assignee_id:
        raise PermissionDenied(
            f"only the report's assignee may {what}", "只有该上报的处理人可以执行此操作"
        )


# --- notes --------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    note: str,
    now: datetime,
    *,
    public: bool = False,
    photos: list[Photo] | None = None,
) -> dict[str, Any]:
    """A note (with photos) on the timeline, changing nothing else. Staff-only unless a
    manager publishes it; a manager's note reaches the assignee's inbox."""
    row = await locked_incident(session, principal, tracking_number, now)
    _assignee_or_manager(principal, row, "add notes")
    if public and not manager_over(principal, row.region_path):
        raise PermissionDenied(
            "only managers publish notes", "只有管理人员可以公开备注", field="public"
        )
    event_id = await _event(
        session,
        row.id,
        "note",
        principal,
        now,
        note=note,
        public=public,
        data={"photos": len(photos or [])},
    )
    if photos:
        session.add_all(photo_rows(row.id, photos, event_id))
        await session.flush()
    if principal.id != row.assignee_id:
        await _notify(
            session,
            "incident.note",
            row.id,
            principal,
            now,
            {"tracking_number": row.tracking_number},
            recipients=[row.assignee_id, row.reporter_id if public else None],
        )
    return {
        "tracking_number": row.tracking_number,
        "kind": "note",
        "public": public,
        "photos": len(photos or []),
        "at": now.isoformat(),
    }


# --- on-site check-in ---------------------------------------------------------------------

# Distance on the spheroid between the report's pin and where the worker stands.
_CHECK_IN = text("""
    WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    measured AS (
        SELECT ST_Distance(i.location::geography, here.g::geography) AS distance_m, here.g
        FROM incidents i, here WHERE i.id = :id)
    INSERT INTO check_ins (incident_id, user_id, location, distance_m, on_site, at)
    SELECT :id, :user_id, g, distance_m, distance_m <= :radius, :now FROM measured
    RETURNING id, distance_m, on_site
""")

CHECK_IN_STATUSES = frozenset({"assigned", "accepted", "in_progress", "reopened"})


async def check_in(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    lon: float,
    lat: float,
    radius_m: float,
    now: datetime,
) -> dict[str, Any]:
    """Record where the assignee stands (WGS84) and whether that is on site (within
    `radius_m` of the pin). An off-site attempt is recorded too: it is evidence."""
    row = await locked_incident(session, principal, tracking_number, now)
    _assignee_only(principal, row, "check in")
    if row.status not in CHECK_IN_STATUSES:
        raise Conflict(
            f"cannot check in at a report that is {row.status}", f"当前状态（{row.status}）不能签到"
        )
    found = (
        await session.execute(
            _CHECK_IN,
            {
                "id": row.id,
                "user_id": principal.id,
                "lon": lon,
                "lat": lat,
                "radius": radius_m,
                "now": now,
            },
        )
    ).one()
    distance = round(float(found.distance_m), 1)
    await _event(
        session,
        row.id,
        "check_in",
        principal,
        now,
        data={"check_in_id": found.id, "distance_m": distance, "on_site": found.on_site},
    )
    return {
        "tracking_number": row.tracking_number,
        "distance_m": distance,
        "on_site": found.on_site,
        "radius_m": radius_m,
        "at": now.isoformat(),
    }


# --- extensions ----------------------------------------------------------------------------

MAX_EXTENSION = timedelta(days=30)


def _extension(request: ExtensionRequest | Any, number: str) -> dict[str, Any]:
    return {
        "id": request.id,
        "tracking_number": number,
        "status": request.status,
        "requested_until": request.requested_until.isoformat(),
        "reason": request.reason,
        "decision_note": request.decision_note,
        "decided_at": request.decided_at and request.decided_at.isoformat(),
    }


async def request_extension(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    until: datetime,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """The assignee asks for a later resolve deadline; one request pending at a time. The
    new deadline must be later than the current one (and the present) and at most
    MAX_EXTENSION beyond it."""
    row = await locked_incident(session, principal, tracking_number, now)
    _assignee_only(principal, row, "ask for more time")
    if row.status not in OPEN:
        raise Conflict(
            f"cannot extend a report that is {row.status}", f"当前状态（{row.status}）不能申请延期"
        )
    current = row.resolve_due_at or now
    if until <= max(current, now):
        raise InvalidInput(
            "until must be after the current deadline",
            "延期时间必须晚于当前办结时限",
            field="until",
        )
    if until > current + MAX_EXTENSION:
        raise InvalidInput(
            f"until may be at most {MAX_EXTENSION.days} days after the current deadline",
            f"延期不得超过 {MAX_EXTENSION.days} 天",
            field="until",
        )
    # The row lock serialises requests on this report, so this check cannot race (the
    # partial unique index stands behind it).
    pending = (
        await session.execute(
            select(ExtensionRequest.id).where(
                ExtensionRequest.incident_id == row.id, ExtensionRequest.status == "pending"
            )
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"extension request {pending.id} is still waiting for a decision",
            "已有待审批的延期申请",
        )
    request = ExtensionRequest(
        incident_id=row.id,
        requested_by_id=principal.id,
        reason=reason,
        requested_until=until,
        status="pending",
        created_at=now,
    )
    session.add(request)
    await session.flush()
    await _event(
        session,
        row.id,
        "extension",
        principal,
        now,
        note=reason,
        data={"step": "requested", "request_id": request.id, "until": until.isoformat()},
    )
    await _notify(
        session,
        "incident.extension_requested",
        row.id,
        principal,
        now,
        {
            "tracking_number": row.tracking_number,
            "request_id": request.id,
            "until": until.isoformat(),
        },
        managers_of=row.region_path,
    )
    return _extension(request, row.tracking_number)


async def decide_extension(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    grant: bool,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A manager over the report (not the requester) grants or refuses a pending request;
    granting moves the resolve deadline. A refusal says why."""
    number = (
        await session.execute(
            select(Incident.tracking_number)
            .join(ExtensionRequest, ExtensionRequest.incident_id == Incident.id)
            .where(ExtensionRequest.id == request_id)
        )
    ).scalar()
    missing = NotFound(
        f"no extension request {request_id} in your area",
        f"您的辖区内没有编号为 {request_id} 的延期申请",
    )
    if number is None:
        raise missing
    try:
        # Report first, then the request: the order request_extension takes them in.
        row = await locked_incident(session, principal, number, now)
    except NotFound:
        raise missing from None
    if not manager_over(principal, row.region_path):
        raise PermissionDenied(
            "only a manager over the report decides extensions", "只有辖区管理人员可以审批延期"
        )
    request = (
        await session.execute(
            select(ExtensionRequest).where(ExtensionRequest.id == request_id).with_for_update()
        )
    ).scalar_one()
    if request.requested_by_id == principal.id:
        raise PermissionDenied(
            "you may not decide your own extension request", "不能审批自己的延期申请"
        )
    if request.status != "pending":
        raise Conflict(f"the request was already {request.status}", "该延期申请已审批")
    if not grant and not (note and note.strip()):
        raise InvalidInput("a refusal needs a note saying why", "不予延期请说明理由", field="note")
    if grant and row.status not in OPEN:
        raise Conflict(
            f"cannot extend a report that is {row.status}", f"当前状态（{row.status}）不能延期"
        )
    request.status = "granted" if grant else "refused"
    request.decided_by_id = principal.id
    request.decision_note = note
    request.decided_at = now
    version = row.version
    if grant:
        version = (
            await session.execute(
                text("""
            UPDATE incidents SET resolve_due_at = :until, version = version + 1,
                                 updated_at = :now
            WHERE id = :id RETURNING version
        """),
                {"until": request.requested_until, "now": now, "id": row.id},
            )
        ).scalar_one()
    await _event(
        session,
        row.id,
        "extension",
        principal,
        now,
        note=note,
        data={
            "step": request.status,
            "request_id": request.id,
            "until": request.requested_until.isoformat(),
            "previous_due": row.resolve_due_at and row.resolve_due_at.isoformat(),
        },
    )
    await _notify(
        session,
        f"incident.extension_{request.status}",
        row.id,
        principal,
        now,
        {
            "tracking_number": row.tracking_number,
            "request_id": request.id,
            "until": request.requested_until.isoformat(),
        },
        recipients=[request.requested_by_id],
    )
    await session.flush()
    return _extension(request, row.tracking_number) | {"version": version}


async def extension_requests(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    pending_only: bool = True,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Extension requests a caller deals with: a worker's own, or those on reports in a
    manager's area; oldest first."""
    query = (
        select(ExtensionRequest, Incident.tracking_number, Region.path)
        .join(Incident, Incident.id == ExtensionRequest.incident_id)
        .outerjoin(Region, Region.id == Incident.region_id)
        .order_by(ExtensionRequest.id)
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    if pending_only:
        query = query.where(ExtensionRequest.status == "pending")
    if principal.role is Role.GRID_WORKER:
        query = query.where(ExtensionRequest.requested_by_id == principal.id)
    elif not principal.is_admin:
        query = query.where(
            Region.path.startswith(principal.region_path, autoescape=True)
            if principal.region_path
            else false()
        )
    rows = (await session.execute(query)).all()
    return [_extension(request, number) for request, number, _path in rows]


# --- bulk assignment ----------------------------------------------------------------------

MAX_BULK = 200


@dataclass
class BulkOutcome:
    """Per report, in the order given: the result, or why it was refused. Any refusal
    means nothing may be kept (the caller rolls back)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[int, str, GridgovError]] = field(default_factory=list)


async def bulk_assign(
    session: AsyncSession,
    ctx: IntakeContext,
    principal: Principal,
    numbers: list[str],
    assignee: str,
    now: datetime,
    versions: dict[str, int] | None = None,
) -> BulkOutcome:
    """Assign many reports to one worker, each through `take_action` (the same rules as
    one assign). The rows are locked in id order first, so two bulk assignments over
    overlapping reports wait for each other instead of deadlocking. Without a version
    for a report, the one just locked is used."""
    if not numbers:
        raise InvalidInput(
            "give at least one tracking number", "请至少选择一条上报", field="tracking_numbers"
        )
    if len(numbers) > MAX_BULK:
        raise InvalidInput(
            f"at most {MAX_BULK} reports at once",
            f"一次最多指派 {MAX_BULK} 条",
            field="tracking_numbers",
        )
    if len(set(numbers)) != len(numbers):
        raise InvalidInput(
            "a tracking number is listed twice", "上报编号重复", field="tracking_numbers"
        )
    versions = versions or {}
    stray = sorted(set(versions) - set(numbers))
    if stray:
        raise InvalidInput(
            f"versions given for reports not listed: {', '.join(stray)}",
            "版本号对应的上报不在列表中",
            field="versions",
        )
    await assignee_id_for(session, principal, assignee)  # one clear error, not 200
    locked = (
        await session.execute(
            text("""
        SELECT tracking_number, version FROM incidents
        WHERE tracking_number = ANY(:numbers) ORDER BY id FOR UPDATE
    """),
            {"numbers": numbers},
        )
    ).all()
    current = {row.tracking_number: row.version for row in locked}
    outcome = BulkOutcome()
    by_number: dict[str, dict[str, Any]] = {}
    # In lock order; the ones that do not exist come last and fail as not found.
    for number in [row.tracking_number for row in locked] + [
        n for n in numbers if n not in current
    ]:
        request = ActionRequest(
            "assign", assignee=assignee, version=versions.get(number, current.get(number, 1))
        )
        try:
            by_number[number] = await take_action(session, ctx, principal, number, request, now)
        except GridgovError as error:
            outcome.failures.append((numbers.index(number), number, error))
    outcome.failures.sort()
    outcome.results = [by_number[n] for n in numbers if n in by_number]
    return outcome
