"""An account's inbox: notifications delivered from the outbox, newest first, marked read
one by one, and a live stream (Server-Sent Events) that wakes on NOTIFY. Staff get their
work; a resident who reported with an account gets the changes to their reports."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentPrincipal, SessionDep, SettingsDep, get_principal, oauth2_scheme
from incidents.notify import inbox
from incidents.notify.inbox import inbox_page, items_since, unread_count
from incidents.notify.outbox import INBOX_CHANNEL

router = APIRouter(prefix="/inbox", tags=["inbox"])

# A comment line this often keeps proxies from closing an idle stream and lets the
# server notice a client that has gone.
HEARTBEAT_SECONDS = 15.0
MAX_ITEMS_PER_EVENT = 50
SETTLE_SECONDS = 60.0


@router.get("")
async def list_inbox(
    session: SessionDep,
    principal: CurrentPrincipal,
    unread: Annotated[bool, Query(description="only notifications not read yet")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="cursor: last id seen")
    ] = None,
) -> dict[str, Any]:
    """My notifications, newest first, keyset-paged by id (`next_after`), with my unread
    count."""
    items = await inbox_page(session, principal.id, after=after, unread=unread, limit=limit + 1)
    counts = await unread_count(session, principal.id)
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": items,
        "unread": counts.unread,
        "next_after": items[-1]["id"] if more else None,
    }


@router.post("/{item_id}/read")
async def mark_read(
    item_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Mark one of my notifications read (reading it again keeps the first time); someone
    else's is 404, as if it did not exist."""
    return await inbox.mark_read(session, principal.id, item_id)


class InboxHub:
    """One LISTEN connection per process for every open stream, not one per browser tab:
    NOTIFYs on INBOX_CHANNEL (payload: a user id) wake that user's streams. Opened with
    the first stream, closed with the last."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._waiting: dict[int, set[asyncio.Event]] = {}

    @property
    def listening(self) -> bool:
        """False once the connection has gone (streams then end; browsers reconnect)."""
        return self._conn is not None and not self._conn.is_closed()

    async def subscribe(self, user_id: int, wake: asyncio.Event) -> None:
        """Set `wake` whenever something arrives for the user."""
        async with self._lock:
            if not self.listening:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "gridgov inbox stream"}
                )
                conn.add_termination_listener(self._lost)
                await conn.add_listener(INBOX_CHANNEL, self._notified)
                self._conn = conn
            self._waiting.setdefault(user_id, set()).add(wake)

    async def unsubscribe(self, user_id: int, wake: asyncio.Event) -> None:
        """Forget a stream; the last one out closes the connection."""
        async with self._lock:
            waiting = self._waiting.get(user_id, set())
            waiting.discard(wake)
            if not waiting:
                self._waiting.pop(user_id, None)
            if not self._waiting and self._conn is not None:
                conn, self._conn = self._conn, None
                if not conn.is_closed():
                    await conn.close(timeout=2)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            for wake in self._waiting.get(int(payload), ()):
                wake.set()

    def _lost(self, _conn: Any) -> None:
        for waiting in self._waiting.values():
            for wake in waiting:
                wake.set()


def _hub(app: FastAPI) -> InboxHub:
    hub = getattr(app.state, "inbox_hub", None)
    if hub is None:
        url = make_url(app.state.settings.database_url).set(drivername="postgresql")
        hub = app.state.inbox_hub = InboxHub(url.render_as_string(hide_password=False))
    return hub


@dataclass
class _Sent:
    """What a stream has sent. Item ids come from one sequence but commit out of order
    when workers run side by side, so "newer than the last one sent" could skip an item
    that commits a moment late: ids sent in the last minute are remembered one by one,
    and only older ones raise the floor below which nothing is looked for."""

    floor: int
    newest: int = 0
    recent: dict[int, float] = field(default_factory=dict)

    def record(self, ids: list[int]) -> None:
        now = time.monotonic()
        for item_id in ids:
            self.recent[item_id] = now
        self.newest = max(self.newest, self.floor, *ids)
        settled = [i for i, at in self.recent.items() if now - at > SETTLE_SECONDS]
        if settled:
            self.floor = max(self.floor, *settled)
            self.recent = {i: at for i, at in self.recent.items() if i > self.floor}


async def _new_items(session: AsyncSession, user_id: int, sent: _Sent) -> list[dict[str, Any]]:
    items = await items_since(session, user_id, sent.floor, sent.recent, MAX_ITEMS_PER_EVENT)
    sent.record([item["id"] for item in items])
    return items


def _event(unread: int, items: list[dict[str, Any]], sent: _Sent) -> str:
    body = json.dumps(jsonable_encoder({"unread": unread, "items": items}), ensure_ascii=False)
    return f"event: inbox\nid: {sent.newest}\ndata: {body}\n\n"


async def _events(app: FastAPI, user_id: int, last_event_id: int | None) -> AsyncIterator[str]:
    hub = _hub(app)
    wake = asyncio.Event()
    # Subscribed before the first read, so nothing delivered in between is missed.
    await hub.subscribe(user_id, wake)
    try:
        yield "retry: 5000\n\n"
        async with app.state.sessions() as session:
            counts = await unread_count(session, user_id)
            if last_event_id is None:  # a first connect: the count, no back catalogue
                sent, items = _Sent(floor=counts.newest), []
            else:  # a browser resuming: what it missed
                sent = _Sent(floor=last_event_id)
                items = await _new_items(session, user_id, sent)
        yield _event(counts.unread, items, sent)
        while True:
            try:
                await asyncio.wait_for(wake.wait(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            wake.clear()
            async with app.state.sessions() as session:
                items = await _new_items(session, user_id, sent)
                if items:
                    unread = (await unread_count(session, user_id)).unread
            if items:
                yield _event(unread, items, sent)
            if len(items) == MAX_ITEMS_PER_EVENT:
                wake.set()  # more are waiting
            if not hub.listening:
                return
    finally:
        # The client has gone and this task is being cancelled: clean up regardless.
        with anyio.CancelScope(shield=True):
            await hub.unsubscribe(user_id, wake)


@router.get("/stream", response_class=StreamingResponse)
async def stream_inbox(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    access_token: Annotated[
        str | None,
        Query(description="the bearer token, for EventSource, which cannot send headers"),
    ] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**63 - 1)] = None,
) -> StreamingResponse:
    """Server-Sent Events for my inbox: on connect, `inbox` with my unread count
    (and, when the browser resumes with Last-Event-ID, what it missed); then an `inbox`
    event with the new items each time something is delivered to me; a `: ping` comment
    every 15 s. Authenticate with the Authorization header or, for EventSource only,
    `?access_token=` (masked in this server's access log; keep it out of a proxy's
    logs too)."""
    principal = await get_principal(request, session, settings, bearer or access_token)
    # Give the pooled connection back now; the stream borrows one per wake-up.
    await session.commit()
    return StreamingResponse(
        _events(request.app, principal.id, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
