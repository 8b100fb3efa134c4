"""Webhooks: HMAC-signed POSTs of outbox messages to external receivers, retried with
exponential backoff and jitter until they succeed or give up.

A receiver checks `X-Gridgov-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
under the webhook's secret, and drops repeats by `X-Gridgov-Delivery` (delivery is at
least once: a worker killed after the POST but before its commit sends it again).
Messages may arrive out of order; the body's `created_at` orders them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpcore
import httpx
from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import InvalidInput, NotFound

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
            problem = (
                "is too long or contains spaces or control characters",
                "过长或含有空格、控制字符",
            )
        elif parts.scheme not in ("http", "https"):
            problem = ("must start with http:// or https://", "必须以 http:// 或 https:// 开头")
        elif not parts.hostname:
            problem = ("has no host", "缺少主机名")
        elif parts.username is not None or parts.password is not None:
            # Every admin sees the URL; the secret is what authenticates gridgov.
            problem = ("must not contain credentials", "不能包含用户名或密码")
    if problem:
        raise InvalidInput(f"the webhook URL {problem[0]}", f"回调网址{problem[1]}", field="url")
    return url


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def forbidden_target(address: str, allow: Iterable[Network] = ()) -> bool:
    """True when a receiver at `address` would reach inside: loopback (the app itself),
    private, link-local (cloud metadata at 169.254.169.254), multicast, CGNAT, reserved or
    unspecified (0.0.0.0 reaches loopback) — unless a network in `allow` lists it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = mapped
    if any(ip.version == n.version and ip in n for n in _networks(allow)):
        return False
    return not ip.is_global or ip.is_multicast


def _networks(allow: Iterable[Network | str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(str(n), strict=False) for n in allow)


def _refused(address: str) -> InvalidInput:
    return InvalidInput(
        f"the webhook URL reaches {address}, a loopback, private, link-local or multicast "
        "address; list its network in GRIDGOV_WEBHOOK_ALLOW_PRIVATE to allow it",
        f"回调网址指向 {address}（本机、内网、链路本地或组播地址）；如确需使用，"
        "请在 GRIDGOV_WEBHOOK_ALLOW_PRIVATE 中列出该网段",
        field="url",
    )


async def check_webhook_target(
    url: str, allow: Iterable[Network] = (), own_host: str | None = None
) -> None:
    """Refuse (422 naming `url`) a receiver that is the app itself or resolves to any
    forbidden address. A name that does not resolve now is let through: delivery checks
    the addresses again when it connects, and only ever connects to a checked one."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if own_host and host == own_host.rstrip(".").lower():
        raise _refused(host)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return
        addresses = [info[4][0] for info in infos]
    allow = _networks(allow)
    for address in addresses:
        if forbidden_target(address, allow):
            raise _refused(address)


class _VettedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass `forbidden_target`, resolving the name once and
    connecting to the checked address (a name re-bound to 127.0.0.1 after a check, DNS
    rebinding, gains nothing). TLS still verifies the certificate of the URL's name."""

    def __init__(self, allow: Iterable[Network]) -> None:
        self.allow = _networks(allow)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [info[4][0] for info in infos]
        refused = [a for a in addresses if forbidden_target(a, self.allow)]
        if refused or not addresses:
            raise httpcore.ConnectError(
                f"refused: {host} resolves to {refused[0] if refused else 'nothing'} "
                "(loopback, private, link-local or multicast; see "
                "GRIDGOV_WEBHOOK_ALLOW_PRIVATE)"
            )
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


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


def new_webhook_client(allow_private: Iterable[Network] = ()) -> httpx.Client:
    """An HTTP client with short timeouts that never follows redirects (a redirect could
    send signed notifications to another host), ignores proxy settings of the
    environment, and connects only to public addresses or those in `allow_private`."""
    transport = httpx.HTTPTransport()
    # httpx offers no argument for the network backend; its pool takes one.
    transport._pool._network_backend = _VettedBackend(allow_private)
    return httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        transport=transport,
        headers={"User-Agent": "gridgov-webhooks"},
    )


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


def attempt_recorder(table: str) -> TextClause:
    """The statement recording one attempt on a delivery table (webhook_deliveries,
    sms_deliveries: the same status, attempts and schedule columns), for
    `record_attempt`."""
    # Delivered: no error; retried: a delay (none otherwise), so no status is spelled here.
    return text(f"""
        UPDATE {table} SET
            attempts = attempts + 1,
            status = CAST(:status AS text),
            last_error = CAST(:error AS text),
            delivered_at = CASE WHEN CAST(:error AS text) IS NULL
                                THEN coalesce(CAST(:now AS timestamptz), now()) END,
            next_attempt_at = coalesce(
                coalesce(CAST(:now AS timestamptz), now())
                + make_interval(secs => CAST(:delay AS double precision)),
                next_attempt_at)
        WHERE id = :id
    """)


_RECORD = attempt_recorder("webhook_deliveries")


