"""Following a report without its secret: tracking numbers as people type them, the
reporter proven by the last four digits of the phone they gave, and a signed-in
resident's own reports."""

from __future__ import annotations

import hmac
import re
import unicodedata
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The alphabet's one home is the module that makes the numbers.
from incidents.tracking import _ALPHABET as TRACKING_ALPHABET

TRACKING_NUMBER = re.compile(r"^[0-9]{6}-[0-9A-Z]{8}$")
PHONE_DIGITS = 4
MAX_MY_REPORTS = 100
# Crockford's base32 reads the letters it leaves out as the digits they look like.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_DASHES = re.compile(r"[-‐-―−－_]")


def canonical_tracking_number(typed: str) -> str | None:
    """`YYMMDD-XXXXXXXX` from a number as typed (any case, spaces, full-width characters,
    another dash or none, O for 0 and I or L for 1); None when it is not one."""
    flat = unicodedata.normalize("NFKC", typed)
    flat = "".join(flat.split()).upper().translate(_LOOK_ALIKES)
    flat = _DASHES.sub("", flat)
    if len(flat) != 14 or not flat[:6].isdigit():
        return None
    number = f"{flat[:6]}-{flat[6:]}"
    if any(c not in TRACKING_ALPHABET for c in flat[6:]):
        return None
    return number


_REPORTER = text("""
    SELECT id, reporter_phone, reporter_id FROM incidents WHERE tracking_number = :t
""")


def _last_digits(phone: str | None) -> str | None:
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


async def reporter_by_phone(session: AsyncSession, number: str, last4: str) -> int | None:
    """The report's id when `last4` are the last digits of the phone its reporter gave;
    None for an unknown number, a report without a phone, or other digits alike."""
    row = (await session.execute(_REPORTER, {"t": number})).first()
    given = _last_digits(row.reporter_phone) if row else None
    # Compared in constant time, and a dummy compare when there is nothing to compare.
    matches = hmac.compare_digest((given or "\0" * PHONE_DIGITS).encode(), last4.encode())
    return row.id if row is not None and given is not None and matches else None


_MINE = text("""
    SELECT i.tracking_number, i.status, i.category_code, k.label_zh, k.label_en,
           i.created_at, i.closed_at,
           EXISTS (SELECT FROM ratings g WHERE g.incident_id = i.id AND g.kind = 'handling')
               AS rated
    FROM incidents i JOIN incident_categories k ON k.code = i.category_code
    WHERE i.reporter_id = :user
    ORDER BY i.created_at DESC, i.id DESC
    LIMIT :limit
""")


async def my_reports(session: AsyncSession, user_id: int,
                     limit: int = MAX_MY_REPORTS) -> list[dict[str, Any]]:
    """The reports an account filed, newest first: what the tracking page shows of each
    at a glance (no place, no text)."""
    rows = (await session.execute(_MINE, {"user": user_id, "limit": limit})).mappings()
    return [
        {"tracking_number": r["tracking_number"], "status": r["status"],
         "category": {"code": r["category_code"], "label_zh": r["label_zh"],
                      "label_en": r["label_en"]},
         "created_at": r["created_at"].isoformat(),
         "closed_at": r["closed_at"] and r["closed_at"].isoformat(),
         "rated": r["rated"]}
        for r in rows
    ]
