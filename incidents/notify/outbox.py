"""Delivering the notification outbox: a separate worker process claims undelivered
messages (FOR UPDATE SKIP LOCKED, so two workers never take the same one), fans each out
to its recipients' inboxes, to the webhooks that want its topic and, with an SMS gateway
configured, to the reporter's phone (incidents/notify/sms.py), to the report's followers and
the area alerts it concerns (incidents/notify/following.py, incidents/notify/alerts.py), wakes live
streams with NOTIFY, and marks it delivered.

Workers find new messages by polling, a few times a second, with one probe of the partial
index on undelivered messages (`_PENDING`): nothing in a report's transaction NOTIFYs
(issue 19; migration 0024 dropped the trigger that did). PostgreSQL serialises every
notifying commit in the cluster on one lock held from commit through the WAL flush, so a
NOTIFY per report capped intake; the only NOTIFY left is the one per delivered batch that
wakes live inbox streams, sent by the worker alone.

Delivery is at least once and, for inboxes, effectively exactly once: a batch is one
transaction (see `deliver_batch`), and UNIQUE(outbox_id, user_id) with ON CONFLICT DO
NOTHING makes a redelivered message a no-op.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg2
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from core.settings import get_settings
from incidents.notify.alerts import deliver_to_area_alerts
from incidents.notify.following import FOLLOWER_TOPICS, queue_follower_sms
from incidents.notify.sms import (
    SmsGateway,
    configured_gateway,
    new_sms_client,
    queue_sms,
    send_due_sms,
)
from incidents.notify.webhooks import WebhookTotals, new_webhook_client, send_due_webhooks

log = logging.getLogger("gridgov.outbox")

# NOTIFY channels: the payload of INBOX_CHANNEL is the id of the user who got something;
# OUTBOX_CHANNEL still wakes a waiting worker at once, for whoever sends it outside a
# report's transaction (an operator, a test), but nothing has to: workers poll.
INBOX_CHANNEL = "gridgov_inbox"
OUTBOX_CHANNEL = "gridgov_outbox"
RECONNECT_SECONDS = 5.0
# How often an idle worker probes for new messages: a report's notification reaches the
# inbox (and a live stream) within this plus one batch, well under a second. The probe is
# one index-only look at ix_outbox_pending, on a connection the worker keeps open.
POLL_SECONDS = 0.25
# Webhooks and SMS due for a retry are looked for this often (and at once after a batch
# queued new ones), not on every probe.
SEND_POLL_SECONDS = 1.0
# Time a looping worker gives webhooks per round before it looks at the outbox again, so
# a slow or dead receiver cannot hold up inboxes (one POST may still take its timeout).
WEBHOOK_ROUND_SECONDS = 2.0

_PENDING = text("SELECT EXISTS (SELECT 1 FROM outbox WHERE delivered_at IS NULL)")

_CLAIM = text("""
    SELECT id FROM outbox
    WHERE delivered_at IS NULL
    ORDER BY id
    LIMIT :n
    FOR UPDATE SKIP LOCKED
""")

# One statement for the whole batch, whatever its size. Recipients whose account was
# deleted since are skipped rather than failing the batch on the foreign key; ON CONFLICT
# makes a second delivery of the same message add nothing.
_FAN_OUT = text("""
WITH message AS (
    SELECT id, topic, incident_id, recipient_ids, payload, created_at
    FROM outbox WHERE id = ANY(:ids)
), inbox AS (
    INSERT INTO inbox_items (user_id, outbox_id, incident_id, topic, payload, created_at)
    SELECT DISTINCT u.id, m.id, m.incident_id, m.topic, m.payload, m.created_at
    FROM message m
    -- The message's recipients, and the report's followers with an account for the
    -- topics a follower hears about (incidents/notify/following.py).
    CROSS JOIN LATERAL unnest(m.recipient_ids || ARRAY(
        SELECT f.user_id FROM incident_followers f
        WHERE f.incident_id = m.incident_id AND f.user_id IS NOT NULL
          AND m.topic = ANY(CAST(:follower_topics AS text[])))) AS r(user_id)
    JOIN users u ON u.id = r.user_id
    ORDER BY m.id, u.id  -- inbox ids follow the messages' order
    ON CONFLICT (outbox_id, user_id) DO NOTHING
    RETURNING user_id
), hooks AS (
    INSERT INTO webhook_deliveries (webhook_id, outbox_id, next_attempt_at)
    SELECT w.id, m.id, now()
    FROM message m
    JOIN webhooks w ON w.active AND (cardinality(w.topics) = 0 OR m.topic = ANY(w.topics))
    ON CONFLICT (outbox_id, webhook_id) DO NOTHING
    RETURNING id
), delivered AS (
    UPDATE outbox SET delivered_at = now(), attempts = attempts + 1
    WHERE id = ANY(:ids)
    RETURNING id
)
SELECT (SELECT count(*) FROM delivered) AS messages,
       (SELECT count(*) FROM inbox) AS inbox_items,
       (SELECT count(*) FROM hooks) AS webhook_deliveries,
       (SELECT coalesce(array_agg(DISTINCT user_id), '{}') FROM inbox) AS users
