"""Extension requests: the assignee asks for a later resolve deadline, a manager over the
report grants or refuses it. A request runs in the caller's transaction (the staff write's
idempotent answer is stored with it); a decision commits itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, manager_over
from grid.models import Region
from grid.roles import Role
from incidents.handling.actions import locked_incident
from incidents.handling.notes_and_check_ins import assignee_only
from incidents.handling.work_lists import MAX_PAGE
from incidents.lifecycle import OPEN
from incidents.models.handling import ExtensionRequest
from incidents.models.reports import Incident
from incidents.timeline import notify, record_event
from incidents.versioning import next_version

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
    assignee_only(principal, row, "ask for more time")
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
    await record_event(
        session,
        row.id,
        "extension",
        principal.id,
        principal.role.value,
        now,
        note=reason,
        data={"step": "requested", "request_id": request.id, "until": until.isoformat()},
    )
    await notify(
        session,
        "incident.extension_requested",
        row.id,
        {
            "tracking_number": row.tracking_number,
            "request_id": request.id,
            "until": until.isoformat(),
        },
        now,
        managers_of=row.region_path,
        except_id=principal.id,
    )
    return _extension(request, row.tracking_number)


@commits
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
                text(f"""
            UPDATE incidents SET resolve_due_at = :until, {next_version()},
                                 updated_at = :now
            WHERE id = :id RETURNING version
        """),
                {"until": request.requested_until, "now": now, "id": row.id},
            )
        ).scalar_one()
    await record_event(
        session,
        row.id,
        "extension",
        principal.id,
        principal.role.value,
        now,
        note=note,
        data={
            "step": request.status,
            "request_id": request.id,
            "until": request.requested_until.isoformat(),
            "previous_due": row.resolve_due_at and row.resolve_due_at.isoformat(),
        },
    )
    await notify(
        session,
        f"incident.extension_{request.status}",
        row.id,
        {
            "tracking_number": row.tracking_number,
            "request_id": request.id,
            "until": request.requested_until.isoformat(),
        },
        now,
        recipients=[request.requested_by_id],
        except_id=principal.id,
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
