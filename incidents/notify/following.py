"""Following a report without its secret: tracking numbers as people type them, the
reporter proven by the last four digits of the phone they gave, a signed-in resident's
own reports, open reports nearby as the report page lists them, and followers (我也遇到):
someone who sees the same hazard follows it instead of filing it again, and hears what
the reporter hears (inbox for an account, SMS for a phone)."""

from __future__ import annotations

import hmac
import re
import unicodedata
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, InvalidInput, NotFound
from grid.phone_patterns import MOBILE
from incidents.intake.phones import normalise_phone

# The alphabet's one home is the module that makes the numbers.
from incidents.intake.tracking import _ALPHABET as TRACKING_ALPHABET
from incidents.lifecycle import OPEN as OPEN_STATUSES
from incidents.notify.sms import MESSAGES_ZH

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


async def my_reports(
    session: AsyncSession, user_id: int, limit: int = MAX_MY_REPORTS
) -> list[dict[str, Any]]:
    """The reports an account filed, newest first: what the tracking page shows of each
    at a glance (no place, no text)."""
    rows = (await session.execute(_MINE, {"user": user_id, "limit": limit})).mappings()
    return [
        {
            "tracking_number": r["tracking_number"],
            "status": r["status"],
            "category": {
                "code": r["category_code"],
                "label_zh": r["label_zh"],
                "label_en": r["label_en"],
            },
            "created_at": r["created_at"].isoformat(),
            "closed_at": r["closed_at"] and r["closed_at"].isoformat(),
            "rated": r["rated"],
        }
        for r in rows
    ]


# What the report page lists of an open report nearby (the numbers come from intake's
# nearness check, measured from the public place): category, status, the place as the
# public may see it (the building's address where the category is shown by building or
# exactly and the report names a building, else the cell's name; never the pin or the
# address typed), the day it was filed, and how many follow it.
_OPEN_REPORTS = text("""
    SELECT i.tracking_number, i.status, i.category_code, k.label_zh, k.label_en,
           i.created_at,
           CASE WHEN k.public_precision <> 'cell' AND b.address IS NOT NULL THEN b.address
                ELSE c.name END AS place_label,
           (SELECT count(*) FROM incident_followers f WHERE f.incident_id = i.id)
               AS followers
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    LEFT JOIN grid_cells c ON c.id = i.cell_id
    LEFT JOIN buildings b ON b.id = i.building_id
    WHERE i.tracking_number = ANY(:numbers)
""")


async def open_reports_detail(session: AsyncSession, numbers: list[str]) -> list[dict[str, Any]]:
    """The report page's line for each of these reports, in the order given."""
    if not numbers:
        return []
    rows = {
        r["tracking_number"]: r
        for r in (await session.execute(_OPEN_REPORTS, {"numbers": numbers})).mappings()
    }
    return [
        {
            "tracking_number": n,
            "status": r["status"],
            "category": {
                "code": r["category_code"],
                "label_zh": r["label_zh"],
                "label_en": r["label_en"],
            },
            "place_label": r["place_label"],
            "created_on": r["created_at"].date().isoformat(),
            "followers": r["followers"],
        }
        for n in numbers
        if (r := rows.get(n)) is not None
    ]


def follower_phone(typed: str) -> str:
    """A phone a follower gives, normalised (a mainland mobile or +international, since
    the messages are SMS); 422 naming `phone` otherwise."""
    phone = normalise_phone(typed)
    if phone is None or "-" in phone or not (re.fullmatch(MOBILE, phone) or phone.startswith("+")):
        raise InvalidInput(
            "phone must be a mobile number that can receive SMS",
            "请填写能接收短信的手机号码",
            field="phone",
        )
    return phone


