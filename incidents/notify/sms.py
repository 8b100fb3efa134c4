"""SMS to reporters through an HTTP gateway: a status change, the result, a request to
rate, for reports filed with a contact phone.

The outbox worker (incidents/notify/outbox.py) queues an sms_deliveries row for each message on
a topic below whose report has a phone, in the transaction that delivers the message, and
sends due rows one at a time: a POST of JSON {id, to, text} to GRIDGOV_SMS_GATEWAY_URL.
Delivery is at least once (a worker killed after the POST but before its commit sends it
again) and the gateway drops repeats by `id` (also sent as X-Gridgov-Message-Id), which is
the outbox message's, the same on every attempt. No URL configured: SMS is off, nothing
is queued.

The phone is read from the incident when sending and goes into the gateway request only:
not into the delivery row, its error text, the worker's progress lines or any log.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Connection, Engine, text

from core.settings import Settings, get_settings
from incidents.notify.webhooks import (
    TIMEOUT_SECONDS,
    Outcome,
    WebhookTotals,
    attempt_recorder,
    record_attempt,
    send_due,
)

# What the reporter hears about (the handling actions' outbox topics) and the words for
# it; the rest (assignment, transfer) is the office's business.
MESSAGES_ZH = {
    "incident.accept": "已受理，网格员将尽快处理。",
    "incident.start": "正在处理。",
    "incident.resolve": "已处理完毕，待复核。",
    "incident.close": "已办结。请在进度查询页面查看处理结果并评价。",
    "incident.reject": "未予受理，原因可在进度查询页面查看。",
    "incident.mark_duplicate": "与已有上报重复，将一并处理。",
    "incident.reopen": "已重新办理。",
    "incident.refer_emergency": "已转 119 处置。",
}
SMS_TOPICS = tuple(MESSAGES_ZH)
# The words a text is sent in unless GRIDGOV_SMS_TEMPLATE says otherwise (one home).
DEFAULT_TEMPLATE: str = Settings.model_fields["sms_template"].default
_PLACEHOLDERS = {"tracking_number", "message", "status"}


@dataclass(frozen=True)
class SmsGateway:
    """Where messages go and how they read."""

    url: str
    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        names = {part.split("}", 1)[0] for part in self.template.split("{")[1:]}
        if not names <= _PLACEHOLDERS:
            raise ValueError(
                f"SMS template: unknown placeholder(s) {sorted(names - _PLACEHOLDERS)}"
                f"; use {sorted(_PLACEHOLDERS)}"
            )

    def text_for(self, topic: str, payload: dict) -> str:
        """The message a reporter gets for an outbox message."""
        return self.template.format(
            tracking_number=payload.get("tracking_number", ""),
            status=payload.get("status", ""),
            message=MESSAGES_ZH.get(topic, ""),
        )


def configured_gateway() -> SmsGateway | None:
    """The gateway from GRIDGOV_SMS_*; None when no URL is set (SMS off)."""
    settings = get_settings()
    if not settings.sms_gateway_url:
        return None
    return SmsGateway(settings.sms_gateway_url.strip(), settings.sms_template)


def new_sms_client() -> httpx.Client:
    """Short timeouts, no redirects, no proxy from the environment."""
    return httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "gridgov-sms"},
    )


# Queued in the fan-out's transaction: a redelivered message queues nothing more.
_QUEUE = text("""
    INSERT INTO sms_deliveries (outbox_id, incident_id, next_attempt_at)
    SELECT o.id, o.incident_id, now()
    FROM outbox o JOIN incidents i ON i.id = o.incident_id
    WHERE o.id = ANY(:ids) AND o.topic = ANY(:topics) AND i.reporter_phone IS NOT NULL
    ORDER BY o.id
    ON CONFLICT (outbox_id, follower_id, alert_id) DO NOTHING
""")


def queue_sms(conn: Connection, ids: list[int]) -> int:
    """Queue an SMS for each of these outbox messages a reporter with a phone hears about,
    in the caller's transaction; how many were queued."""
    return conn.execute(_QUEUE, {"ids": ids, "topics": list(SMS_TOPICS)}).rowcount


# The row lock lasts while the POST is under way: two workers never send one at once.
# A follower's or an area alert's row goes to that phone (incidents/notify/following.py queues
# them with their words), never falling back to the reporter's.
_CLAIM = text("""
    SELECT d.id, d.attempts, o.id AS message_id, o.topic, o.payload, d.body,
           d.follower_id, d.alert_id,
           CASE WHEN d.follower_id IS NOT NULL THEN f.phone
                WHEN d.alert_id IS NOT NULL THEN a.phone
                ELSE i.reporter_phone END AS phone
    FROM sms_deliveries d
    JOIN outbox o ON o.id = d.outbox_id
    JOIN incidents i ON i.id = d.incident_id
    LEFT JOIN incident_followers f ON f.id = d.follower_id
    LEFT JOIN area_alerts a ON a.id = d.alert_id
    WHERE d.status = 'pending'
      AND d.next_attempt_at <= coalesce(CAST(:now AS timestamptz), now())
    ORDER BY d.next_attempt_at, d.id
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
""")

_RECORD = attempt_recorder("sms_deliveries")


def message_id(outbox_id: int, follower_id: int | None = None, alert_id: int | None = None) -> str:
    """The id the gateway (and the phone's user) sees: one per outbox message and
    recipient (the reporter, a follower or an area alert), the same on every attempt."""
    return f"gridgov-{outbox_id}" + (
        f"-f{follower_id}" if follower_id else f"-a{alert_id}" if alert_id else ""
    )


def _post(
    client: httpx.Client, gateway: SmsGateway, ident: str, phone: str, body_text: str
) -> str | None:
    """POST one message; None when the gateway took it, else what went wrong (in words
    that never hold the phone: no answer body, no request)."""
    body = json.dumps({"id": ident, "to": phone, "text": body_text}, ensure_ascii=False).encode()
    try:
        response = client.post(
            gateway.url,
            content=body,
            headers={"Content-Type": "application/json", "X-Gridgov-Message-Id": ident},
        )
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if response.is_success else f"HTTP {response.status_code}"


def send_next_sms(
    conn: Connection,
    client: httpx.Client,
    gateway: SmsGateway,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Outcome | None:
    """Send the most overdue pending SMS in the caller's transaction and record how it
    went ('delivered', 'retrying', 'failed'); None when nothing is due."""
    due = conn.execute(_CLAIM, {"now": now}).first()
    if due is None:
        return None
    if not due.phone:  # anonymised since (retention): nobody to tell
        error: str | None = "no phone on the report any more"
    else:
        # The gateway drops repeats by the id.
        error = _post(
            client,
            gateway,
            message_id(due.message_id, due.follower_id, due.alert_id),
            due.phone,
            due.body or gateway.text_for(due.topic, due.payload),
        )
    return record_attempt(
        conn, _RECORD, due.id, due.attempts, error, now=now, rng=rng, give_up=not due.phone
    )


def send_due_sms(
    engine: Engine,
    client: httpx.Client,
    gateway: SmsGateway,
    *,
    limit: int = 100,
    seconds: float | None = None,
) -> WebhookTotals:
    """Send up to `limit` due messages (see incidents.notify.webhooks.send_due)."""
    return send_due(
        engine, lambda conn: send_next_sms(conn, client, gateway), limit=limit, seconds=seconds
    )
