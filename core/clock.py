"""Whose "today": days (assignments in force, working days) are China's local days,
whatever zone the server runs in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime | None = None) -> date:
    """The China date of a moment (default: now). Between 00:00 and 08:00 China time the
    UTC date is still yesterday's, so never use `moment.date()` on a UTC time."""
    return (moment or datetime.now(UTC)).astimezone(CHINA_TZ).date()