# One follower per account or phone and report (the unique keys; a second try adds
# nothing); the reporter already hears everything, so following their own report adds
# nothing either. Only an open report can be followed.
_FOLLOW = text("""
WITH target AS (
    SELECT id, status, reporter_id,
           regexp_replace(coalesce(reporter_phone, ''), '[^0-9]', '', 'g') AS reporter_digits
    FROM incidents WHERE tracking_number = :t
), added AS (
    INSERT INTO incident_followers (incident_id, user_id, phone)
    SELECT id, CAST(:user AS integer), CAST(:phone AS text) FROM target
    WHERE status = ANY(:open)
      AND (CAST(:user AS integer) IS NULL
           OR reporter_id IS DISTINCT FROM CAST(:user AS integer))
      AND (CAST(:phone AS text) IS NULL OR right(reporter_digits, 11)
           <> right(regexp_replace(CAST(:phone AS text), '[^0-9]', '', 'g'), 11))
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT t.id, t.status, EXISTS (SELECT FROM added) AS added,
       (SELECT count(*) FROM incident_followers f WHERE f.incident_id = t.id) AS followers
FROM target t
""")

_COUNT = text("""
    SELECT i.id, (SELECT count(*) FROM incident_followers f WHERE f.incident_id = i.id)
               AS followers,
           EXISTS (SELECT FROM incident_followers f
                   WHERE f.incident_id = i.id AND f.user_id = CAST(:user AS integer))
               AS following
    FROM incidents i WHERE i.tracking_number = :t
""")


def _no_report(number: str) -> NotFound:
    return NotFound(f"no report {number}", f"未找到编号为 {number} 的上报")


@commits
async def add_follower(
    session: AsyncSession, number: str, *, user_id: int | None = None, phone: str | None = None
) -> dict[str, Any]:
    """Follow an open report as an account or a phone (exactly one), committed;
    files nothing. Answers the follower count and whether this call added
    one."""
    row = (
        await session.execute(
            _FOLLOW, {"t": number, "user": user_id, "phone": phone, "open": list(OPEN_STATUSES)}
        )
    ).first()
    if row is None:
        raise _no_report(number)
    if row.status not in OPEN_STATUSES:
        raise Conflict(
            f"report {number} is {row.status}: only open reports are followed",
            "该上报已办结或不再处理，无需关注",
            field="tracking_number",
        )
    # The statement's count was read before its own insert.
    return {"followers": row.followers + int(row.added), "following": True, "added": row.added}


async def follower_count(
    session: AsyncSession, number: str, user_id: int | None = None
) -> dict[str, Any]:
    """How many follow a report (and whether this account does): a count, nobody's
    identity."""
    row = (await session.execute(_COUNT, {"t": number, "user": user_id})).first()
    if row is None:
        raise _no_report(number)
    return {"followers": row.followers, "following": row.following}


# What a follower hears about: what the reporter hears (incidents/notify/sms.py), the close
# without the request to rate (only the reporter rates).
FOLLOWER_WORDS = {**MESSAGES_ZH, "incident.close": "已办结，处理结果可在进度查询页面查看。"}
FOLLOWER_TOPICS = tuple(FOLLOWER_WORDS)
FOLLOWER_SMS = "【网格治理】您关注的隐患（编号 {tracking_number}）{message}"

# The words are made here, from public fields only; the phone stays on the follower row.
_FOLLOWER_SMS = text("""
    INSERT INTO sms_deliveries (outbox_id, incident_id, follower_id, body, next_attempt_at)
    SELECT o.id, o.incident_id, f.id,
           replace(replace(CAST(:template AS text), '{tracking_number}',
                           coalesce(o.payload->>'tracking_number', '')),
                   '{message}', w.words),
           now()
    FROM outbox o
    JOIN unnest(CAST(:topics AS text[]), CAST(:words AS text[])) AS w(topic, words)
      ON w.topic = o.topic
    JOIN incident_followers f ON f.incident_id = o.incident_id AND f.phone IS NOT NULL
    WHERE o.id = ANY(:ids)
    ORDER BY o.id, f.id
    ON CONFLICT (outbox_id, follower_id, alert_id) DO NOTHING
""")


def queue_follower_sms(conn: Connection, ids: list[int]) -> int:
    """Queue an SMS to each follower with a phone for these outbox messages, in the
    delivering transaction (a redelivered message queues nothing more); how many. Their
    inbox items come with the message's own (incidents/notify/outbox.py _FAN_OUT)."""
    return conn.execute(
        _FOLLOWER_SMS,
        {
            "ids": ids,
            "topics": list(FOLLOWER_TOPICS),
            "words": [FOLLOWER_WORDS[t] for t in FOLLOWER_TOPICS],
            "template": FOLLOWER_SMS,
        },
    ).rowcount
