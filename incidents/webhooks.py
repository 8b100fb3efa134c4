"""Webhooks: HMAC-signed POSTs of outbox messages to external receivers, retried with
exponential backoff and jitter until they succeed or give up.

A receiver checks `X-Gridgov-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
under the webhook's secret, and drops repeats by `X-Gridgov-Delivery` (delivery is at
least once: a worker killed after the POST but before its commit sends it again).
Messages may arrive out of order; the body's `created_at` orders them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from gis.errors import InvalidInput, NotFound

MAX_ATTEMPTS = 10
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2000

Outcome = Literal["delivered", "retrying", "failed"]


def validate_webhook_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host and no credentials; else a
    422 naming the field."""
    url = url.strip()
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        problem = ("is not a valid URL", "不是有效的网址")
    else:
        if len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
            problem = ("is too long or contains spaces or control characters",
                       "过长或含有空格、控制字符")
        elif parts.scheme not in ("http", "https"):
            problem = ("must start with http:// or https://", "必须以 http:// 或 https:// 开头")
        elif not parts.hostname:
            problem = ("has no host", "缺少主机名")
        elif parts.username is not None or parts.password is not None:
            # Every admin sees the URL; the secret is what authenticates gridgov.
            problem = ("must not contain credentials", "不能包含用户名或密码")
    if problem:
        raise InvalidInput(f"the webhook URL {problem[0]}", f"回调网址{problem[1]}",
                           field="url")
    return url


def new_secret() -> str:
    """A random signing secret (shown to the admin once)."""
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    """The X-Gridgov-Signature value for a body: 'sha256=' + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after `attempts` failed attempts: 30 s doubling each time, capped
    at an hour, with half of it random so receivers coming back are not hit in step."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def new_webhook_client() -> httpx.Client:
    """An HTTP client with short timeouts that never follows redirects (a redirect could
    send signed notifications to another host)."""
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False,
                        headers={"User-Agent": "gridgov-webhooks"})


@dataclass
class WebhookTotals:
    """How webhook attempts ended."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed

    def add(self, other: WebhookTotals) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed


# The lock on the delivery row lasts while its POST is under way: two workers never send
# the same delivery at once, and a killed worker's lock goes with its connection (no
# lease to wait out). The short timeout bounds how long that transaction stays open.
_CLAIM = text("""
    SELECT d.id, d.attempts, w.url, w.secret, o.id AS message_id, o.topic, o.payload,
           o.created_at
    FROM webhook_deliveries d
    JOIN webhooks w ON w.id = d.webhook_id
    JOIN outbox o ON o.id = d.outbox_id
    WHERE d.status = 'pending' AND w.active
      AND d.next_attempt_at <= coalesce(CAST(:now AS timestamptz), now())
    ORDER BY d.next_attempt_at, d.id
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
""")

_RECORD = text("""
    UPDATE webhook_deliveries SET
        attempts = attempts + 1,
        status = CAST(:status AS text),
        last_error = CAST(:error AS text),
        delivered_at = CASE WHEN CAST(:status AS text) = 'delivered'
                            THEN coalesce(CAST(:now AS timestamptz), now()) END,
        next_attempt_at = CASE WHEN CAST(:status AS text) = 'pending'
            THEN coalesce(CAST(:now AS timestamptz), now())
                 + make_interval(secs => CAST(:delay AS double precision))
            ELSE next_attempt_at END
    WHERE id = :id
""")


