"""Taking an action on an incident: checked against the state machine, the actor's role
and area, and the version the caller saw; recorded as an event with a notification, all
in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local_date
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, manager_over, region_in_reach, worker_assigned_to_cell
from grid.roles import Role
from incidents.handling.workdays import deadline
from incidents.intake.evidence import photo_rows
from incidents.intake.filing import IntakeContext
from incidents.intake.photos import Photo
from incidents.lifecycle import ACTIONS, OPEN, Action, Actor, allowed_actions
from incidents.status import Status
from incidents.timeline import notify, record_event
from incidents.versioning import next_version, require_version


@dataclass(frozen=True)
class ActionRequest:
    """What the caller asks: the action, and what it may need."""

    action: str
    note: str | None = None
    assignee: str | None = None  # username
    duplicate_of: str | None = None  # tracking number
    version: int | None = None
    # A manager re-routing a report filed under the wrong category (with assign only).
    category: str | None = None


_HEAD = """
    SELECT i.id, i.tracking_number, i.status, i.version, i.assignee_id, i.handler_id,
           i.reporter_id, i.cell_id, i.region_id, r.path AS region_path, k.tier,
           i.resolve_due_at
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE i.tracking_number = :t
"""
_READ = text(_HEAD)
_LOCK = text(_HEAD + "    FOR UPDATE OF i\n")


def not_found(number: str) -> NotFound:
    return NotFound(f"no report {number} in your area", f"您的辖区内没有编号为 {number} 的上报")


async def can_see(session: AsyncSession, principal: Principal, row: Any, now: datetime) -> bool:
    """Staff see an incident when it is theirs, in a cell they work, or in their area."""
    if principal.is_admin or principal.id == row.assignee_id:
        return True
    if principal.role is Role.GRID_WORKER:
        return row.cell_id is not None and await worker_assigned_to_cell(
            session, principal.id, row.cell_id, local_date(now)
        )
    return row.region_path is not None and region_in_reach(principal, row.region_path)


async def visible_incident(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    now: datetime,
    *,
    lock: bool = False,
) -> Any:
    """The incident's row (locked until the transaction ends when `lock`); 404 when
    absent or out of the caller's sight (existence is not revealed)."""
    row = (await session.execute(_LOCK if lock else _READ, {"t": tracking_number})).first()
    if row is None or not await can_see(session, principal, row, now):
        raise not_found(tracking_number)
    return row


async def locked_incident(
    session: AsyncSession, principal: Principal, tracking_number: str, now: datetime
) -> Any:
    """The incident's row, locked until the transaction ends; 404 as for
    `visible_incident`."""
    return await visible_incident(session, principal, tracking_number, now, lock=True)


def actions_for(principal: Principal, row: Any) -> list[str]:
    """The actions this caller may take on the report now (state and role both allow)."""
    return [name for name in allowed_actions(row.status) if _may_act(principal, ACTIONS[name], row)]


def _may_act(principal: Principal, action: Action, row: Any) -> bool:
    is_assignee = principal.id == row.assignee_id
    is_manager = manager_over(principal, row.region_path)
    if action.actor is Actor.ASSIGNEE:
        return is_assignee
    if action.actor is Actor.MANAGER:
        return is_manager
    return is_assignee or is_manager


def _require(request: ActionRequest, action: Action) -> None:
    """422 naming the first thing the action needs and did not get."""
    if action.needs_note and not (request.note and request.note.strip()):
        raise InvalidInput(
            f"{action.name} needs a note saying why or what was done", "请填写说明", field="note"
        )
    if action.needs_assignee and not request.assignee:
        raise InvalidInput("assign needs the worker's username", "请指定处理人", field="assignee")
    if action.needs_duplicate_of and not request.duplicate_of:
        raise InvalidInput(
            "mark_duplicate needs the tracking number of the earlier report",
            "请填写重复的原上报编号",
            field="duplicate_of",
        )
    if action.needs_version and request.version is None:
        raise InvalidInput(
            f"{action.name} needs the version you saw", "请提供版本号", field="version"
        )


