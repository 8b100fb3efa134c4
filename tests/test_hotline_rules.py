"""12345 rules (issue 16): each order's request type (咨询/求助/投诉/举报/建议) read, stored
and exported; the first-contact deadline (首次联系, 1 working day by default) computed on
the working-day calendar, met or not; the category's class in 城市管理部件和事件 exported."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from api.app import intake_context
from core.clock import CHINA_TZ
from core.errors import InvalidInput
from grid.access import load_principal
from incidents.handling.actions import ActionRequest, take_action
from incidents.handling.workdays import deadline
from interop.hotline.mapping import HotlineMapping
from interop.hotline.orders_in import import_hotline_orders
from interop.hotline.results_export import COLUMNS, export_hotline_results
from tests.factories import (
    app_on_session,
    assign,
    auth_headers,
    make_building,
    make_user,
    make_world,
)

HEADERS = ["工单编号", "诉求内容", "地址", "诉求类别", "诉求类型", "受理时间"]
ADDRESS = "测试市测试区先烈路165号"


@pytest.fixture
async def scene(db):
    """周网格 on cell a1 with 先烈路165号; an admin."""
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    admin = await make_user(db, "root", "admin", None, "管理员")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    await make_building(db, world.cell_a1, (100, 100, 150, 150), address=ADDRESS)
    return world, {"worker": worker, "admin": admin}


def _row(number: str, received: datetime, **fields: str) -> dict[str, str]:
    base = {
        "工单编号": number,
        "诉求内容": "楼道里三辆电动车在充电",
        "地址": ADDRESS,
        "诉求类别": "电动车入户充电",
        "诉求类型": "投诉",
        "受理时间": received.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return base | fields


def _csv(rows: list[dict[str, str]], headers: list[str] = HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


async def _import(db, settings, users, path, now, **options):
    filer = await load_principal(db, users["admin"].id)
    return await import_hotline_orders(
        db,
        intake_context(settings),
        path,
        filer=filer,
        hash_key=settings.id_hash_key.get_secret_value(),
        now=now,
        **options,
    )


async def _order(db, number: str):
    return (
        (
            await db.execute(
                text("""
        SELECT o.request_type, o.first_contact_due_at, i.tracking_number, i.accept_due_at
        FROM hotline_orders o JOIN incidents i ON i.id = o.incident_id
        WHERE o.order_number = :n"""),
                {"n": number},
            )
        )
        .mappings()
        .one()
    )


def _china(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


async def test_each_request_type_goes_in_and_comes_back_with_the_category_class(
    client, db, settings, scene
):
    _world, users = scene
    admin = auth_headers(users["admin"], settings)
    received = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    sent = {
        "Q1": "咨询",
        "Q2": "求助",
        "Q3": "投诉",
        "Q4": "举报",
        "Q5": "建议",
        "Q6": "Complaint",
        "Q7": "举报类",
        "Q8": "",
    }
    rows = [_row(n, received, 诉求类型=t) for n, t in sent.items()]
    rows[0]["诉求类别"] = "路灯不亮"  # a component (部件) beside the events
    response = await client.post(
        "/admin/hotline/imports",
        headers=admin,
        files={"file": ("工单.csv", _csv(rows), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["inserted"], response.json()["rejected"]) == (8, [])
    stored = {n: (await _order(db, n))["request_type"] for n in sent}
    assert stored == {
        "Q1": "inquiry",
        "Q2": "help",
        "Q3": "complaint",
        "Q4": "tip_off",
        "Q5": "suggestion",
        "Q6": "complaint",
        "Q7": "tip_off",
        "Q8": None,
    }

    exported = await client.post("/admin/hotline/exports?format=csv&dry_run=true", headers=admin)
    assert exported.status_code == 200, exported.text
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0] == list(COLUMNS.values())
    by_number = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert {n: r["诉求类型"] for n, r in by_number.items()} == {
        "Q1": "咨询",
        "Q2": "求助",
        "Q3": "投诉",
        "Q4": "举报",
        "Q5": "建议",
        "Q6": "投诉",
        "Q7": "举报",
        "Q8": "",
    }
    light, ebike = by_number["Q1"], by_number["Q3"]
    assert [light[h] for h in ("问题类别", "部件事件类型", "大类代码", "大类名称", "小类名称")] == [
        "路灯损坏",
        "部件",
        "01",
        "公用设施",
        "路灯",
    ]
    assert [ebike[h] for h in ("部件事件类型", "大类代码", "大类名称", "小类代码", "小类名称")] == [
        "事件",
        "06",
        "扩展事件",
        "",
        "电动自行车违规停放充电",
    ]

    body = (await client.post("/admin/hotline/exports?format=json", headers=admin)).json()
    orders = {o["order_number"]: o for o in body["orders"]}
    assert {n: o["request_type"] for n, o in orders.items()} == stored
    assert (
        orders["Q3"]["standard_kind"],
        orders["Q3"]["standard_major_code"],
        orders["Q3"]["category"],
    ) == ("event", "06", "fire.ebike_indoor")
    # Not yet due and nobody has taken it up: whether it was met is not known yet.
    assert orders["Q3"]["first_contact_at"] is None
    assert orders["Q3"]["first_contact_met"] is None


async def test_the_mapping_can_default_a_missing_request_type(db, settings, scene, tmp_path):
    _world, users = scene
    now = datetime.now(UTC)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("D1", now, 诉求类型="")]))
    override = tmp_path / "m.toml"
    override.write_text(
        '[defaults]\nrequest_type = "help"\n[values.request_type]\n"求援" = "help"\n',
        encoding="utf-8",
    )
    mapping = HotlineMapping.load(override)
    assert mapping.request_type_for("求援") == "help"
    report = await _import(db, settings, users, path, now, mapping=mapping)
    assert report.rejected == [] and report.filed[0]["request_type"] == "help"
    assert (await _order(db, "D1"))["request_type"] == "help"


async def test_an_unknown_request_type_is_a_row_error_naming_the_field(
    db, settings, scene, tmp_path
):
    _world, users = scene
    now = datetime.now(UTC)
    path = tmp_path / "orders.csv"
    path.write_bytes(
        _csv(
            [_row("U1", now), _row("U2", now, 诉求类型="表扬"), _row("U3", now, 诉求类型="x" * 500)]
        )
    )
    report = await _import(db, settings, users, path, now)
    assert [(i.row, i.external_id, i.field) for i in report.rejected] == [
        (2, "U2", "诉求类型"),
        (3, "U3", "诉求类型"),
    ]
    assert "表扬" in report.rejected[0].reason and "投诉" in report.rejected[0].reason_zh
    assert [f["order_number"] for f in report.filed] == ["U1"]
    # Under its English name too.
    path = tmp_path / "orders.json"
    path.write_text(
        json.dumps(
            [
                {
                    "order_number": "U4",
                    "content": "井盖缺失",
                    "address": ADDRESS,
                    "request_type": "praise",
                }
            ]
        ),
        encoding="utf-8",
    )
    english = await _import(db, settings, users, path, now)
    assert [(i.external_id, i.field) for i in english.rejected] == [("U4", "request_type")]


def test_a_mapping_naming_an_unknown_request_type_is_refused(tmp_path):
    override = tmp_path / "m.toml"
    override.write_text('[values.request_type]\n"表扬" = "praise"\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        HotlineMapping.load(override)
    assert refused.value.field == "mapping" and "praise" in str(refused.value)


async def test_first_contact_is_due_one_working_day_on_across_a_weekend_and_is_judged(
    db, settings, scene, tmp_path
):
    _world, users = scene
    # 2026-11-27 is a Friday, 11-30 a Monday; no holiday near.
    friday, saturday = _china(2026, 11, 27, 16), _china(2026, 11, 28, 10)
    now = _china(2026, 12, 2, 10)  # Wednesday: every deadline below has passed
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("F1", friday), _row("F2", saturday), _row("F3", friday)]))
    report = await _import(db, settings, users, path, now)
    assert report.rejected == [] and report.inserted == 3
    f1, f2, f3 = [await _order(db, n) for n in ("F1", "F2", "F3")]
    # Friday 16:00 + 1 working day: Monday 16:00, not Saturday.
    assert f1["first_contact_due_at"] == f3["first_contact_due_at"] == _china(2026, 11, 30, 16)
    # A Saturday order's clock starts Monday 09:00: due Tuesday 09:00.
    assert f2["first_contact_due_at"] == _china(2026, 12, 1, 9)
    # 签收 is held to the first-contact deadline.
    assert f1["accept_due_at"] == f1["first_contact_due_at"]

    ctx, worker = intake_context(settings), await load_principal(db, users["worker"].id)
    await take_action(
        db,
        ctx,
        worker,
        f1["tracking_number"],
        ActionRequest("accept"),
        _china(2026, 11, 30, 15, 30),
    )  # Monday, in time
    await take_action(
        db, ctx, worker, f2["tracking_number"], ActionRequest("accept"), _china(2026, 12, 1, 10)
    )  # Tuesday 10:00, late
    export = await export_hotline_results(db, now=now, mark=False)
    orders = {o["order_number"]: o for o in export.orders}
    assert [
        (orders[n]["first_contact_at"], orders[n]["first_contact_met"]) for n in ("F1", "F2", "F3")
    ] == [("2026-11-30 15:30:00", True), ("2026-12-01 10:00:00", False), (None, False)]
    assert orders["F1"]["first_contact_due_at"] == "2026-11-30 16:00:00"
    table = list(csv.reader(io.StringIO(export.to_csv().decode("utf-8-sig"))))
    rows = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert [rows[n]["首次联系是否按时"] for n in ("F1", "F2", "F3")] == ["是", "否", "否"]
    assert rows["F2"]["首次联系期限"] == "2026-12-01 09:00:00"
    in_json = {o["order_number"]: o for o in json.loads(export.to_json())["orders"]}
    assert in_json["F1"]["first_contact_due_at"] == "2026-11-30T16:00:00+08:00"


async def test_the_first_contact_allowance_is_configurable(db, settings, scene, tmp_path):
    _world, users = scene
    friday, now = _china(2026, 11, 27, 16), _china(2026, 12, 2, 10)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("C1", friday)]))
    await _import(db, settings, users, path, now, first_contact="4wh")
    # 4 working hours from Friday 16:00: two on Friday, two on Monday from 08:30.
    assert (await _order(db, "C1"))["first_contact_due_at"] == _china(2026, 11, 30, 10, 30)


async def test_the_api_takes_the_first_contact_allowance_from_settings(db, settings, scene):
    _world, users = scene
    app = app_on_session(settings.model_copy(update={"hotline_first_contact": "2wd"}), db)
    received = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    # A blue-tier category: ten working days to resolve, so first contact is not cut short.
    row = _row("S1", received, 诉求类别="路灯不亮")
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(
            "/admin/hotline/imports",
            headers=auth_headers(users["admin"], settings),
            files={"file": ("o.csv", _csv([row]), "text/csv")},
        )
    assert response.status_code == 200, response.text
    [filed] = response.json()["filed"]
    calendar = intake_context(settings).calendar
    expected = deadline(received, "2wd", calendar)
    assert expected != deadline(received, "1wd", calendar)
    assert datetime.fromisoformat(filed["first_contact_due_at"]) == expected
    assert (await _order(db, "S1"))["first_contact_due_at"] == datetime.fromisoformat(
        filed["first_contact_due_at"]
    )