def webhook_body(message_id: int, topic: str, payload: Any, created_at: datetime) -> bytes:
    """The JSON body of a webhook POST (exactly the bytes that are signed)."""
    return json.dumps(
        {"id": message_id, "topic": topic, "payload": payload,
         "created_at": created_at.isoformat()},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()


def _post(client: httpx.Client, url: str, secret: str, delivery_id: int,
          body: bytes) -> str | None:
    """POST the body; None on a 2xx answer, else what went wrong."""
    headers = {
        "Content-Type": "application/json",
        "X-Gridgov-Signature": sign(secret, body),
        "X-Gridgov-Delivery": str(delivery_id),
        "X-Gridgov-Timestamp": str(int(time.time())),
    }
    try:
        with client.stream("POST", url, content=body, headers=headers,
                           follow_redirects=False) as response:
            if response.is_success:
                return None
            if response.is_redirect:
                return (f"HTTP {response.status_code}: redirect to "
                        f"{response.headers.get('location', '?')[:200]} not followed")
            # A little of the answer helps whoever reads last_error; never all of it.
            snippet = next(response.iter_bytes(200), b"")[:200]
            return f"HTTP {response.status_code}: {snippet.decode(errors='replace')}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]


def send_next_webhook(
    conn: Connection, client: httpx.Client, now: datetime | None = None,
    rng: random.Random | None = None,
) -> Outcome | None:
    """Send the most overdue pending delivery, in the caller's transaction, and record
    the outcome; None when nothing is due. `now` defaults to the database's clock."""
    due = conn.execute(_CLAIM, {"now": now}).first()
    if due is None:
        return None
    body = webhook_body(due.message_id, due.topic, due.payload, due.created_at)
    error = _post(client, due.url, due.secret, due.id, body)
    attempts = due.attempts + 1
    if error is None:
        outcome: Outcome = "delivered"
    elif attempts >= MAX_ATTEMPTS:
        outcome = "failed"
    else:
        outcome = "retrying"
    conn.execute(_RECORD, {
        "id": due.id, "now": now, "error": error,
        "status": "pending" if outcome == "retrying" else outcome,
        "delay": retry_delay(attempts, rng) if outcome == "retrying" else 0.0,
    })
    return outcome


def send_due_webhooks(
    engine: Engine, client: httpx.Client, *, limit: int = 100, now: datetime | None = None,
    seconds: float | None = None,
) -> WebhookTotals:
    """Send up to `limit` due deliveries, each in its own transaction (so one slow
    receiver holds one row lock, not a batch); with `seconds`, start none after that."""
    totals = WebhookTotals()
    ends = None if seconds is None else time.monotonic() + seconds
    while totals.attempted < limit and (ends is None or time.monotonic() < ends):
        with engine.begin() as conn:
            outcome = send_next_webhook(conn, client, now)
        if outcome is None:
            break
        setattr(totals, outcome, getattr(totals, outcome) + 1)
    return totals


# Registering webhooks (request path, async).

_LIST = text("""
    SELECT w.id, w.url, w.topics, w.active, w.created_at,
           count(*) FILTER (WHERE d.status = 'pending') AS pending,
           count(*) FILTER (WHERE d.status = 'failed') AS failed,
           max(d.delivered_at) AS last_delivered_at
    FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
    GROUP BY w.id
    ORDER BY w.id
""")

# A deactivated webhook's pending deliveries are given up, so they leave the due queue.
_DEACTIVATE = text("""
    WITH hook AS (
        UPDATE webhooks SET active = false WHERE id = :id RETURNING id
    )
    UPDATE webhook_deliveries d SET status = 'failed', last_error = 'webhook deactivated'
    FROM hook WHERE d.webhook_id = hook.id AND d.status = 'pending'
    RETURNING d.id
""")


async def create_webhook(
    session: AsyncSession, url: str, topics: list[str], secret: str | None
) -> dict[str, Any]:
    """Register a receiver in the caller's transaction; the answer carries the secret
    (generated when none is given), the only time it is shown."""
    secret = secret or new_secret()
    row = (await session.execute(text("""
        INSERT INTO webhooks (url, secret, topics) VALUES (:url, :secret, :topics)
        RETURNING id, url, topics, active, created_at
    """), {"url": validate_webhook_url(url), "secret": secret,
           "topics": sorted(set(topics))})).mappings().one()
    return dict(row) | {"secret": secret}


async def list_webhooks(session: AsyncSession) -> list[dict[str, Any]]:
    """Every webhook with its delivery counts; never the secrets."""
    return [dict(r) for r in (await session.execute(_LIST)).mappings()]


async def deactivate_webhook(session: AsyncSession, webhook_id: int) -> None:
    """Stop sending to a webhook (its pending deliveries are given up); 404 if unknown."""
    exists = (await session.execute(text("SELECT 1 FROM webhooks WHERE id = :id"),
                                    {"id": webhook_id})).first()
    if exists is None:
        raise NotFound(f"no webhook {webhook_id}", f"未找到回调 {webhook_id}")
    await session.execute(_DEACTIVATE, {"id": webhook_id})