async def assignee_id_for(session: AsyncSession, principal: Principal, username: str) -> int:
    """An active staff account within the manager's area."""
    row = (
        await session.execute(
            text("""
        SELECT u.id, u.role, r.path FROM users u LEFT JOIN regions r ON r.id = u.region_id
        WHERE u.username = :u AND u.is_active
    """),
            {"u": username},
        )
    ).first()
    if row is None or row.role in ("resident", "admin"):
        raise InvalidInput(
            f"no active worker or manager {username!r}",
            f"没有可指派的工作人员 {username}",
            field="assignee",
        )
    if not (principal.is_admin or (row.path and region_in_reach(principal, row.path))):
        raise InvalidInput(
            f"{username} works outside your area", f"{username} 不在您的辖区", field="assignee"
        )
    return row.id


# The earlier report, and whether one district (a region of level 'district') holds both
# it and the region path :own_path of the report that would follow it.
_DUPLICATE_TARGET = text("""
    SELECT i.id, i.status, i.assignee_id, i.cell_id, r.path AS region_path,
           EXISTS (SELECT FROM regions d
                   WHERE d.level = 'district' AND r.path LIKE d.path || '%'
                     AND CAST(:own_path AS text) LIKE d.path || '%') AS same_district
    FROM incidents i LEFT JOIN regions r ON r.id = i.region_id
    WHERE i.tracking_number = :t
    FOR UPDATE OF i
""")


async def _duplicate_target(
    session: AsyncSession,
    principal: Principal,
    number: str,
    own: Any,
    now: datetime,
) -> int:
    """The report a duplicate will follow: another report still open or resolved (so
    its reporter has something to follow) that the caller can see, in the same district
    as this one or in the caller's own area; locked so that two managers marking each
    other's reports at once cannot make a loop. Anything else is the same 422, so the
    answer never tells whether a report elsewhere exists."""
    found = (
        await session.execute(_DUPLICATE_TARGET, {"t": number, "own_path": own.region_path})
    ).first()
    followable = OPEN | {Status.RESOLVED}
    refused = InvalidInput(
        f"{number} is not an open report in your area this one can follow",
        f"{number} 不是您辖区内可合并的在办上报",
        field="duplicate_of",
    )
    if found is None or found.id == own.id or found.status not in followable:
        raise refused
    if not await can_see(session, principal, found, now):
        raise refused
    # An admin sees everything: for them only the district rule holds.
    in_area = (
        not principal.is_admin
        and found.region_path is not None
        and region_in_reach(principal, found.region_path)
    )
    if not (found.same_district or in_area):
        raise refused
    return found.id


_APPLY = text(f"""
    UPDATE incidents SET
        status = :target, {next_version()}, updated_at = :now,
        category_code = COALESCE(CAST(:category AS varchar), category_code),
        assignee_id = CASE WHEN :action = 'assign' THEN CAST(:assignee_id AS integer)
                           WHEN :action = 'transfer' THEN NULL ELSE assignee_id END,
        -- A new owner, or a reopened report, gets a fresh window to sign for it.
        accept_due_at = CASE WHEN :action IN ('assign', 'reopen') THEN :accept_due
                             ELSE accept_due_at END,
        resolve_due_at = CASE WHEN :action = 'reopen' THEN :resolve_due
                              ELSE resolve_due_at END,
        accepted_at = CASE WHEN :action = 'accept' THEN :now ELSE accepted_at END,
        resolved_at = CASE WHEN :action = 'resolve' THEN :now
                           WHEN :action = 'reopen' THEN NULL ELSE resolved_at END,
        handler_id = CASE WHEN :action = 'resolve' THEN CAST(:actor_id AS integer)
                          ELSE handler_id END,
        closed_at = CASE WHEN :action = 'close' THEN :now
                         WHEN :action = 'reopen' THEN NULL ELSE closed_at END,
        duplicate_of_id = CASE WHEN :action = 'mark_duplicate'
                               THEN CAST(:duplicate_of AS bigint)
                               WHEN :action = 'reopen' THEN NULL ELSE duplicate_of_id END
    WHERE id = :id
    RETURNING version, status, assignee_id
""")

