"""Area alerts: a resident follows a community or a cell and hears about new fire hazards
there and their results, in the inbox or by SMS, with an unsubscribe link that works
without signing in.

Who hears is decided when the outbox worker delivers the report's own messages (the new
report's incident.assigned / incident.queued, and incident.close), not when the report is
written: intake stays one statement (incidents/intake/filing.py), a subscription made or removed
before delivery counts, and a redelivered message adds nothing (inbox items and SMS are
unique per message and recipient). What an alert carries is public only: tracking number,
category, the cell or community's name, never the reporter or the pin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import InvalidInput, NotFound
from core.settings import get_settings
from grid.sql_fragments import cell_in_force

# How an alert reaches its owner (area_alerts.channel, checked by migration 0023).
AlertChannel = Literal["inbox", "sms"]
# The group of categories alerts are about, and the outbox topics that mean "new" (the
# intake statement's, routed or queued) and "result".
ALERT_GROUP = "fire"
NEW_TOPICS = ("incident.assigned", "incident.queued")
RESULT_TOPIC = "incident.close"
MAX_ALERTS_PER_ACCOUNT = 20
UNSUBSCRIBE_PATH = "/alerts/unsubscribe"
_TOKEN_CONTEXT = b"gridgov-area-alert-unsubscribe\0"
ALERT_SMS = {
    "alert.new_hazard": "【网格治理】您关注的{area}新发现消防隐患：{label}"
    "（编号 {tracking_number}）。退订：{unsubscribe}",
    "alert.result": "【网格治理】您关注的{area}的消防隐患已办结：{label}"
    "（编号 {tracking_number}）。退订：{unsubscribe}",
}


def unsubscribe_token(alert_id: int, key: str) -> str:
    """A token naming one alert, signed with the service's key (HMAC-SHA256)."""
    tag = hmac.new(key.encode(), _TOKEN_CONTEXT + str(alert_id).encode(), hashlib.sha256)
    return f"{alert_id}.{tag.hexdigest()[:32]}"


def alert_of_token(token: str, key: str) -> int:
    """The alert a token names; 400-class error naming `token` when it is not one of ours."""
    head, _, _tag = token.partition(".")
    if (
        not head.isdigit()
        or len(head) > 18
        or not hmac.compare_digest(unsubscribe_token(int(head), key), token)
    ):
        raise InvalidInput("the unsubscribe link is not valid", "退订链接无效", field="token")
    return int(head)


def unsubscribe_url(alert_id: int, key: str, base: str = "") -> str:
    """The link that ends one alert."""
    return f"{base.rstrip('/')}{UNSUBSCRIBE_PATH}?token={unsubscribe_token(alert_id, key)}"


# The place an alert names: an active community by code, or a cell in force by code.
_COMMUNITY = text("SELECT id, name FROM regions WHERE code = :code AND level = 'community'")
_CELL = text(f"""
    SELECT code, name FROM grid_cells
    WHERE code = :code AND {cell_in_force("")}
""")

# One alert per account and place: a second request changes its channel and phone.
_UPSERT = text("""
    INSERT INTO area_alerts (user_id, region_id, cell_code, channel, phone)
    VALUES (:user, CAST(:region AS integer), CAST(:cell AS varchar), :channel,
            CAST(:phone AS varchar))
    ON CONFLICT (user_id, region_id, cell_code)
        DO UPDATE SET channel = EXCLUDED.channel, phone = EXCLUDED.phone
    RETURNING id, (xmax = 0) AS created
""")

_MINE = text(f"""
    SELECT a.id, a.channel, a.phone, a.created_at, a.cell_code, r.code AS region_code,
           coalesce(r.name, c.name) AS name
    FROM area_alerts a
    LEFT JOIN regions r ON r.id = a.region_id
    LEFT JOIN grid_cells c ON c.code = a.cell_code
        AND {cell_in_force("c")}
    WHERE a.user_id = :user
    ORDER BY a.id
""")


def _masked(phone: str | None) -> str | None:
    # The owner's own phone, shown as much as they need to recognise it.
    return phone and "*" * max(0, len(phone) - 4) + phone[-4:]


