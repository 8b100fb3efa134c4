"""Review of false or malicious ratings: a manager's flag, a second manager's decision,
the rater's appeal and its decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, NotFound, PermissionDenied
from grid.access import Principal, manager_over
from incidents.intake.filing import IntakeContext
from incidents.intake.tracking import secret_matches
from incidents.ratings.scores import given_text
from incidents.ratings.standing import is_staff
from incidents.timeline import notify, record_event

_LOCK_RATING = text("""
    SELECT g.id, g.incident_id, g.excluded, g.defaulted, g.rater_id, i.tracking_number,
           i.reporter_id, i.secret_hash, r.path AS region_path
    FROM ratings g JOIN incidents i ON i.id = g.incident_id
    LEFT JOIN regions r ON r.id = i.region_id
    WHERE g.id = :id
    FOR UPDATE OF g
""")
_LOCK_FLAG = text("""
    SELECT f.id, f.rating_id, f.status, f.flagged_by_id FROM rating_flags f
    WHERE f.id = :id FOR UPDATE
""")
_LOCK_APPEAL = text("""
    SELECT p.id, p.rating_id, p.status FROM rating_appeals p WHERE p.id = :id FOR UPDATE
""")
_SET_EXCLUDED = text("UPDATE ratings SET excluded = :excluded WHERE id = :id")


def _not_yours(what: str, zh: str, number: int) -> NotFound:
    return NotFound(f"no {what} {number} for you", f"未找到编号为 {number} 的{zh}")


def _reason(value: str | None, field: str = "reason") -> str:
    return given_text(value, field, f"give the {field}", "请填写理由")


async def _raised(
    session: AsyncSession,
    rating: Any,
    actor_id: int | None,
    role: str,
    reason: str,
    step: str,
    record: tuple[str, int],
    now: datetime,
) -> None:
    """A flag or an appeal on the timeline; the managers over the report hear of it."""
    key, number = record
    await record_event(
        session,
        rating.incident_id,
        "rating",
        actor_id,
        role,
        now,
        note=reason,
        data={"rating": rating.id, "step": step, key: number},
    )
    await notify(
        session,
        f"rating.{step}",
        rating.incident_id,
        {"tracking_number": rating.tracking_number, "rating": rating.id, key: number},
        now,
        managers_of=rating.region_path,
        except_id=actor_id,
    )


async def _under_decision(
    session: AsyncSession,
    manager: Principal,
    query: TextClause,
    number: int,
    what: str,
    zh: str,
) -> tuple[Any, Any]:
    """A flag or an appeal and its rating, both locked, for a manager over the report."""
    row = (await session.execute(query, {"id": number})).first()
    rating = row and (await session.execute(_LOCK_RATING, {"id": row.rating_id})).first()
    if row is None or rating is None or not manager_over(manager, rating.region_path):
        raise _not_yours(what, zh, number)
    return row, rating


async def _decided(
    session: AsyncSession,
    manager: Principal,
    rating: Any,
    note: str,
    data: dict[str, Any],
    now: datetime,
    *,
    excluded: bool | None,
    tell: str | None,
    told: dict[str, Any] | None = None,
) -> None:
    """A decision's effect on the rating (excluded or restored), its timeline event and,
    with `tell` (the topic), the rater's notification (with `told` in it)."""
    if excluded is not None:
        await session.execute(_SET_EXCLUDED, {"id": rating.id, "excluded": excluded})
    await record_event(
        session,
        rating.incident_id,
        "rating",
        manager.id,
        manager.role.value,
        now,
        note=note,
        data={"rating": rating.id, **data},
    )
    if tell is not None:
        await notify(
            session,
            tell,
            rating.incident_id,
            {"tracking_number": rating.tracking_number, "rating": rating.id, **(told or {})},
            now,
            recipients=[rating.rater_id or rating.reporter_id],
            unless_nobody=True,
        )


