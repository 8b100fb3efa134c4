"""Guessing limit of the reporter's look-up by tracking number and phone digits.

Four digits are 10,000 guesses: each tracking number gets LOOKUP_PER_NUMBER tries per
window whoever asks, and each address LOOKUP_PER_ADDRESS whatever number it asks about,
then 429. Tries are counted before the digits are checked, hits and misses alike, in
PostgreSQL beside the other rate limits (all worker processes share them), and they hold
whatever `rate_limits_enabled` says: this is a privacy control, not a throttle."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import text

from api.abuse import client_ip
from gis.abuse import address_key
from gis.errors import TooManyRequests

LOOKUP_PER_NUMBER = (5, 3600)  # tries per tracking number, per window of seconds
LOOKUP_PER_ADDRESS = (20, 3600)  # tries per client address (IPv6: per /64)
KEY_PREFIX = "reporter_lookup:"

_HIT = text(
    "INSERT INTO rate_limit_counters AS c (key, window_start, hits) "
    "SELECT k, s, 1 FROM unnest(CAST(:keys AS text[]), CAST(:starts AS timestamptz[])) "
    "AS t(k, s) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1 "
    "RETURNING key, hits"
)


def _window_start(now: float, seconds: int) -> datetime:
    return datetime.fromtimestamp(now // seconds * seconds, UTC)


async def count_lookup(request: Request, number: str) -> None:
    """Count one try at `number` from the caller's address; TooManyRequests (429) when
    either count is over its limit."""
    now = time.time()
    limits = {f"{KEY_PREFIX}number:{number}": LOOKUP_PER_NUMBER}
    ip = client_ip(request)
    if ip:
        limits[f"{KEY_PREFIX}ip:{address_key(ip)}"[:200]] = LOOKUP_PER_ADDRESS
    # Autocommit: the try stands although the request then fails.
    async with request.app.state.autocommit() as conn:
        rows = (await conn.execute(_HIT, {
            "keys": list(limits),
            "starts": [_window_start(now, seconds) for _, seconds in limits.values()],
        })).all()
    over = [key for key, hits in rows if hits > limits[key][0]]
    if over:
        seconds = max(limits[key][1] for key in over)
        raise TooManyRequests(max(1, math.ceil(seconds - now % seconds)),
                              "report look-up by phone digits")
