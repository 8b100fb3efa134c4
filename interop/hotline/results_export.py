"""12345 hotline results out: per order that came from 12345, its request type, category
and the category's class in 城市管理部件和事件 (GB/T 30428.2), status, handling result
(the resolution note), first contact (首次联系: deadline, time, met), accepted/resolved/
closed times, the callback (好差评 rating, its rectification revisit) and satisfaction;
as CSV for Excel (UTF-8 with BOM, Chinese headers) or JSON. What was exported is marked,
so the next export holds only what is new or changed since. Nothing about the caller is
exported: 12345 has it already."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import CHINA_TZ
from core.database import commits
from gis.spreadsheet_csv import SpreadsheetWriter
from incidents.categories import category_spec
from incidents.ratings.scores import SCORE_LABELS
from incidents.status import Status
from interop.hotline.mapping import REQUEST_TYPES

# key -> CSV header, in column order.
COLUMNS = {
    "order_number": "工单编号",
    "tracking_number": "跟踪编号",
    "request_type_label": "诉求类型",
    "category_label": "问题类别",
    "standard_kind_label": "部件事件类型",
    "standard_major_code": "大类代码",
    "standard_major_name": "大类名称",
    "standard_minor_code": "小类代码",
    "standard_minor_name": "小类名称",
    "status_label": "办理状态",
    "handling_result": "办理结果",
    "handling_unit": "承办单位",
    "received_at": "受理时间",
    "first_contact_due_at": "首次联系期限",
    "first_contact_at": "首次联系时间",
    "first_contact_met": "首次联系是否按时",
    "accepted_at": "签收时间",
    "resolved_at": "办结时间",
    "closed_at": "核实办结时间",
    "resolve_due_at": "办理期限",
    "overdue": "是否超期",
    "callback_at": "回访时间",
    "callback_channel": "回访方式",
    "callback_result": "回访结果",
    "satisfaction": "满意度",
    "satisfaction_score": "满意度评分",
    "rectification_result": "整改回访结果",
    "rectification_satisfaction": "整改后满意度",
}
STATUS_LABELS = {
    "submitted": "待派单",
    "assigned": "已派单",
    "accepted": "已签收",
    "in_progress": "办理中",
    "resolved": "已办结待核实",
    "closed": "已办结",
    "rejected": "不予受理",
    "duplicate": "重复件",
    "transferred": "退回待重派",
    "reopened": "重新办理",
    "emergency_referral": "已转119",
}
CALLBACK_CHANNELS = {
    "account": "群众自评",
    "secret": "群众自评",
    "phone": "电话回访",
    "terminal": "终端评价",
    "default": "逾期默认评价",
}
STANDARD_KINDS = {"event": "事件", "component": "部件"}
_TIMES = (
    "received_at",
    "first_contact_due_at",
    "first_contact_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "resolve_due_at",
    "callback_at",
)


def _china(column: str) -> str:
    """A timestamp as China wall-clock text, the same whatever the session's time zone
    (the record's hash must not depend on the connection)."""
    return f"to_char({column} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')"


# The statuses whose last step carries the result the hotline is told (a closed report's
# is its resolving step), and the first acceptance, which counts as first contact.
_RESULT_PARAMS = {
    "with_result": [Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.EMERGENCY_REFERRAL],
    "closed": Status.CLOSED,
    "resolved": Status.RESOLVED,
    "accepted": Status.ACCEPTED,
}

# One record per order as the database knows it now, and the hash of that record: an
# order whose hash differs from the one last exported has something new to say. The
# handling result is the note of the step that reached the current outcome (a closed
# report's resolution note, a rejection's reason). First contact is the first 签收 or
# on-site check-in (see interop/hotline/orders_in.py); whether it was met is unknown (NULL) until
# it happens or its deadline passes, and that deadline passing is a change to export.
_RECORDS = text(f"""
WITH records AS (
    SELECT o.id, o.order_number, o.exported_hash,
           GREATEST(o.imported_at, i.updated_at, rt.created_at, w.revisited_at,
                    rr.created_at,
                    CASE WHEN contact.at IS NULL AND o.first_contact_due_at <= :now
                         THEN o.first_contact_due_at END) AS changed_at,
           jsonb_build_object(
               'order_number', o.order_number, 'tracking_number', i.tracking_number,
               'request_type', o.request_type, 'category', i.category_code,
               'category_label', c.label_zh,
               'status', i.status, 'result_note', result.note,
               'merged_into', d.tracking_number, 'handling_unit', g.name,
               'received_at', {_china("o.received_at")},
               'first_contact_due_at', {_china("o.first_contact_due_at")},
               'first_contact_at', {_china("contact.at")},
               'first_contact_met', CASE
                   WHEN o.first_contact_due_at IS NULL THEN NULL
                   WHEN contact.at IS NOT NULL THEN contact.at <= o.first_contact_due_at
                   WHEN CAST(:now AS timestamptz) > o.first_contact_due_at THEN false END,
               'accepted_at', {_china("i.accepted_at")},
               'resolved_at', {_china("i.resolved_at")},
               'closed_at', {_china("i.closed_at")},
               'resolve_due_at', {_china("i.resolve_due_at")},
               'overdue', COALESCE(i.resolved_at, CAST(:now AS timestamptz)) > i.resolve_due_at,
               'score', rt.overall, 'comment', rt.comment, 'channel', rt.channel,
               'defaulted', rt.defaulted, 'excluded', rt.excluded,
               'callback_at', {_china("rt.created_at")},
               'revisit_outcome', w.outcome, 'rerating', rr.overall
           ) AS record
    FROM hotline_orders o
    JOIN incidents i ON i.id = o.incident_id
    LEFT JOIN regions g ON g.id = i.region_id
    LEFT JOIN incident_categories c ON c.code = i.category_code
    LEFT JOIN incidents d ON d.id = i.duplicate_of_id
    LEFT JOIN LATERAL (
        SELECT e.note FROM incident_events e
        WHERE e.incident_id = i.id
          AND i.status = ANY(:with_result)
          AND e.to_status = CASE i.status WHEN :closed THEN :resolved ELSE i.status END
        ORDER BY e.at DESC, e.id DESC LIMIT 1
    ) result ON true
    LEFT JOIN LATERAL (
        SELECT min(e.at) AS at FROM incident_events e
        WHERE e.incident_id = i.id
          AND ((e.kind = 'transition' AND e.to_status = :accepted)
               OR (e.kind = 'check_in' AND e.data ->> 'on_site' = 'true'))
    ) contact ON true
    LEFT JOIN ratings rt ON rt.incident_id = i.id AND rt.kind = 'handling'
    LEFT JOIN work_orders w ON w.rating_id = rt.id
    LEFT JOIN ratings rr ON rr.work_order_id = w.id AND rr.kind = 'rectification'
)
SELECT id, record, md5(CAST(record AS text)) AS hash FROM records
WHERE CASE WHEN CAST(:since AS timestamptz) IS NULL
           THEN exported_hash IS DISTINCT FROM md5(CAST(record AS text))
           ELSE changed_at >= CAST(:since AS timestamptz) END
ORDER BY record ->> 'received_at', order_number
""")

_MARK = text("""
    UPDATE hotline_orders o SET exported_at = :now, exported_hash = m.hash
    FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS text[])) AS m(id, hash)
    WHERE o.id = m.id
""")


@dataclass(frozen=True)
class HotlineExport:
    """The results of the orders in one export, as 12345 reads them."""

    generated_at: datetime
    orders: list[dict[str, Any]]

    def to_csv(self) -> bytes:
        """UTF-8 with a byte-order mark (so Excel reads the Chinese), Chinese headers,
        China wall-clock times."""
        out = io.StringIO()
        writer = SpreadsheetWriter(out)
        writer.writerow(COLUMNS.values())
        for order in self.orders:
            writer.writerow([_csv_value(order[key]) for key in COLUMNS])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def to_json(self) -> bytes:
        """{"generated_at", "count", "orders": [...]} with ISO 8601 times (+08:00)."""
        orders = [{**order, **{k: _iso(order[k]) for k in _TIMES}} for order in self.orders]
        body = {
            "generated_at": self.generated_at.astimezone(CHINA_TZ).isoformat(),
            "count": len(orders),
            "orders": orders,
        }
        return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


async def export_hotline_results(
    session: AsyncSession,
    *,
    now: datetime,
    since: datetime | None = None,
    mark: bool = True,
) -> HotlineExport:
    """Orders new or changed since their last export (or, with `since`, every order that
    changed at or after it), marked as exported unless `mark` is false; inside the
    caller's transaction (the caller commits)."""
    rows = (await session.execute(_RECORDS, {"now": now, "since": since, **_RESULT_PARAMS})).all()
    if mark and rows:
        await session.execute(
            _MARK, {"now": now, "ids": [r.id for r in rows], "hashes": [r.hash for r in rows]}
        )
    return HotlineExport(now, [_order(row.record) for row in rows])


@commits
async def take_hotline_results(
    session: AsyncSession,
    *,
    now: datetime,
    since: datetime | None = None,
    mark: bool = True,
) -> HotlineExport:
    """`export_hotline_results` with its marks committed, for a caller that answers the
    export itself (over HTTP); the CLI commits only after it wrote the file."""
    return await export_hotline_results(session, now=now, since=since, mark=mark)


def _order(record: dict[str, Any]) -> dict[str, Any]:
    """One exported order from its record: labels, the handling result, the callback."""
    status = record["status"]
    result = record["result_note"]
    if status == "duplicate" and record["merged_into"]:
        result = f"重复件，并入 {record['merged_into']} 办理"
    score, rerating = record["score"], record["rerating"]
    request_type = record["request_type"]
    return {
        "order_number": record["order_number"],
        "tracking_number": record["tracking_number"],
        "request_type": request_type,
        "request_type_label": REQUEST_TYPES[request_type][0] if request_type else None,
        "category": record["category"],
        "category_label": record["category_label"],
        **_standard_class(record["category"]),
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "handling_result": result,
        "handling_unit": record["handling_unit"],
        **{key: record[key] for key in _TIMES if key != "callback_at"},
        "first_contact_met": record["first_contact_met"],
        "overdue": bool(record["overdue"]),
        "callback_at": record["callback_at"],
        "callback_channel": CALLBACK_CHANNELS.get(record["channel"]) if score else None,
        "callback_result": _callback_result(record),
        "satisfaction": SCORE_LABELS.get(score) if score else None,
        "satisfaction_score": score,
        "rectification_result": record["revisit_outcome"],
        "rectification_satisfaction": SCORE_LABELS.get(rerating) if rerating else None,
    }


def _standard_class(code: str) -> dict[str, Any]:
    """The category's class in 城市管理部件和事件 (from the bundled categories); blank for a
    category without one."""
    spec = category_spec(code)
    standard = spec.standard if spec else None
    return {
        "standard_kind": standard and standard.kind,
        "standard_kind_label": standard and STANDARD_KINDS[standard.kind],
        "standard_major_code": standard and standard.major,
        "standard_major_name": standard and standard.major_name,
        "standard_minor_code": standard and standard.minor,
        "standard_minor_name": standard and standard.minor_name,
    }


def _callback_result(record: dict[str, Any]) -> str:
    if not record["score"]:
        return "未评价"
    parts = [record["comment"] or SCORE_LABELS[record["score"]]]
    if record["defaulted"]:
        parts = ["逾期未评价，按默认评价记录"]
    if record["excluded"]:
        parts.append("经核定为无效评价，不计入统计")
    return "；".join(parts)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def _iso(wall_clock: str | None) -> str | None:
    """China wall-clock text as ISO 8601 with its offset."""
    if wall_clock is None:
        return None
    return datetime.fromisoformat(wall_clock).replace(tzinfo=CHINA_TZ).isoformat()