""")

# NOTIFY is transactional: listeners hear it when (and only if) the batch commits, by
# which time the new inbox items are visible to them.
_NOTIFY = text("""
    SELECT pg_notify(:channel, CAST(u AS text)) FROM unnest(CAST(:users AS integer[])) AS u
""")


@dataclass
class Delivered:
    """What one batch delivered."""

    messages: int = 0
    inbox_items: int = 0
    webhook_deliveries: int = 0


def claim_pending(conn: Connection, limit: int) -> list[int]:
    """Lock up to `limit` undelivered messages, oldest first, skipping any another worker
    holds; the locks last until the caller's transaction ends."""
    return list(conn.execute(_CLAIM, {"n": limit}).scalars())


def fan_out(conn: Connection, ids: list[int], *, sms: bool = False) -> Delivered:
    """Deliver claimed messages: inbox items, webhook deliveries, with `sms` the reporters'
    SMS, NOTIFY per recipient, delivered_at set and attempts counted, inside the caller's
    transaction."""
    if not ids:
        return Delivered()
    if sms:
        queue_sms(conn, ids)
    row = conn.execute(_FAN_OUT, {"ids": ids, "follower_topics": list(FOLLOWER_TOPICS)}).one()
    # Followers' SMS (我也遇到) and area alerts: found now, at delivery, after the
    # message's own recipients (whose inbox items win a clash), in the same transaction.
    if sms:
        queue_follower_sms(conn, ids)
    extra = deliver_to_area_alerts(
        conn, ids, sms=sms, key=get_settings().secret_key.get_secret_value()
    )
    users = sorted(set(row.users) | set(extra))
    if users:
        conn.execute(_NOTIFY, {"channel": INBOX_CHANNEL, "users": users})
    return Delivered(row.messages, row.inbox_items + len(extra), row.webhook_deliveries)


def deliver_batch(conn: Connection, limit: int = 100) -> int:
    """Claim and deliver up to `limit` messages in the caller's transaction; returns how
    many were delivered.

    A batch is one transaction, not one per message: the fan-out is a few set-based
    statements whatever the batch size, and a kill at any point (the process, the
    connection) rolls the whole batch back — inbox items, webhook deliveries, the
    delivered mark — and the server drops the row locks and the unsent NOTIFYs with it.
    The next run claims the same messages again and delivers them from scratch, so nothing
    is lost and nothing doubled; batches committed before the kill stay delivered. The
    price is row locks held for the few milliseconds the batch takes, which other workers
    skip rather than wait for.
    """
    return fan_out(conn, claim_pending(conn, limit)).messages


@dataclass
class WorkerTotals:
    """What a worker run delivered."""

    messages: int = 0
    inbox_items: int = 0
    webhook_deliveries_queued: int = 0
    webhooks: WebhookTotals = field(default_factory=WebhookTotals)
    sms: WebhookTotals = field(default_factory=WebhookTotals)


def _drain_outbox(
    engine: Engine,
    batch: int,
    totals: WorkerTotals,
    progress: Callable[[str], None],
    stop: threading.Event,
    sms: bool = False,
) -> int:
    """Deliver batches, each committed on its own, until one comes back short (or the
    worker is asked to stop); returns how many messages were delivered."""
    before = totals.messages
    while not stop.is_set():
        with engine.begin() as conn:
            done = fan_out(conn, claim_pending(conn, batch), sms=sms)
        if done.messages:
            totals.messages += done.messages
            totals.inbox_items += done.inbox_items
            totals.webhook_deliveries_queued += done.webhook_deliveries
            progress(
                f"delivered {done.messages} message(s): {done.inbox_items} inbox "
                f"item(s), {done.webhook_deliveries} webhook delivery(ies) queued"
            )
        if done.messages < batch:
            break
    return totals.messages - before


def _send(
    what: str,
    send_due: Callable[[float | None], WebhookTotals],
    into: WebhookTotals,
    batch: int,
    progress: Callable[[str], None],
    stop: threading.Event,
    budget: float | None,
) -> None:
    """Send due deliveries (`send_due(seconds)`, a batch at most) until none is due or
    `budget` seconds have gone (a failure is rescheduled into the future, so this ends);
    the progress line has counts only (never a phone, a text or a URL)."""
    ends = None if budget is None else time.monotonic() + budget
    while not stop.is_set():
        left = None if ends is None else ends - time.monotonic()
        if left is not None and left <= 0:
            return
        sent = send_due(left)
        if sent.attempted:
            into.add(sent)
            progress(
                f"{what}: {sent.delivered} delivered, {sent.retrying} to retry, "
                f"{sent.failed} given up"
            )
        if sent.attempted < batch:
            return


