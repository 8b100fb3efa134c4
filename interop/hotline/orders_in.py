"""12345 hotline work orders in: each order is filed through report intake (channel
'hotline': routed, checked for likely duplicates, notified in the same transaction) and
its number, received time, time limit, request type (诉求类型) and first-contact deadline
kept beside the incident; by order number, a file sent twice files nothing twice.

First contact (首次联系): 12345 rules give the handling unit a time to take up an order
and reach the caller, 1 working day by default (GRIDGOV_HOTLINE_FIRST_CONTACT). Its
deadline runs from the order's received time on the working-day calendar and is stored
with the order; the order's accept deadline (签收) is held to it as well, so unaccepted
orders escalate by it. gridgov keeps no log of calls, so the export takes the first
签收 or the first on-site check-in, whichever came first, as the first contact.

Personal data: the caller's name and phone go only where any staff-filed report keeps
them, the incident's reporter fields (shown to the assignee and the managers over it,
never in public views). The order row keeps keyed hashes of what was sent (HMAC under
GRIDGOV_ID_HASH_KEY, as the register keeps ID numbers), enough to tell that a re-sent
order changed and in which fields; import reports name rows by order number and never
quote a name or a number."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import InvalidInput
from gis.spreadsheet_csv import SpreadsheetWriter
from grid.access import Principal
from grid.addresses import (
    MAX_QUERY_CHARS,
    address_fits,
    address_queries,
    building_number,
    confident,
    search_addresses,
)
from grid.importing.report import ImportReport
from incidents.handling.workdays import DeadlineRule, deadline
from incidents.intake.filing import IntakeContext, submit_report
from incidents.intake.schemas import ReportIn, Submission
from interop.hotline.csv_reading import (
    HASHED_FIELDS,
    HotlineIssue,
    OrderRow,
    RowProblem,
    check_row,
    read_records,
    record_fields,
    resolve_columns,
)
from interop.hotline.mapping import HotlineMapping

# Categories intake does not route (a fire burning now is a 119 call; a damage
# declaration needs a house of the register).
NOT_ROUTINE = {"fire.damage_declaration"}
_ROUTED_TO_A_CELL = {"inside", "nearest"}
# 首次联系: one working day from the order's received time unless configured otherwise.
DEFAULT_FIRST_CONTACT = "1wd"

Progress = Callable[[str], None]


@dataclass
class HotlineImportReport(ImportReport):
    """An import's outcome: the orders filed (with their tracking numbers and routing),
    those already filed (unchanged, or changed and therefore reported), rejected rows."""

    unchanged: int = 0
    changed: list[HotlineIssue] = field(default_factory=list)
    filed: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        verb = "would file" if self.dry_run else "filed"
        return (
            f"hotline: read {self.read}, {verb} {self.inserted} new orders, "
            f"{self.unchanged} already filed, {len(self.changed)} re-sent with changes "
            f"(not filed again), {len(self.rejected)} rejected, {len(self.repaired)} "
            f"warnings, {len(self.outside_cells)} outside every cell "
            f"({self.seconds:.1f}s)"
        )

    def as_dict(self) -> dict[str, Any]:
        """The whole report as plain data (JSON)."""
        return asdict(self)

    def write(self, path: Path) -> None:
        """Save as JSON (.json) or as CSV of the row issues (any other suffix)."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2), "utf-8")
            return
        with path.open("w", newline="", encoding="utf-8-sig") as out:
            writer = SpreadsheetWriter(out)
            writer.writerow(["outcome", "row", "order_number", "field", "reason", "原因"])
            for outcome, issues in (
                ("rejected", self.rejected),
                ("changed", self.changed),
                ("warning", self.repaired),
                ("outside_cells", self.outside_cells),
            ):
                for issue in issues:
                    writer.writerow(
                        [
                            outcome,
                            issue.row,
                            issue.external_id,
                            issue.field,
                            issue.reason,
                            getattr(issue, "reason_zh", ""),
                        ]
                    )


