"""The audit log: who read personal data, changed state, signed in (or failed to) and
exported what. Append-only by construction (migration 0014's triggers); state changes
are written by the database itself, reads, logins and exports by `record()`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

# What an entry records; the database adds 'state_change' and 'account_change'.
ACTIONS = (
    "login",
    "login_failed",
    "personal_read",
    "export",
    "import",
    "state_change",
    "account_change",
    "ban",
    "retention",
    # Something staff did that looks like abuse (e.g. ID numbers guessed by search).
    "alert",
)


class AuditEntry(Base):
    """One audited act. Never updated or deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(32))
    # No foreign key: removing an account must neither rewrite nor be blocked by history.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(INET)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_id", "action", "id"),
        Index("ix_audit_log_actor_id", "actor_id", "id"),
        Index("ix_audit_log_subject", "subject_type", "subject_id", "id"),
    )


@dataclass(frozen=True)
class Actor:
    """Who did it and from where (the account may be None: an anonymous or failed login)."""

    id: int | None
    name: str | None
    role: str | None
    ip: str | None


_INSERT = text(
    "INSERT INTO audit_log (action, actor_id, actor_name, actor_role, ip, subject_type, "
    "subject_id, detail) VALUES (:action, :actor_id, :actor_name, :actor_role, "
    "CAST(:ip AS inet), :subject_type, :subject_id, CAST(:detail AS jsonb))"
)


async def record(
    session: AsyncSession,
    action: str,
    actor: Actor,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    **detail: Any,
) -> None:
    """Add an entry in the session's transaction (it lands with the work it describes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    await session.execute(
        _INSERT,
        {
            "action": action,
            "actor_id": actor.id,
            "actor_name": actor.name,
            "actor_role": actor.role,
            "ip": actor.ip,
            "subject_type": subject_type,
            "subject_id": None if subject_id is None else str(subject_id),
            "detail": json.dumps(detail, ensure_ascii=False, default=str),
        },
    )


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the admin's audit search; `before` is the keyset cursor (an entry id)."""

    action: str | None = None
    actor_id: int | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


async def search(session: AsyncSession, query: AuditQuery) -> list[dict[str, Any]]:
    """Entries matching the filters, newest first. Only the filters given go into the
    query, so the indexes on action, actor and subject serve it as the log grows."""
    e = AuditEntry
    filters = (
        (query.action, lambda v: e.action == v),
        (query.actor_id, lambda v: e.actor_id == v),
        (query.subject_type, lambda v: e.subject_type == v),
        (query.subject_id, lambda v: e.subject_id == v),
        (query.since, lambda v: e.at >= v),
        (query.until, lambda v: e.at < v),
        (query.before, lambda v: e.id < v),
    )
    wanted = [condition(value) for value, condition in filters if value is not None]
    rows = await session.execute(
        select(
            e.id,
            e.at,
            e.action,
            e.actor_id,
            e.actor_name,
            e.actor_role,
            func.host(e.ip).label("ip"),
            e.subject_type,
            e.subject_id,
            e.detail,
        )
        .where(*wanted)
        .order_by(e.id.desc())
        .limit(query.limit)
    )
    return [dict(r._mapping) for r in rows]