# Who hears about a step: a new assignee; the area's managers when a report comes back to
# them (transfer) or waits for verification (resolve); the assignee when it is reopened;
# and the reporter (if they have an account) of every change.
_TELLS_ASSIGNEE = frozenset({"assign", "reopen"})
_TELLS_MANAGERS = frozenset({"transfer", "resolve"})


async def _new_category(session: AsyncSession, ctx: IntakeContext, action: Action, code: str):
    """The category a manager re-routes a report to: with `assign` only, an active
    routine category (not an emergency, not a damage declaration)."""
    if action.name != "assign":
        raise InvalidInput(
            "the category changes only with assign", "只能在指派时更改类别", field="category"
        )
    category = await ctx.categories.get(session, code)
    if category.is_emergency or code == "fire.damage_declaration":
        raise InvalidInput(
            f"a report cannot be moved to {code}", f"不能改为类别 {code}", field="category"
        )
    return category


async def take_action(
    session: AsyncSession,
    ctx: IntakeContext,
    principal: Principal,
    tracking_number: str,
    request: ActionRequest,
    now: datetime,
    photos: list[Photo] | None = None,
) -> dict[str, Any]:
    """Apply one action inside the caller's transaction; the row is locked, so two staff
    acting at once are serialised and the second sees the first's result (409). Photos
    (e.g. after the fix) are kept with the step's event."""
    action = ACTIONS.get(request.action)
    if action is None:
        raise InvalidInput(f"unknown action {request.action!r}", "未知操作", field="action")
    row = await locked_incident(session, principal, tracking_number, now)
    if not _may_act(principal, action, row):
        raise PermissionDenied(f"you may not {action.name} this report", "您无权对该上报执行此操作")
    _require(request, action)
    require_version(request.version, row.version)
    if row.status not in action.sources:
        raise Conflict(
            f"cannot {action.name} a report that is {row.status}",
            f"当前状态（{row.status}）不能执行该操作",
        )
    if action.name == "close" and principal.id == row.handler_id:
        raise PermissionDenied(
            "the handler may not verify their own work", "处理人不能验收自己处理的上报"
        )
    assignee_id = row.assignee_id
    if action.needs_assignee:
        assignee_id = await assignee_id_for(session, principal, request.assignee or "")
    duplicate_of = (
        await _duplicate_target(session, principal, request.duplicate_of or "", row, now)
        if action.needs_duplicate_of
        else None
    )
    tier = ctx.tiers[row.tier]
    if request.category is not None:
        tier = ctx.tiers[(await _new_category(session, ctx, action, request.category)).tier]
    params = {
        "id": row.id,
        "action": action.name,
        "target": action.target,
        "now": now,
        "assignee_id": assignee_id,
        "actor_id": principal.id,
        "accept_due": deadline(now, tier.accept, ctx.calendar),
        "resolve_due": deadline(now, tier.resolve, ctx.calendar),
        "duplicate_of": duplicate_of,
        "category": request.category,
    }
    applied = (await session.execute(_APPLY, params)).one()
    event_id = await record_event(
        session,
        row.id,
        "assignment" if action.name == "assign" else "transition",
        principal.id,
        principal.role.value,
        now,
        from_status=row.status,
        to_status=action.target,
        note=request.note,
        public=True,
        data={"action": action.name, "category": request.category},
    )
    if photos:
        session.add_all(photo_rows(row.id, photos, event_id))
        await session.flush()
    await notify(
        session,
        f"incident.{action.name}",
        row.id,
        {"tracking_number": row.tracking_number, "status": action.target},
        now,
        recipients=[
            assignee_id if action.name in _TELLS_ASSIGNEE else None,
            row.reporter_id,
        ],
        managers_of=row.region_path if action.name in _TELLS_MANAGERS else None,
        except_id=principal.id,
    )
    # What this caller may do next: the row as the update left it (new status, owner).
    after = SimpleNamespace(**(row._asdict() | applied._asdict()))
    return {
        "tracking_number": row.tracking_number,
        "status": action.target,
        "version": applied.version,
        "allowed_actions": actions_for(principal, after),
    }
