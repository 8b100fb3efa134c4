"""Fire damage declarations (火灾受损申报): a household declares what a fire destroyed at a
house of the register; routed like a report to the cell's worker, who verifies on site."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import InvalidInput, NotFound
from grid.access import Principal
from grid.roles import STAFF_ROLES
from incidents.handling.actions import ActionRequest, not_found, take_action
from incidents.intake.filing import IntakeContext, submit_report
from incidents.intake.photos import Photo
from incidents.intake.schemas import DamageIn, ReportIn, Submission

CATEGORY = "fire.damage_declaration"


async def _house(session: AsyncSession, data: DamageIn) -> tuple[int, int, int | None]:
    """(house id, building id, current household id) of the declared house, or 422."""
    if data.house_id is not None:
        where, params, field = "h.id = :house", {"house": data.house_id}, "house_id"
    elif data.building_id is not None and data.unit_number:
        where = "h.building_id = :building AND h.unit_number = :unit"
        params, field = {"building": data.building_id, "unit": data.unit_number}, "unit_number"
    else:
        raise InvalidInput(
            "give house_id, or building_id and unit_number",
            "请提供房屋编号，或楼栋与门牌号",
            field="house_id",
        )
    row = (
        await session.execute(
            text(f"""
        SELECT h.id, h.building_id,
               (SELECT hh.id FROM households hh WHERE hh.house_id = h.id ORDER BY hh.id LIMIT 1)
        FROM houses h WHERE {where}
    """),
            params,
        )
    ).first()
    if row is None:
        raise InvalidInput("no such house in the register", "登记中没有该房屋", field=field)
    return row[0], row[1], row[2]


@commits
async def declare_damage(
    session: AsyncSession,
    ctx: IntakeContext,
    data: DamageIn,
    photos: list[Photo],
    declarer: Principal,
    now: datetime,
) -> Submission:
    """Store the declaration as an incident routed to the house's cell plus its figures,
    committed."""
    house_id, building_id, household_id = await _house(session, data)
    report = ReportIn(
        category=CATEGORY,
        building_id=building_id,
        description=data.description,
        channel=data.channel,
        contact_phone=data.contact_phone,
        answers={},
    )
    submission = await submit_report(session, ctx, report, photos, declarer, now)
    if not isinstance(submission, Submission):
        raise RuntimeError(f"category {CATEGORY} must not be configured as an emergency")
    await session.execute(
        text("""
        INSERT INTO damage_declarations (incident_id, house_id, household_id, fire_date,
                                         what_burned, estimated_loss)
        VALUES (:incident_id, :house, :household, :fire_date, :what, :loss)
    """),
        {
            "house": house_id,
            "household": household_id,
            "fire_date": data.fire_date,
            "what": data.what_burned,
            "loss": data.estimated_loss,
            "incident_id": submission.rows.incident_id,
        },
    )
    return submission


_DECLARATION = text("""
    SELECT i.id, i.tracking_number, i.status, i.reporter_id, i.assignee_id, i.created_at,
           i.resolve_due_at, d.fire_date, d.what_burned, d.estimated_loss, d.verified_loss,
           h.unit_number, b.address
    FROM damage_declarations d
    JOIN incidents i ON i.id = d.incident_id
    JOIN houses h ON h.id = d.house_id
    JOIN buildings b ON b.id = h.building_id
    WHERE i.tracking_number = :t
""")


async def declaration_view(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    staff_may_see: bool,
) -> dict[str, Any]:
    """The declaration's state and figures for its declarer or staff over it (404 for
    anyone else, so its existence is not revealed)."""
    row = (await session.execute(_DECLARATION, {"t": tracking_number})).mappings().first()
    if row is None or not (
        row["reporter_id"] == principal.id or (principal.role in STAFF_ROLES and staff_may_see)
    ):
        raise NotFound(f"no declaration {tracking_number}", f"未找到申报 {tracking_number}")
    return {
        "tracking_number": row["tracking_number"],
        "status": row["status"],
        "fire_date": row["fire_date"].isoformat(),
        "what_burned": row["what_burned"],
        "estimated_loss": str(row["estimated_loss"]),
        "verified_loss": row["verified_loss"] and str(row["verified_loss"]),
        "house": {"unit_number": row["unit_number"], "address": row["address"]},
        "created_at": row["created_at"].isoformat(),
        "resolve_due_at": row["resolve_due_at"] and row["resolve_due_at"].isoformat(),
    }


async def _record_verified_loss(session: AsyncSession, tracking_number: str, loss: Decimal) -> bool:
    """The loss found on site (resolving the incident in the same transaction checks who
    may); False when the number is no declaration."""
    return (
        await session.execute(
            text("""
        UPDATE damage_declarations d SET verified_loss = :loss
        FROM incidents i WHERE i.id = d.incident_id AND i.tracking_number = :t
    """),
            {"loss": loss, "t": tracking_number},
        )
    ).rowcount == 1


@commits
async def resolve_with_verified_loss(
    session: AsyncSession,
    ctx: IntakeContext,
    principal: Principal,
    tracking_number: str,
    loss: Decimal,
    note: str | None,
    version: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The assigned worker records the loss found on site and resolves the declaration
    (after accepting it), committed together; a manager then verifies and closes it."""
    if not await _record_verified_loss(session, tracking_number, loss):
        raise not_found(tracking_number)
    resolve = ActionRequest("resolve", note=note, version=version)
    return await take_action(session, ctx, principal, tracking_number, resolve, now)