@commits
async def import_hotline_orders(
    session: AsyncSession,
    ctx: IntakeContext,
    path: Path,
    *,
    filer: Principal,
    hash_key: str,
    now: datetime,
    mapping: HotlineMapping | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    first_contact: DeadlineRule | str = DEFAULT_FIRST_CONTACT,
) -> HotlineImportReport:
    """File a 12345 export's new orders, committed (an error files none). `filer` is the
    staff account doing it (recorded on each report's 'created' step); the caller, who
    has no account, is the reporter. `first_contact` is the allowance for 首次联系
    ("1wd"). A dry run files inside a savepoint that is rolled back, so its report is
    exact."""
    if isinstance(first_contact, str):
        first_contact = DeadlineRule.parse(first_contact)
    started = time.monotonic()
    say = progress or (lambda _m: None)
    mapping = mapping or HotlineMapping.load()
    report = HotlineImportReport(kind="hotline", source=Path(path).name, dry_run=dry_run)
    # Parsing a large file is CPU work: off the event loop.
    records = await asyncio.to_thread(read_records, Path(path), encoding)
    columns = resolve_columns(records, mapping)
    report.read = len(records)
    say(f"read {report.read} orders; checking")
    rows = _checked_rows(records, columns, mapping, now, hash_key.encode(), report)
    await _check_categories(session, {row.category for row in rows if row.category})
    # One hotline import at a time: the orders looked up below must not be filed by
    # another import before this one writes.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov hotline'))"))
    known = await _filed_orders(session, [row.order_number for row in rows])
    savepoint = await session.begin_nested() if dry_run else None
    for row in rows:
        if row.order_number in known:
            _compare(row, known[row.order_number], report)
            continue
        try:
            async with session.begin_nested():  # a row is filed whole or not at all
                filed = await _file(session, ctx, row, filer, now, first_contact)
        except RowProblem as problem:
            report.rejected.append(_issue(row.row, row.order_number, problem))
            continue
        report.inserted += 1
        report.filed.append(filed)
        report.repaired.extend(row.warnings)
        if filed["routing_rule"] not in _ROUTED_TO_A_CELL:
            report.outside_cells.append(_outside_cells(row, filed["routing_rule"]))
        if report.inserted % 200 == 0:
            say(f"filed {report.inserted} orders")
    if savepoint is not None:
        await savepoint.rollback()
    report.rejected.sort(key=lambda issue: issue.row)
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


def _issue(row: int, order_number: str | None, problem: RowProblem) -> HotlineIssue:
    return HotlineIssue(row, order_number, problem.field, problem.reason_en, problem.reason_zh)


def _outside_cells(row: OrderRow, rule: str) -> HotlineIssue:
    """Filed, but no cell covers the place: the order waits in a queue for a manager."""
    return HotlineIssue(
        row.row,
        row.order_number,
        row.column("address" if row.lonlat is None else "lon"),
        f"no grid cell here (routing: {rule}): it waits for a manager to assign it",
        f"不在任何网格内（{rule}），等待管理人员派单",
    )


def _checked_rows(
    records: list[dict[str, Any]],
    columns: dict[str, list[str]],
    mapping: HotlineMapping,
    now: datetime,
    key: bytes,
    report: HotlineImportReport,
) -> list[OrderRow]:
    """The rows that pass their field checks, the first of each order number; the others
    are rejected with their field and reason."""
    rows: list[OrderRow] = []
    first_row: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        raw, used = record_fields(record, columns)
        try:
            row = check_row(raw, number, used, mapping, now, key)
        except RowProblem as problem:
            report.rejected.append(_issue(number, raw.get("order_number"), problem))
            continue
        if row.order_number in first_row:
            earlier = first_row[row.order_number]
            report.rejected.append(
                HotlineIssue(
                    number,
                    row.order_number,
                    row.column("order_number"),
                    f"the order number repeats row {earlier}",
                    f"工单编号与第 {earlier} 行重复",
                )
            )
            continue
        first_row[row.order_number] = number
        rows.append(row)
    return rows