async def my_alerts(session: AsyncSession, user_id: int, key: str) -> list[dict[str, Any]]:
    """An account's alerts: the place, channel, the phone masked, the unsubscribe link."""
    rows = (await session.execute(_MINE, {"user": user_id})).mappings()
    return [
        {
            "id": r["id"],
            "region_code": r["region_code"],
            "cell_code": r["cell_code"],
            "name": r["name"],
            "channel": r["channel"],
            "phone": _masked(r["phone"]),
            "created_at": r["created_at"].isoformat(),
            "unsubscribe_url": unsubscribe_url(r["id"], key),
        }
        for r in rows
    ]


@commits
async def follow_area(
    session: AsyncSession,
    user_id: int,
    *,
    region_code: str | None,
    cell_code: str | None,
    channel: AlertChannel,
    phone: str | None,
) -> tuple[int, bool]:
    """Follow a community or a cell (exactly one); (the alert's id, whether it is new)."""
    if (region_code is None) == (cell_code is None):
        raise InvalidInput(
            "give region_code (a community) or cell_code, not both",
            "请选择社区或网格（二选一）",
            field="region_code",
        )
    if channel == "sms" and phone is None:
        raise InvalidInput("an SMS alert needs a phone", "短信提醒需要手机号码", field="phone")
    region_id = None
    if region_code is not None:
        region = (await session.execute(_COMMUNITY, {"code": region_code})).first()
        if region is None:
            raise InvalidInput(
                f"no community {region_code}", f"没有社区 {region_code}", field="region_code"
            )
        region_id = region.id
    elif (await session.execute(_CELL, {"code": cell_code})).first() is None:
        raise InvalidInput(f"no cell {cell_code}", f"没有网格 {cell_code}", field="cell_code")
    count = (
        await session.execute(
            text("SELECT count(*) FROM area_alerts WHERE user_id = :user"), {"user": user_id}
        )
    ).scalar_one()
    row = (
        await session.execute(
            _UPSERT,
            {
                "user": user_id,
                "region": region_id,
                "cell": cell_code,
                "channel": channel,
                "phone": phone if channel == "sms" else None,
            },
        )
    ).one()
    if row.created and count >= MAX_ALERTS_PER_ACCOUNT:
        raise InvalidInput(
            f"at most {MAX_ALERTS_PER_ACCOUNT} areas",
            f"最多关注 {MAX_ALERTS_PER_ACCOUNT} 个区域",
            field="region_code",
        )
    return row.id, row.created


@commits
async def stop_alert(session: AsyncSession, alert_id: int, user_id: int | None) -> bool:
    """End an alert (an account's own, or any with `user_id` None: the token was checked);
    whether there was one."""
    deleted = await session.execute(
        text(
            "DELETE FROM area_alerts WHERE id = :id "
            "AND (CAST(:user AS integer) IS NULL OR user_id = CAST(:user AS integer)) "
            "RETURNING id"
        ),
        {"id": alert_id, "user": user_id},
    )
    return deleted.first() is not None


@commits
async def stop_my_alert(session: AsyncSession, alert_id: int, user_id: int) -> None:
    """End one of an account's alerts; 404 for anyone else's."""
    if not await stop_alert(session, alert_id, user_id):
        raise NotFound(f"no alert {alert_id}", f"没有编号为 {alert_id} 的提醒")


