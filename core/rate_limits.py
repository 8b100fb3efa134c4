"""Abuse limits shared by every worker process: fixed-window rate limits counted in
PostgreSQL, and a ban list of networks and accounts (cached for a few seconds per
process, so checking it costs a request nothing)."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import Banned, TooManyRequests
from core.orm import Base
from core.raw_sql import Statements
from core.settings import Settings, parse_rate

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimitCounter(Base):
    """Hits of one key (scope, kind, value) in one window. An UNLOGGED table."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hits: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        PrimaryKeyConstraint("key", "window_start"),
        {"prefixes": ["UNLOGGED"]},
    )


class AccessBan(Base):
    """A network or an account refused everywhere until `expires_at` (None: until lifted)."""

    __tablename__ = "access_bans"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    network: Mapped[str | None] = mapped_column(CIDR)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("(network IS NULL) <> (user_id IS NULL)", name="one_target"),)


# One statement counts a request against all its keys and returns each key's total.
_HIT = text(
    "INSERT INTO rate_limit_counters AS c (key, window_start, hits) "
    "SELECT k, s, 1 FROM unnest(CAST(:keys AS text[]), CAST(:starts AS timestamptz[])) "
    "AS t(k, s) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1 "
    "RETURNING key, hits"
)


@dataclass
class RateLimiter:
    """Counts requests per scope against the configured limits."""

    settings: Settings
    # Yields a connection in autocommit: the count is one statement, one round trip, and
    # stands even when the request then fails (a wrong password is what must be counted).
    connect: Callable[[], AbstractAsyncContextManager[AsyncConnection | AsyncSession]]
    exempt: tuple[IPNetwork, ...] = field(init=False)

    rules: dict[str, tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.exempt = tuple(ipaddress.ip_network(str(n)) for n in self.settings.rate_limit_exempt)
        # Parsed once here, not on every request.
        self.rules = {name: parse_rate(rule) for name, rule in self.settings.rate_limits.items()}

    def windows(
        self,
        scope: str,
        keys: dict[str, str | int | None],
        rules: Mapping[str, tuple[int | None, int]] | None = None,
    ) -> tuple[dict[str, tuple[int | None, int]], list[datetime], float]:
        """The counter keys of a request with their rules, each key's current window start
        (in the same order) and the time now. `rules` ({kind: (hits, seconds)}) default to
        the configured `scope.kind` limits."""
        now = time.time()
        counted: dict[str, tuple[int | None, int]] = {}
        starts: list[datetime] = []
        for kind, value in keys.items():
            rule = self.rules.get(f"{scope}.{kind}") if rules is None else rules.get(kind)
            if value is None or rule is None:
                continue
            hits, seconds = rule
            if kind == "ip":
                value = address_key(str(value))
            # Keys hold no raw personal data beyond what the access log already has.
            key = f"{scope}:{kind}:{value}"[:200]
            counted[key] = (hits, seconds)
            starts.append(datetime.fromtimestamp(now // seconds * seconds, UTC))
        return counted, starts, now

    async def count(
        self,
        scope: str,
        rules: Mapping[str, tuple[int | None, int]] | None = None,
        statements: Statements | None = None,
        **keys: str | int | None,
    ) -> Tally:
        """Count one request of `scope` for each key given (ip=..., account=...) against
        `rules` ({kind: (hits, seconds)}, hits None for a window only counted; default the
        configured limits), whatever `rate_limits_enabled` and the exempt addresses say:
        the always-on form, for privacy controls rather than throttles. `statements`: a
        connection the request already holds, outside any transaction (the lean intake
        path), instead of one of `connect`'s."""
        counted, starts, now = self.windows(scope, keys, rules)
        if not counted:
            return Tally({}, 0)
        params = {"keys": list(counted), "starts": starts}
        if statements is None:
            async with self.connect() as conn:
                rows = (await conn.execute(_HIT, params)).all()
        else:
            rows = [(row["key"], row["hits"]) for row in await statements.all(_HIT, params)]
        # Every window over its limit must have ended before a retry can pass.
        waits = []
        for key, hits in rows:
            limit, seconds = counted[key]
            if limit is not None and hits > limit:
                waits.append(math.ceil(seconds - now % seconds))
        # A key is scope:kind:value, and neither scope nor kind holds a colon.
        return Tally(
            {key.split(":", 2)[1]: hits for key, hits in rows}, max(1, max(waits)) if waits else 0
        )

    async def check(
        self, scope: str, statements: Statements | None = None, **keys: str | int | None
    ) -> None:
        """Count one request of `scope` for each key given (ip=..., account=...,
        username=...); TooManyRequests when any of them is over its limit. A throttle:
        off when rate limits are disabled or the address is exempt. `statements` as in
        count."""
        if not self.settings.rate_limits_enabled or _in_any(keys.get("ip"), self.exempt):
            return
        (await self.count(scope, statements=statements, **keys)).refuse(scope)


@dataclass(frozen=True)
class Tally:
    """One request's counts: each kind's hits in its current window, and the seconds until
    every window over its limit has ended (0 when none is over)."""

    hits: dict[str, int]
    retry_after: int

    def refuse(self, what: str) -> None:
        """TooManyRequests naming `what` when any count is over its limit."""
        if self.retry_after:
            raise TooManyRequests(self.retry_after, what)


# One IPv6 subscriber gets a whole /64 and may use any address in it: counting per /128
# would give them 2**64 fresh limits.
IPV6_CLIENT_PREFIX = 64


def address_key(ip: str) -> str:
    """What the per-address limits count: the IPv4 address, or the IPv6 client's /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return str(mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


# Peeks at counters without counting.
_HITS = text(
    "SELECT c.key, c.hits FROM rate_limit_counters c "
    "JOIN unnest(CAST(:keys AS text[]), CAST(:starts AS timestamptz[])) AS t(k, s) "
    "ON c.key = t.k AND c.window_start = t.s"
)
# How long an address stays "this user's own" after they signed in from it.
KNOWN_ADDRESS_SECONDS = 30 * 86400


@dataclass
class LoginThrottle:
    """Slows password guessing without letting a stranger lock a user out.

    Only failures count: per (user name, address) `login.pair`, per address `login.ip`
    and per user name `login.username`. An address over its limits gets 429 with
    Retry-After, whatever the password; other addresses are not affected. The per-name
    ceiling bounds a guess spread over many addresses; it does not apply to an address
    the user signed in from in the last KNOWN_ADDRESS_SECONDS, so the real user still
    gets in while their name is under attack. Successful logins count against nothing
    (an office behind one address signs in as often as it needs)."""

    limiter: RateLimiter

    def _keys(self, username: str, ip: str | None, known: bool) -> dict[str, str | None]:
        address = address_key(ip) if ip else None
        return {
            "pair": f"{username}@{address}" if address else None,
            "ip": address,
            "username": None if known else username,
        }

    async def refuse_if_over(self, username: str, ip: str | None) -> None:
        """TooManyRequests when this address may not try this name now (counts nothing)."""
        limiter = self.limiter
        if not limiter.settings.rate_limits_enabled or _in_any(ip, limiter.exempt):
            return
        known = await self._is_known_address(username, ip)
        rules, starts, now = limiter.windows("login", self._keys(username, ip, known))
        if not rules:
            return
        async with limiter.connect() as conn:
            rows = (await conn.execute(_HITS, {"keys": list(rules), "starts": starts})).all()
        waits = [
            math.ceil(rules[key][1] - now % rules[key][1])
            for key, hits in rows
            if hits >= rules[key][0]
        ]
        if waits:
            raise TooManyRequests(max(1, max(waits)), "login")

    async def failed(self, username: str, ip: str | None) -> None:
        """Count a failed login of this name from this address."""
        limiter = self.limiter
        if not limiter.settings.rate_limits_enabled or _in_any(ip, limiter.exempt):
            return
        await limiter.count("login", **self._keys(username, ip, False))

    async def succeeded(self, username: str, ip: str | None) -> None:
        """Remember this address as the user's own (exempt from the per-name ceiling)."""
        if not self.limiter.settings.rate_limits_enabled or ip is None:
            return
        async with self.limiter.connect() as conn:
            await conn.execute(
                _HIT,
                {
                    "keys": [self._known_key(username, ip)],
                    "starts": [self._known_window(time.time())],
                },
            )

    async def _is_known_address(self, username: str, ip: str | None) -> bool:
        if ip is None:
            return False
        now = time.time()
        async with self.limiter.connect() as conn:
            rows = (
                await conn.execute(
                    _HITS,
                    {
                        "keys": [self._known_key(username, ip)] * 2,
                        "starts": [
                            self._known_window(now),
                            self._known_window(now - KNOWN_ADDRESS_SECONDS),
                        ],
                    },
                )
            ).all()
        return bool(rows)

    @staticmethod
    def _known_key(username: str, ip: str) -> str:
        return f"login:known:{username}@{address_key(ip)}"[:200]

    @staticmethod
    def _known_window(at: float) -> datetime:
        return datetime.fromtimestamp(at // KNOWN_ADDRESS_SECONDS * KNOWN_ADDRESS_SECONDS, UTC)


def autocommit_connections(
    engine: AsyncEngine,
) -> Callable[[], AbstractAsyncContextManager[AsyncConnection]]:
    """Pooled connections that run each statement on its own, without BEGIN/COMMIT."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection]:
        async with engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    return connect


def _in_any(ip: str | int | None, networks: tuple[IPNetwork, ...]) -> bool:
    if ip is None or not networks:
        return False
    try:
        address = ipaddress.ip_address(str(ip))
    except ValueError:
        return False
    return any(address in network for network in networks)


@dataclass
class BanList:
    """The ban list as one process sees it, reloaded at most every `ttl` seconds."""

    sessions: Callable[[], AsyncSession]
    ttl: float = 10.0
    networks: tuple[IPNetwork, ...] = ()
    accounts: frozenset[int] = frozenset()
    loaded_at: float = -math.inf
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, force: bool = False) -> None:
        """Reload from the database when stale (or when forced, after a change)."""
        if not force and time.monotonic() - self.loaded_at < self.ttl:
            return
        async with self._lock:
            if not force and time.monotonic() - self.loaded_at < self.ttl:
                return
            async with self.sessions() as session:
                rows = (
                    await session.execute(
                        text(
                            "SELECT network::text, user_id FROM access_bans "
                            "WHERE expires_at IS NULL OR expires_at > now()"
                        )
                    )
                ).all()
            self.networks = tuple(ipaddress.ip_network(n) for n, _ in rows if n is not None)
            self.accounts = frozenset(u for _, u in rows if u is not None)
            self.loaded_at = time.monotonic()

    async def refuse_address(self, ip: str | None) -> None:
        """Banned when the address is in a banned network."""
        await self.refresh()
        if _in_any(ip, self.networks):
            raise Banned()

    async def refuse_account(self, user_id: int) -> None:
        """Banned when the account is."""
        await self.refresh()
        if user_id in self.accounts:
            raise Banned()