async def _check_categories(session: AsyncSession, codes: set[str]) -> None:
    """Every gridgov category the mapping sends rows to is active and routine; otherwise
    the mapping is wrong and every such row would fail the same way."""
    if not codes:
        return
    found = dict(
        (
            await session.execute(
                text(
                    "SELECT code, is_emergency FROM incident_categories "
                    "WHERE active AND code = ANY(:c)"
                ),
                {"c": sorted(codes)},
            )
        ).all()
    )
    wrong = sorted(c for c in codes if c not in found or found[c] or c in NOT_ROUTINE)
    if wrong:
        raise InvalidInput(
            f"the hotline mapping files orders under {', '.join(wrong)}: not an active routine "
            "category (see GET /categories)",
            f"热线映射指向的类别不可用：{'、'.join(wrong)}（须为启用的常规类别）",
            field="mapping",
        )


async def _filed_orders(session: AsyncSession, numbers: list[str]) -> dict[str, Any]:
    rows = await session.execute(
        text("""
        SELECT o.order_number, o.field_hashes, i.tracking_number
        FROM hotline_orders o JOIN incidents i ON i.id = o.incident_id
        WHERE o.order_number = ANY(:numbers)
    """),
        {"numbers": numbers},
    )
    return {row.order_number: row for row in rows}


def _compare(row: OrderRow, filed: Any, report: HotlineImportReport) -> None:
    """An order filed before: unchanged is counted; changed is reported (which fields, not
    their values), never filed a second time."""
    # Only fields whose hash is still kept: retention removes the caller's, and an old
    # order sent again is not "changed" for that.
    changed = [
        name
        for name in HASHED_FIELDS
        if name in filed.field_hashes and filed.field_hashes[name] != row.hashes[name]
    ]
    if not changed:
        report.unchanged += 1
        return
    names = ", ".join(row.column(name) for name in changed)
    report.changed.append(
        HotlineIssue(
            row.row,
            row.order_number,
            names,
            f"filed before as {filed.tracking_number}; this copy differs in {names}: not filed "
            "again (pass the change to the handler)",
            f"该工单已受理（跟踪编号 {filed.tracking_number}），本次内容有变化（{names}），"
            "未重复受理，请转告承办人",
        )
    )


async def _file(
    session: AsyncSession,
    ctx: IntakeContext,
    row: OrderRow,
    filer: Principal,
    now: datetime,
    first_contact: DeadlineRule,
) -> dict[str, Any]:
    """Place, file and record one order; RowProblem when it cannot be."""
    building_id = None
    if row.lonlat is None:
        building_id = await _building_for(session, row)
    data = _report_in(row, building_id)
    try:
        submission = await submit_report(session, ctx, data, [], filer, now)
    except InvalidInput as exc:
        raise RowProblem(
            row.column(_FIELD_OF.get(exc.field or "", "content")),
            exc.message("en"),
            exc.message("zh-Hans"),
        ) from None
    assert isinstance(submission, Submission)  # emergencies are refused by _check_categories
    due = row.limit_until
    if row.limit_rule is not None and row.received_at is not None:
        due = deadline(row.received_at, row.limit_rule, ctx.calendar)
    resolve_due = datetime.fromisoformat(submission.resolve_due_at)
    if due is not None and due < resolve_due:
        resolve_due = due  # the hotline's time limit is the stricter one
    received = row.received_at or now
    contact_due = min(deadline(received, first_contact, ctx.calendar), resolve_due)
    await session.execute(
        _RECORD,
        {
            "incident_id": submission.rows.incident_id,
            "outbox_id": submission.rows.outbox_id,
            "order_number": row.order_number,
            "category_sent": row.category_sent,
            "received_at": received,
            "time_limit": row.time_limit,
            "due_at": due,
            "resolve_due": resolve_due,
            "resolve_due_text": resolve_due.isoformat(),
            "hashes": json.dumps(row.hashes),
            "request_type": row.request_type,
            "contact_due": contact_due,
        },
    )
    return {
        "row": row.row,
        "order_number": row.order_number,
        "tracking_number": submission.tracking_number,
        "status": submission.status,
        "category": submission.category,
        "cell_code": submission.cell_code,
        "routing_rule": submission.routing_rule,
        "resolve_due_at": resolve_due.isoformat(),
        "request_type": row.request_type,
        "first_contact_due_at": contact_due.isoformat(),
        "likely_duplicates": submission.likely_duplicates,
    }