# The subscribers who hear about these messages: fire hazards only, in the cell or the
# community of the report's cell (or of the queue it waits in); not the reporter, who
# hears about their own report anyway. Set-based, one statement per batch. Following
# both a cell and its community: one message per account and channel (the older alert's).
_SUBSCRIBERS = text("""
    SELECT DISTINCT ON (o.id, a.user_id, a.channel)
           o.id AS outbox_id, o.incident_id, o.created_at, a.id AS alert_id, a.user_id,
           a.channel,
           CASE WHEN o.topic = :result THEN 'alert.result' ELSE 'alert.new_hazard' END
               AS topic,
           i.tracking_number, i.category_code, k.label_zh, k.label_en,
           coalesce(CASE WHEN a.cell_code IS NOT NULL THEN c.name END, r.name, c.name)
               AS area
    FROM outbox o
    JOIN incidents i ON i.id = o.incident_id
    JOIN incident_categories k ON k.code = i.category_code AND k.group_code = :group
    LEFT JOIN grid_cells c ON c.id = i.cell_id
    JOIN area_alerts a ON a.cell_code = c.code OR a.region_id = c.community_id
                          OR a.region_id = i.region_id
    LEFT JOIN regions r ON r.id = a.region_id
    WHERE o.id = ANY(:ids) AND o.topic = ANY(:topics)
      AND (i.reporter_id IS NULL OR a.user_id <> i.reporter_id)
    ORDER BY o.id, a.user_id, a.channel, a.id
""")

_ALERT_INBOX = text("""
    INSERT INTO inbox_items (user_id, outbox_id, incident_id, topic, payload, created_at)
    SELECT * FROM unnest(CAST(:users AS integer[]), CAST(:outbox AS bigint[]),
                         CAST(:incidents AS bigint[]), CAST(:topics AS text[]),
                         CAST(:payloads AS jsonb[]), CAST(:at AS timestamptz[]))
    ON CONFLICT (outbox_id, user_id) DO NOTHING
    RETURNING user_id
""")

_ALERT_SMS = text("""
    INSERT INTO sms_deliveries (outbox_id, incident_id, alert_id, body, next_attempt_at)
    SELECT o, i, a, b, now()
    FROM unnest(CAST(:outbox AS bigint[]), CAST(:incidents AS bigint[]),
                CAST(:alerts AS bigint[]), CAST(:bodies AS text[])) AS t(o, i, a, b)
    ON CONFLICT (outbox_id, follower_id, alert_id) DO NOTHING
""")


def deliver_to_area_alerts(conn: Connection, ids: list[int], *, sms: bool, key: str) -> list[int]:
    """Inbox items (and with `sms` SMS) for the area alerts these outbox messages concern,
    in the delivering transaction; the accounts reached by inbox."""
    rows = (
        conn.execute(
            _SUBSCRIBERS,
            {
                "ids": ids,
                "group": ALERT_GROUP,
                "topics": [*NEW_TOPICS, RESULT_TOPIC],
                "result": RESULT_TOPIC,
            },
        )
        .mappings()
        .all()
    )
    inbox = [r for r in rows if r["channel"] == "inbox"]
    users: list[int] = []
    if inbox:
        users = list(
            conn.execute(
                _ALERT_INBOX,
                {
                    "users": [r["user_id"] for r in inbox],
                    "outbox": [r["outbox_id"] for r in inbox],
                    "incidents": [r["incident_id"] for r in inbox],
                    "topics": [r["topic"] for r in inbox],
                    "payloads": [json.dumps(_payload(r, key), ensure_ascii=False) for r in inbox],
                    "at": [r["created_at"] for r in inbox],
                },
            ).scalars()
        )
    texts = [r for r in rows if r["channel"] == "sms"]
    if sms and texts:
        base = get_settings().alerts_public_url
        conn.execute(
            _ALERT_SMS,
            {
                "outbox": [r["outbox_id"] for r in texts],
                "incidents": [r["incident_id"] for r in texts],
                "alerts": [r["alert_id"] for r in texts],
                "bodies": [
                    ALERT_SMS[r["topic"]].format(
                        area=r["area"] or "",
                        label=r["label_zh"],
                        tracking_number=r["tracking_number"],
                        unsubscribe=unsubscribe_url(r["alert_id"], key, base),
                    )
                    for r in texts
                ],
            },
        )
    return users


def _payload(row: Any, key: str) -> dict[str, Any]:
    # Public fields only: what anyone with the number sees on /track.
    return {
        "tracking_number": row["tracking_number"],
        "category": row["category_code"],
        "label_zh": row["label_zh"],
        "label_en": row["label_en"],
        "area": row["area"],
        "alert_id": row["alert_id"],
        "unsubscribe_url": unsubscribe_url(row["alert_id"], key),
    }
