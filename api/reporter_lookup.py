"""Guessing limit of the reporter's look-up by tracking number and phone digits.

Four digits are 10,000 guesses: each tracking number gets LOOKUP_PER_NUMBER tries per
window whoever asks, and each address LOOKUP_PER_ADDRESS whatever number it asks about,
then 429. Tries are counted before the digits are checked, hits and misses alike, in
PostgreSQL beside the other rate limits (all worker processes share them), and they hold
whatever `rate_limits_enabled` says (RateLimiter.count): this is a privacy control, not a
throttle."""

from __future__ import annotations

from fastapi import Request

from api.abuse import client_ip

LOOKUP_PER_NUMBER = (5, 3600)  # tries per tracking number, per window of seconds
LOOKUP_PER_ADDRESS = (20, 3600)  # tries per client address (IPv6: per /64)
_RULES = {"number": LOOKUP_PER_NUMBER, "ip": LOOKUP_PER_ADDRESS}


async def count_lookup(request: Request, number: str) -> None:
    """Count one try at `number` from the caller's address; TooManyRequests (429) when
    either count is over its limit."""
    tally = await request.app.state.limiter.count(
        "reporter_lookup", _RULES, number=number, ip=client_ip(request)
    )
    tally.refuse("report look-up by phone digits")