# Intake's field names -> the hotline field they came from.
_FIELD_OF = {
    "lon": "lon",
    "lat": "lat",
    "coord_system": "coord_system",
    "address": "address",
    "building_id": "address",
    "description": "content",
    "category": "category",
    "answers": "category",
    "contact_name": "caller_name",
    "contact_phone": "caller_phone",
}


def _report_in(row: OrderRow, building_id: int | None) -> ReportIn:
    values = {
        "category": row.category,
        "address": row.address,
        "description": row.content,
        "channel": "hotline",
        "contact_name": row.caller_name,
        "contact_phone": row.caller_phone,
        "building_id": building_id,
    }
    if row.lonlat is not None:
        values.update(lon=row.lonlat[0], lat=row.lonlat[1], coord_system=row.coord_system)
    try:
        return ReportIn.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = _FIELD_OF.get(str(error["loc"][0]) if error["loc"] else "", "content")
        raise RowProblem(
            row.column(name), error["msg"], f"内容不符合要求：{error['msg']}"
        ) from None


async def _building_for(session: AsyncSession, row: OrderRow) -> int:
    """The register building an address names (road and number; block and room left
    off when the whole address finds nothing), else RowProblem."""
    assert row.address is not None
    # The building and house number, without the room after them (…先烈路165号3栋502 ->
    # …先烈路165号3栋 -> …先烈路165号); a building number given must be the hit's own.
    given = building_number(row.address)
    similar = None
    for query in address_queries(row.address):
        if len(query) > MAX_QUERY_CHARS:
            continue
        try:
            hits = [
                hit
                for hit in await search_addresses(session, query, limit=5)
                if address_fits(query, hit, given)
            ][:2]
        except InvalidInput:  # too short to search
            continue
        if hits and hits[0].contains:
            if (
                len(hits) > 1
                and hits[1].contains
                and hits[1].score == hits[0].score
                and hits[1].cell_code != hits[0].cell_code
            ):
                raise RowProblem(
                    row.column("address"),
                    "the address fits buildings in different grid cells; give "
                    "the full address or coordinates",
                    "地址对应多个网格中的楼栋，请补全地址或提供经纬度",
                )
            return hits[0].building_id
        if hits and similar is None and confident(query, hits[0], given):
            similar = hits[0]
    if similar is not None:
        row.warn(
            "address",
            "no building has this exact address: placed at the most "
            f"similar one, {similar.address}",
            f"未找到完全一致的地址，按最相近的 {similar.address} 定位",
        )
        return similar.building_id
    raise RowProblem(
        row.column("address"),
        "no building of the register matches this address; give coordinates",
        "登记的楼栋中找不到该地址，请提供经纬度",
    )


# The order beside its incident, and the hotline's time limit on the incident when it is
# the stricter one (so escalation and work lists follow it, and the assignee's first
# notification, still in the outbox, says so); 签收 is due by the first-contact deadline
# at the latest. The caller has no account: the incident
# has no reporter account (the filer stays on the 'created' step), so no staff inbox
# follows every change of every imported order.
_RECORD = text("""
WITH incident AS (
    UPDATE incidents SET reporter_id = NULL, resolve_due_at = :resolve_due,
        accept_due_at = LEAST(accept_due_at, :contact_due)
    WHERE id = :incident_id
    RETURNING id
), notice AS (
    -- The notification intake wrote, by the id it returned (outbox has no index by
    -- incident, and scanning the pending rows for every order made an import quadratic).
    UPDATE outbox SET payload = payload || jsonb_build_object(
        'resolve_due_at', CAST(:resolve_due_text AS text))
    WHERE id = :outbox_id AND delivered_at IS NULL
)
INSERT INTO hotline_orders (order_number, incident_id, category_sent, received_at,
                            time_limit, due_at, request_type, first_contact_due_at,
                            field_hashes)
SELECT :order_number, id, :category_sent, :received_at, :time_limit, :due_at,
       :request_type, :contact_due, CAST(:hashes AS jsonb)
FROM incident
""")