def _send_all(
    engine: Engine,
    client: httpx.Client,
    sms_client: httpx.Client | None,
    gateway: SmsGateway | None,
    batch: int,
    totals: WorkerTotals,
    progress: Callable[[str], None],
    stop: threading.Event,
    budget: float | None,
) -> None:
    """Due webhooks, then (with a gateway) due SMS, each for up to `budget` seconds."""
    _send(
        "webhooks",
        lambda left: send_due_webhooks(engine, client, limit=batch, seconds=left),
        totals.webhooks,
        batch,
        progress,
        stop,
        budget,
    )
    if gateway is not None and sms_client is not None:
        _send(
            "sms",
            lambda left: send_due_sms(engine, sms_client, gateway, limit=batch, seconds=left),
            totals.sms,
            batch,
            progress,
            stop,
            budget,
        )


@dataclass
class _Watch:
    """The worker's own connection: `pending()` probes for undelivered messages,
    `wait(seconds)` returns at the first NOTIFY on OUTBOX_CHANNEL or when the seconds are
    up, whichever comes first."""

    conn: Connection

    def pending(self) -> bool:
        return bool(self.conn.execute(_PENDING).scalar())

    def wait(self, seconds: float) -> None:
        raw = self.conn.connection.dbapi_connection
        if raw.notifies:  # heard while the probe ran
            raw.notifies.clear()
            return
        if select.select([raw], [], [], seconds)[0]:
            raw.poll()
            raw.notifies.clear()


@contextmanager
def _outbox_watch(engine: Engine) -> Iterator[_Watch]:
    """An autocommit connection LISTENing on OUTBOX_CHANNEL, for probes and waits."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("LISTEN gridgov_outbox")  # OUTBOX_CHANNEL
        try:
            yield _Watch(conn)
        finally:
            # The connection goes back to the pool: it must not keep listening there.
            try:
                conn.exec_driver_sql("UNLISTEN *")
            except DBAPIError:
                conn.invalidate()


def run_worker(
    engine: Engine,
    *,
    once: bool = False,
    poll_seconds: float = POLL_SECONDS,
    batch: int = 100,
    stop_event: threading.Event | None = None,
    max_loops: int | None = None,
    http_client: httpx.Client | None = None,
    progress: Callable[[str], None] | None = None,
    sms_gateway: SmsGateway | None = None,
) -> WorkerTotals:
    """Deliver the outbox and send due webhooks until stopped (`stop_event`, `max_loops`)
    or, with `once`, until nothing is left to do.

    Between rounds the worker probes the outbox every `poll_seconds` (a NOTIFY on
    gridgov_outbox, sent outside any report's transaction, wakes it sooner); due webhooks
    and SMS are looked for every SEND_POLL_SECONDS and after each batch that delivered.
    A looping worker outlives a database restart (it says so and tries again); with
    `once`, database errors end the run. Either way nothing uncommitted counts as
    delivered. SMS go to `sms_gateway`, else the one GRIDGOV_SMS_GATEWAY_URL names (none:
    no SMS).
    """
    report = progress or log.info
    stop = stop_event or threading.Event()
    totals = WorkerTotals()
    client = http_client or new_webhook_client(get_settings().webhook_allow_private)
    gateway = sms_gateway or configured_gateway()
    # The gateway is the operator's own configuration, not a caller's: no address vetting.
    sms_client = new_sms_client() if gateway else None
    try:
        if once:
            _drain_outbox(engine, batch, totals, report, stop, sms=gateway is not None)
            _send_all(engine, client, sms_client, gateway, batch, totals, report, stop, budget=None)
            return totals
        loops = 0
        while not stop.is_set():
            try:
                with _outbox_watch(engine) as watch:
                    sends_due = 0.0
                    while not stop.is_set():
                        delivered = 0
                        if watch.pending():
                            delivered = _drain_outbox(
                                engine, batch, totals, report, stop, sms=gateway is not None
                            )
                        if delivered or time.monotonic() >= sends_due:
                            _send_all(
                                engine,
                                client,
                                sms_client,
                                gateway,
                                batch,
                                totals,
                                report,
                                stop,
                                budget=WEBHOOK_ROUND_SECONDS,
                            )
                            sends_due = time.monotonic() + SEND_POLL_SECONDS
                        loops += 1
                        if max_loops is not None and loops >= max_loops:
                            return totals
                        watch.wait(poll_seconds)
            except (OperationalError, psycopg2.OperationalError) as exc:
                report(f"database unavailable ({exc}); retrying in {RECONNECT_SECONDS:g}s")
                stop.wait(RECONNECT_SECONDS)
        return totals
    finally:
        if http_client is None:
            client.close()
        if sms_client is not None:
            sms_client.close()
