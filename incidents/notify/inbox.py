"""An account's inbox as read and marked: a page of notifications, the unread count, what
arrived since a stream last looked, and marking one read (committed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import NotFound

_PAGE = text("""
    SELECT id, topic, payload->>'tracking_number' AS tracking_number, payload,
           created_at, read_at
    FROM inbox_items
    WHERE user_id = :me
      AND id < coalesce(CAST(:after AS bigint), 9223372036854775807)
      AND (NOT :unread OR read_at IS NULL)
    ORDER BY id DESC
    LIMIT :limit
""")

_SINCE = text("""
    SELECT id, topic, payload->>'tracking_number' AS tracking_number, payload,
           created_at, read_at
    FROM inbox_items
    WHERE user_id = :me AND id > :floor AND id <> ALL(CAST(:recent AS bigint[]))
    ORDER BY id
    LIMIT :limit
""")

_UNREAD = text("""
    SELECT count(*) FILTER (WHERE read_at IS NULL) AS unread, coalesce(max(id), 0) AS newest
    FROM inbox_items WHERE user_id = :me
""")

_MARK_READ = text("""
    UPDATE inbox_items SET read_at = coalesce(read_at, now())
    WHERE id = :id AND user_id = :me
    RETURNING id, topic, payload->>'tracking_number' AS tracking_number, payload,
              created_at, read_at
""")


async def inbox_page(
    session: AsyncSession, user_id: int, *, after: int | None, unread: bool, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` notifications older than the cursor `after`, newest first."""
    params = {"me": user_id, "after": after, "unread": unread, "limit": limit}
    return [dict(r) for r in (await session.execute(_PAGE, params)).mappings()]


async def items_since(
    session: AsyncSession, user_id: int, floor: int, recent: Iterable[int], limit: int
) -> list[dict[str, Any]]:
    """Notifications above `floor` not among the `recent` ids already sent, oldest first."""
    params = {"me": user_id, "floor": floor, "recent": list(recent), "limit": limit}
    return [dict(r) for r in (await session.execute(_SINCE, params)).mappings()]


async def unread_count(session: AsyncSession, user_id: int) -> Row[Any]:
    """The account's unread count and its newest notification's id (0 for none)."""
    return (await session.execute(_UNREAD, {"me": user_id})).one()


@commits
async def mark_read(session: AsyncSession, user_id: int, item_id: int) -> dict[str, Any]:
    """Mark one of the account's notifications read (again keeps the first time),
    committed; anyone else's is NotFound, as if it did not exist."""
    row = (await session.execute(_MARK_READ, {"id": item_id, "me": user_id})).mappings().first()
    if row is None:
        raise NotFound(
            f"no notification {item_id} in your inbox", f"您的消息中没有编号为 {item_id} 的通知"
        )
    return dict(row)