@commits
async def flag_rating(
    session: AsyncSession,
    manager: Principal,
    rating_id: int,
    reason: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A manager over the report flags a rating as false or malicious; one pending flag
    per rating; another manager decides it."""
    rating = (await session.execute(_LOCK_RATING, {"id": rating_id})).first()
    if rating is None or not manager_over(manager, rating.region_path):
        raise _not_yours("rating", "评价", rating_id)
    reason = _reason(reason)
    if rating.excluded:
        raise Conflict("the rating is already excluded", "该评价已被剔除")
    if rating.defaulted:
        raise Conflict(
            "a default rating is nobody's opinion and cannot be false", "默认评价不属于恶意评价"
        )
    flag_id = (
        await session.execute(
            text("""
        INSERT INTO rating_flags (rating_id, flagged_by_id, reason, created_at)
        VALUES (:rating, :by, :reason, :now)
        ON CONFLICT (rating_id) WHERE status = 'pending' DO NOTHING
        RETURNING id
    """),
            {"rating": rating_id, "by": manager.id, "reason": reason, "now": now},
        )
    ).scalar()
    if flag_id is None:
        raise Conflict(
            "the rating already has a flag waiting for a decision", "该评价已有待审核的标记"
        )
    await _raised(
        session, rating, manager.id, manager.role.value, reason, "flagged", ("flag", flag_id), now
    )
    return {"id": flag_id, "rating_id": rating_id, "status": "pending"}


@commits
async def decide_flag(
    session: AsyncSession,
    manager: Principal,
    flag_id: int,
    confirm: bool,
    now: datetime,
) -> dict[str, Any]:
    """A second manager confirms a flag (the rating is excluded from statistics and stays in
    the history) or dismisses it; the flagger may not decide their own flag."""
    flag, rating = await _under_decision(
        session, manager, _LOCK_FLAG, flag_id, "rating flag", "标记"
    )
    if manager.id == flag.flagged_by_id:
        raise PermissionDenied(
            "a second manager decides a flag, not the one who raised it",
            "标记须由另一名管理人员审核",
        )
    if flag.status != "pending":
        raise Conflict(f"the flag is already {flag.status}", "该标记已审核")
    status = "confirmed" if confirm else "dismissed"
    await session.execute(
        text("""
        UPDATE rating_flags SET status = :status, decided_by_id = :by, decided_at = :now
        WHERE id = :id
    """),
        {"status": status, "by": manager.id, "now": now, "id": flag_id},
    )
    await _decided(
        session,
        manager,
        rating,
        "评价经复核剔除" if confirm else "评价标记未通过复核",
        {"step": f"flag_{status}", "flag": flag_id},
        now,
        excluded=True if confirm else None,
        tell="rating.excluded" if confirm else None,
    )
    return {"id": flag_id, "rating_id": rating.id, "status": status, "excluded": confirm}


@commits
async def appeal(
    session: AsyncSession,
    ctx: IntakeContext,
    rating_id: int,
    reason: str | None,
    principal: Principal | None,
    secret: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The rater appeals against the exclusion of their rating (once per exclusion)."""
    rating = (await session.execute(_LOCK_RATING, {"id": rating_id})).first()
    is_rater = rating is not None and (
        (
            principal is not None
            and principal.id in (rating.rater_id, rating.reporter_id)
            and not is_staff(principal)
        )
        or (bool(secret) and secret_matches(secret or "", rating.secret_hash, ctx.secret_key))
    )
    if not is_rater:
        raise _not_yours("rating", "评价", rating_id)
    reason = _reason(reason)
    if not rating.excluded:
        raise Conflict("only an excluded rating can be appealed", "只有被剔除的评价可以申诉")
    appealed = (
        await session.execute(
            text("""
        SELECT EXISTS (
            SELECT 1 FROM rating_appeals p WHERE p.rating_id = :id AND p.created_at >= (
                SELECT max(f.decided_at) FROM rating_flags f
                WHERE f.rating_id = :id AND f.status = 'confirmed'))
    """),
            {"id": rating_id},
        )
    ).scalar()
    if appealed:
        raise Conflict("this exclusion has already been appealed", "该评价已申诉过")
    appeal_id = (
        await session.execute(
            text("""
        INSERT INTO rating_appeals (rating_id, reason, created_at)
        VALUES (:rating, :reason, :now) RETURNING id
    """),
            {"rating": rating_id, "reason": reason, "now": now},
        )
    ).scalar_one()
    actor_id = principal.id if principal is not None else None
    await _raised(
        session, rating, actor_id, "reporter", reason, "appealed", ("appeal", appeal_id), now
    )
    return {"id": appeal_id, "rating_id": rating_id, "status": "pending"}


@commits
async def decide_appeal(
    session: AsyncSession,
    manager: Principal,
    appeal_id: int,
    upheld: bool,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A manager over the report decides an appeal, with a note; upheld restores the rating.
    Managers who flagged or confirmed the exclusion may not decide it."""
    row, rating = await _under_decision(
        session, manager, _LOCK_APPEAL, appeal_id, "rating appeal", "申诉"
    )
    note = _reason(note, "note")
    involved = (
        await session.execute(
            text("""
        SELECT flagged_by_id, decided_by_id FROM rating_flags
        WHERE rating_id = :id AND status = 'confirmed' ORDER BY decided_at DESC, id DESC LIMIT 1
    """),
            {"id": rating.id},
        )
    ).first()
    if involved is not None and manager.id in tuple(involved):
        raise PermissionDenied(
            "a manager who excluded the rating may not decide its appeal",
            "参与剔除该评价的管理人员不能审理申诉",
        )
    if row.status != "pending":
        raise Conflict(f"the appeal is already {row.status}", "该申诉已处理")
    status = "upheld" if upheld else "rejected"
    await session.execute(
        text("""
        UPDATE rating_appeals SET status = :status, decided_by_id = :by, decision_note = :note,
            decided_at = :now
        WHERE id = :id
    """),
        {"status": status, "by": manager.id, "note": note, "now": now, "id": appeal_id},
    )
    await _decided(
        session,
        manager,
        rating,
        note,
        {"step": f"appeal_{status}", "appeal": appeal_id},
        now,
        excluded=False if upheld else None,
        tell="rating.appeal_decided",
        told={"appeal": appeal_id, "status": status},
    )
    return {"id": appeal_id, "rating_id": rating.id, "status": status, "excluded": not upheld}
