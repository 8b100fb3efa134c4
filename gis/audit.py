"""The audit log: who read personal data, changed state, signed in (or failed to) and
exported what. Append-only by construction (migration 0014's triggers); state changes
are written by the database itself, reads, logins and exports by `record()`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gis.orm import Base

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
    """Entries matching the filters, newest first."""
    rows = await session.execute(
        text(
            "SELECT id, at, action, actor_id, actor_name, actor_role, host(ip) AS ip, "
            "subject_type, subject_id, detail FROM audit_log "
            "WHERE (CAST(:action AS text) IS NULL OR action = :action) "
            "AND (CAST(:actor_id AS int) IS NULL OR actor_id = :actor_id) "
            "AND (CAST(:stype AS text) IS NULL OR subject_type = :stype) "
            "AND (CAST(:sid AS text) IS NULL OR subject_id = :sid) "
            "AND (CAST(:since AS timestamptz) IS NULL OR at >= :since) "
            "AND (CAST(:until AS timestamptz) IS NULL OR at < :until) "
            "AND (CAST(:before AS bigint) IS NULL OR id < :before) "
            "ORDER BY id DESC LIMIT :limit"
        ),
        {
            "action": query.action,
            "actor_id": query.actor_id,
            "stype": query.subject_type,
            "sid": query.subject_id,
            "since": query.since,
            "until": query.until,
            "before": query.before,
            "limit": query.limit,
        },
    )
    return [dict(r._mapping) for r in rows]