def record_attempt(
    conn: Connection,
    record: TextClause,
    delivery_id: int,
    attempts_before: int,
    error: str | None,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    give_up: bool = False,
) -> Outcome:
    """Record how one attempt went (`error` None: delivered) with `record` (from
    `attempt_recorder`): a failure is retried after `retry_delay` until MAX_ATTEMPTS, or
    given up at once with `give_up`."""
    attempts = attempts_before + 1
    if error is None:
        outcome: Outcome = "delivered"
    elif give_up or attempts >= MAX_ATTEMPTS:
        outcome = "failed"
    else:
        outcome = "retrying"
    conn.execute(
        record,
        {
            "id": delivery_id,
            "now": now,
            "error": error,
            "status": "pending" if outcome == "retrying" else outcome,
            "delay": retry_delay(attempts, rng) if outcome == "retrying" else None,
        },
    )
    return outcome


def send_due(
    engine: Engine,
    send_next: Callable[[Connection], Outcome | None],
    *,
    limit: int = 100,
    seconds: float | None = None,
) -> WebhookTotals:
    """Call `send_next` (one due delivery, or None when nothing is due) up to `limit`
    times, each in its own transaction (so one slow receiver holds one row lock, not a
    batch); with `seconds`, start none after that."""
    totals = WebhookTotals()
    ends = None if seconds is None else time.monotonic() + seconds
    while totals.attempted < limit and (ends is None or time.monotonic() < ends):
        with engine.begin() as conn:
            outcome = send_next(conn)
        if outcome is None:
            break
        setattr(totals, outcome, getattr(totals, outcome) + 1)
    return totals


def webhook_body(message_id: int, topic: str, payload: Any, created_at: datetime) -> bytes:
    """The JSON body of a webhook POST (exactly the bytes that are signed)."""
    return json.dumps(
        {
            "id": message_id,
            "topic": topic,
            "payload": payload,
            "created_at": created_at.isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def _post(client: httpx.Client, url: str, secret: str, delivery_id: int, body: bytes) -> str | None:
    """POST the body; None on a 2xx answer, else what went wrong."""
    headers = {
        "Content-Type": "application/json",
        "X-Gridgov-Signature": sign(secret, body),
        "X-Gridgov-Delivery": str(delivery_id),
        "X-Gridgov-Timestamp": str(int(time.time())),
    }
    try:
        with client.stream(
            "POST", url, content=body, headers=headers, follow_redirects=False
        ) as response:
            if response.is_success:
                return None
            if response.is_redirect:
                return (
                    f"HTTP {response.status_code}: redirect to "
                    f"{response.headers.get('location', '?')[:200]} not followed"
                )
            # A little of the answer helps whoever reads last_error; never all of it.
            snippet = next(response.iter_bytes(200), b"")[:200]
            return f"HTTP {response.status_code}: {snippet.decode(errors='replace')}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]


def send_next_webhook(
    conn: Connection,
    client: httpx.Client,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Outcome | None:
    """Send the most overdue pending delivery, in the caller's transaction, and record
    the outcome; None when nothing is due. `now` defaults to the database's clock."""
    due = conn.execute(_CLAIM, {"now": now}).first()
    if due is None:
        return None
    body = webhook_body(due.message_id, due.topic, due.payload, due.created_at)
    error = _post(client, due.url, due.secret, due.id, body)
    return record_attempt(conn, _RECORD, due.id, due.attempts, error, now=now, rng=rng)


def send_due_webhooks(
    engine: Engine,
    client: httpx.Client,
    *,
    limit: int = 100,
    now: datetime | None = None,
    seconds: float | None = None,
) -> WebhookTotals:
    """Send up to `limit` due deliveries (see `send_due`)."""
    return send_due(
        engine, lambda conn: send_next_webhook(conn, client, now), limit=limit, seconds=seconds
    )


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


@commits
async def create_webhook(
    session: AsyncSession,
    url: str,
    topics: list[str],
    secret: str | None,
    allow_private: Iterable[Network] = (),
    own_host: str | None = None,
) -> dict[str, Any]:
    """Register a receiver, committed; the answer carries the secret
    (generated when none is given), the only time it is shown."""
    await check_webhook_target(validate_webhook_url(url), allow_private, own_host)
    secret = secret or new_secret()
    row = (
        (
            await session.execute(
                text("""
        INSERT INTO webhooks (url, secret, topics) VALUES (:url, :secret, :topics)
        RETURNING id, url, topics, active, created_at
    """),
                {"url": validate_webhook_url(url), "secret": secret, "topics": sorted(set(topics))},
            )
        )
        .mappings()
        .one()
    )
    return dict(row) | {"secret": secret}


async def list_webhooks(session: AsyncSession) -> list[dict[str, Any]]:
    """Every webhook with its delivery counts; never the secrets."""
    return [dict(r) for r in (await session.execute(_LIST)).mappings()]


@commits
async def deactivate_webhook(session: AsyncSession, webhook_id: int) -> None:
    """Stop sending to a webhook (its pending deliveries are given up); 404 if unknown."""
    exists = (
        await session.execute(text("SELECT 1 FROM webhooks WHERE id = :id"), {"id": webhook_id})
    ).first()
    if exists is None:
        raise NotFound(f"no webhook {webhook_id}", f"未找到回调 {webhook_id}")
    await session.execute(_DEACTIVATE, {"id": webhook_id})
