"""12345 hotline exchange: orders from CSV (GBK, Chinese headers) and JSON filed through
intake and routed; idempotent by order number; bad rows reported and nothing half-filed;
the time limit as deadline; results exported back; admins only; callers never public."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from api.app import intake_context
from core.clock import CHINA_TZ
from core.errors import InvalidInput
from gis.coords import wgs84_to_bd09, wgs84_to_gcj02
from grid.access import load_principal
from incidents.handling.workdays import deadline
from interop.hotline.mapping import HotlineMapping
from interop.hotline.orders_in import import_hotline_orders
from interop.hotline.results_export import COLUMNS, export_hotline_results
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_region,
    make_user,
    make_world,
    metres_point,
)

HEADERS = [
    "工单编号",
    "来电人",
    "来电号码",
    "诉求内容",
    "地址",
    "经度",
    "纬度",
    "坐标系",
    "诉求类别",
    "办理时限",
    "受理时间",
]
CALLER, PHONE = "张小明", "13912345678"
NOW = datetime.now(UTC)
RECEIVED = (NOW - timedelta(hours=1)).astimezone(CHINA_TZ).replace(microsecond=0, tzinfo=None)


@pytest.fixture
async def scene(db):
    """a1: 周网格 with 先烈路165号; a2: 先烈路200号, nobody; b1: 吴网格 with 团结路8号;
    甲社区's manager; an admin; a resident."""
    world = await make_world(db)
    users = {
        "w_a1": await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格"),
        "w_b1": await make_user(db, "w-b1", "grid_worker", world.community_b, "吴网格"),
        "cm_a": await make_user(db, "cm-a", "community_manager", world.community_a, "王社区"),
        "admin": await make_user(db, "root", "admin", None, "管理员"),
        "resident": await make_user(db, "res", "resident", None, "居民"),
    }
    await assign(db, world.cell_a1, users["w_a1"], valid_from=date(2026, 1, 1))
    await assign(db, world.cell_b1, users["w_b1"], valid_from=date(2026, 1, 1))
    await make_building(db, world.cell_a1, (100, 100, 150, 150), address="测试市测试区先烈路165号")
    await make_building(db, world.cell_a2, (600, 100, 650, 150), address="测试市测试区先烈路200号")
    await make_building(db, world.cell_b1, (1200, 100, 1250, 150), address="测试市测试区团结路8号")
    return world, users


def _row(number: str, **fields) -> dict[str, str]:
    base = {
        "工单编号": number,
        "来电人": CALLER,
        "来电号码": PHONE,
        "诉求内容": "楼道里三辆电动车在充电",
        "地址": "测试市测试区先烈路165号3栋502",
        "诉求类别": "城乡建设-消防安全-电动车入户充电",
        "办理时限": "3个工作日",
        "受理时间": RECEIVED.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return base | fields


def _streetlight_at_b1(number: str) -> dict[str, str]:
    lon, lat = wgs84_to_gcj02(*metres_point(1300, 300))
    return _row(
        number,
        来电人="李四",
        来电号码="0755-86001234",
        诉求内容="路灯坏了一个星期",
        地址="",
        经度=f"{lon:.8f}",
        纬度=f"{lat:.8f}",
        坐标系="高德",
        诉求类别="路灯损坏",
        办理时限="5个工作日",
    )


def _csv(rows: list[dict[str, str]], encoding: str = "gbk") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


async def _import(db, settings, users, path, **options):
    filer = await load_principal(db, users["admin"].id)
    return await import_hotline_orders(
        db,
        intake_context(settings),
        path,
        filer=filer,
        hash_key=settings.id_hash_key.get_secret_value(),
        now=NOW,
        **options,
    )


async def _count(db, table: str) -> int:
    return (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar()


async def _incident(db, order_number: str):
    return (
        (
            await db.execute(
                text("""
        SELECT i.*, u.username AS assignee, c.code AS cell_code, o.due_at, o.received_at
        FROM hotline_orders o JOIN incidents i ON i.id = o.incident_id
        LEFT JOIN users u ON u.id = i.assignee_id LEFT JOIN grid_cells c ON c.id = i.cell_id
        WHERE o.order_number = :n"""),
                {"n": order_number},
            )
        )
        .mappings()
        .one()
    )


async def _act(client, settings, user, number, action, **body):
    response = await client.post(
        f"/incidents/{number}/actions",
        json={"action": action, **body},
        headers=auth_headers(user, settings),
    )
    assert response.status_code == 200, response.text


async def test_gbk_csv_with_chinese_headers_is_routed_and_its_results_go_back(
    client, db, settings, scene
):
    world, users = scene
    admin = auth_headers(users["admin"], settings)
    upload = _csv([_row("GD0001"), _streetlight_at_b1("GD0002")])
    response = await client.post(
        "/admin/hotline/imports", headers=admin, files={"file": ("工单.csv", upload, "text/csv")}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["rejected"]) == (2, [])
    assert CALLER not in response.text and PHONE not in response.text
    first, second = await _incident(db, "GD0001"), await _incident(db, "GD0002")
    # 先烈路165号 by address (block and room left off), the 高德 (GCJ-02) pin converted.
    assert (first["cell_code"], first["assignee"], first["category_code"]) == (
        world.cell_a1.code,
        "w-a1",
        "fire.ebike_indoor",
    )
    assert (second["cell_code"], second["assignee"], second["category_code"]) == (
        world.cell_b1.code,
        "w-b1",
        "community.streetlight",
    )
    assert (first["channel"], first["reporter_id"]) == ("hotline", None)
    assert (first["reporter_name"], first["reporter_phone"]) == (CALLER, PHONE)
    stored = (
        await db.execute(text("SELECT CAST(json_agg(o) AS text) FROM hotline_orders o"))
    ).scalar()
    assert CALLER not in stored and PHONE not in stored and "86001234" not in stored

    number = first["tracking_number"]
    await _act(client, settings, users["w_a1"], number, "accept")
    await _act(client, settings, users["w_a1"], number, "resolve", note="已劝离电动车并张贴告示")
    await _act(client, settings, users["cm_a"], number, "close")
    # Recorded by someone other than the closer (issue 15, item 4).
    rated = await client.post(
        f"/reports/{number}/rating",
        headers=auth_headers(users["admin"], settings),
        json={"overall": 5, "channel": "phone", "comment": "处理及时"},
    )
    assert rated.status_code == 201, rated.text

    exported = await client.post("/admin/hotline/exports?format=csv", headers=admin)
    assert exported.status_code == 200, exported.text
    assert exported.content.startswith(b"\xef\xbb\xbf")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0] == list(COLUMNS.values())
    rows = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert set(rows) == {"GD0001", "GD0002"}
    done = rows["GD0001"]
    assert (done["跟踪编号"], done["办理状态"], done["办理结果"]) == (
        number,
        "已办结",
        "已劝离电动车并张贴告示",
    )
    assert (done["回访方式"], done["回访结果"], done["满意度"], done["满意度评分"]) == (
        "电话回访",
        "处理及时",
        "非常满意",
        "5",
    )
    assert done["签收时间"] and done["办结时间"] and done["核实办结时间"]
    assert done["受理时间"] == RECEIVED.strftime("%Y-%m-%d %H:%M:%S")
    assert (done["承办单位"], done["是否超期"]) == ("甲社区", "否")
    # 签收 is the first contact, within its working day; the file gave no request type.
    assert (done["首次联系时间"], done["首次联系是否按时"]) == (done["签收时间"], "是")
    assert done["首次联系期限"] and done["诉求类型"] == ""
    assert (done["问题类别"], done["大类代码"], done["小类名称"]) == (
        "电动自行车楼道停放或入户充电",
        "06",
        "电动自行车违规停放充电",
    )
    assert (rows["GD0002"]["办理状态"], rows["GD0002"]["回访结果"]) == ("已派单", "未评价")
    assert CALLER not in exported.text and PHONE not in exported.text

    # Marked: the next export holds only what changed since, and `since` sends all again.
    marked = (await db.execute(text("SELECT count(exported_at) FROM hotline_orders"))).scalar()
    assert marked == 2
    again = await client.post("/admin/hotline/exports?format=json", headers=admin)
    assert again.json()["orders"] == []
    await _act(client, settings, users["w_b1"], second["tracking_number"], "accept")
    changed = (await client.post("/admin/hotline/exports?format=json", headers=admin)).json()
    assert [(o["order_number"], o["status"]) for o in changed["orders"]] == [("GD0002", "accepted")]
    since = (NOW - timedelta(minutes=5)).isoformat()
    everything = await client.post(
        "/admin/hotline/exports", headers=admin, params={"format": "json", "since": since}
    )
    assert {o["order_number"] for o in everything.json()["orders"]} == {"GD0001", "GD0002"}


async def test_the_time_limit_sets_the_deadline_when_it_is_stricter(db, settings, scene, tmp_path):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(
        _csv(
            [
                _row("T1", 办理时限="2小时"),  # red tier: 24 h; 2 h is stricter
                _row("T2", 办理时限="3个工作日"),  # 24 h is stricter: unchanged
                _streetlight_at_b1("T3"),  # blue: 10 working days; 5 wd
                _row("T4", 办理时限=(RECEIVED + timedelta(hours=5)).strftime("%Y/%m/%d %H:%M")),
            ]
        )
    )
    report = await _import(db, settings, users, path)
    assert report.inserted == 4 and report.rejected == []
    received = RECEIVED.replace(tzinfo=CHINA_TZ)
    calendar = intake_context(settings).calendar
    t1, t2, t3, t4 = [await _incident(db, n) for n in ("T1", "T2", "T3", "T4")]
    assert t1["resolve_due_at"] == received + timedelta(hours=2) == t1["due_at"]
    assert t1["accept_due_at"] <= t1["resolve_due_at"]
    assert t2["resolve_due_at"] == t2["created_at"] + timedelta(hours=24)
    assert t2["due_at"] == deadline(received, "3wd", calendar)
    assert t3["resolve_due_at"] == deadline(received, "5wd", calendar)
    assert t4["resolve_due_at"] == (received + timedelta(hours=5)).replace(second=0)
    # The assignee's notification, not yet delivered, carries the hotline's deadline.
    payload = (
        await db.execute(text("SELECT payload FROM outbox WHERE incident_id = :i"), {"i": t1["id"]})
    ).scalar()
    assert datetime.fromisoformat(payload["resolve_due_at"]) == t1["resolve_due_at"]


async def test_a_json_list_is_imported_with_baidu_coordinates_and_field_names(
    db, settings, scene, tmp_path
):
    world, users = scene
    lon, lat = wgs84_to_bd09(*metres_point(700, 250))
    orders = [
        {
            "工单编号": 20261124001,
            "来电人": "赵六",
            "来电号码": "+86 139 0000 1111",
            "诉求内容": "小区消防通道被车辆占用",
            "经度": lon,
            "纬度": lat,
            "坐标系": "百度",
            "诉求类别": "消防通道占用",
            "办理时限": "24小时",
            "受理时间": "2026年11月24日 09时30分",
        },
        {
            "order_number": "J-2",
            "content": "团结路8号门口井盖缺失",
            "address": "团结路8号",
            "category": "井盖缺失",
        },
    ]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders, ensure_ascii=False), encoding="utf-8")
    report = await _import(db, settings, users, path)
    assert (report.inserted, report.rejected) == (2, [])
    first, second = await _incident(db, "20261124001"), await _incident(db, "J-2")
    assert (first["cell_code"], first["category_code"], first["input_system"]) == (
        world.cell_a2.code,
        "fire.blocked_lane",
        "bd09",
    )
    assert first["reporter_phone"] == "13900001111"
    assert first["received_at"] == datetime(2026, 11, 24, 9, 30, tzinfo=CHINA_TZ)
    assert (second["cell_code"], second["assignee"], second["category_code"]) == (
        world.cell_b1.code,
        "w-b1",
        "community.manhole",
    )


async def test_reimporting_files_nothing_new_and_reports_a_changed_order(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("R1"), _streetlight_at_b1("R2")]))
    assert (await _import(db, settings, users, path)).inserted == 2
    counts = [await _count(db, t) for t in ("incidents", "hotline_orders", "outbox")]

    again = await _import(db, settings, users, path)
    assert (again.inserted, again.unchanged, again.changed, again.rejected) == (0, 2, [], [])

    path.write_bytes(
        _csv(
            [
                _row("R1", 诉求内容="楼道里现在有五辆电动车", 来电号码="13800000000"),
                _streetlight_at_b1("R2"),
            ],
            encoding="gb18030",
        )
    )
    changed = await _import(db, settings, users, path)
    assert (changed.inserted, changed.unchanged) == (0, 1)
    [issue] = changed.changed
    assert (issue.row, issue.external_id, issue.field) == (1, "R1", "来电号码, 诉求内容")
    tracking = (await _incident(db, "R1"))["tracking_number"]
    assert tracking in issue.reason and "13800000000" not in issue.reason
    assert [await _count(db, t) for t in ("incidents", "hotline_orders", "outbox")] == counts


async def test_an_order_sent_again_after_retention_removed_its_caller_is_unchanged(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("R1")]))
    assert (await _import(db, settings, users, path)).inserted == 1
    # What `gridgov retention run` does to the order's caller hashes.
    await db.execute(
        text(
            "UPDATE hotline_orders SET field_hashes = field_hashes "
            "- ARRAY['caller_name', 'caller_phone'] WHERE order_number = 'R1'"
        )
    )
    again = await _import(db, settings, users, path)
    assert (again.inserted, again.unchanged, again.changed) == (0, 1, [])


async def test_bad_rows_are_reported_by_row_field_and_reason_and_nothing_is_half_filed(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(
        _csv(
            [
                _row("B1"),  # good
                _row(""),  # 1: no number
                _row("B3", 来电号码="call me"),  # 2: not a phone
                _row("B4", 地址="火星路1号"),  # 3: no such building
                _row("B5", 办理时限="尽快"),  # 4: not a time limit
                _row("B1"),  # 5: repeats row 1
                _row("B7", 地址="", 经度="113.9", 纬度="222"),  # 6: latitude out of range
                _row("B8", 诉求内容=""),  # 7: no content
                _row("B9", 来电号码="139****5678"),  # good; masked number not kept
            ]
        )
    )
    report = await _import(db, settings, users, path)
    rejected = [(i.row, i.external_id, i.field) for i in report.rejected]
    assert rejected == [
        (2, None, "工单编号"),
        (3, "B3", "来电号码"),
        (4, "B4", "地址"),
        (5, "B5", "办理时限"),
        (6, "B1", "工单编号"),
        (7, "B7", "纬度"),
        (8, "B8", "诉求内容"),
    ]
    assert all(i.reason and i.reason_zh for i in report.rejected)
    assert "repeats row 1" in report.rejected[4].reason
    assert all(PHONE not in i.reason and "call me" not in i.reason for i in report.rejected)
    assert [f["order_number"] for f in report.filed] == ["B1", "B9"]
    assert [(w.external_id, w.field) for w in report.repaired] == [("B9", "来电号码")]
    assert (await _incident(db, "B9"))["reporter_phone"] is None
    # Exactly the filed orders exist, each with its incident, nothing for the rejected.
    assert await _count(db, "incidents") == await _count(db, "hotline_orders") == 2


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("测试市测试区先烈路165号3栋502", None),  # block and room are not in the register
        ("先烈路165号", None),
        ("测试市测试区先列路165号", None),  # a typo, but the rest is alike enough
        ("测试市测试区先烈路166号", "no building"),  # alike, but another house number
        ("先列路165号", "no building"),  # a typo in too little: refused, not guessed
        ("先烈路", "different grid cells"),  # buildings in two cells fit
    ],
)
async def test_an_address_places_an_order_only_when_it_names_a_building(
    db, settings, scene, tmp_path, address, refusal
):
    world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("A1", 地址=address)]))
    report = await _import(db, settings, users, path)
    if refusal is None:
        assert [f["cell_code"] for f in report.filed] == [world.cell_a1.code]
        # Placed by resemblance only: said so.
        assert [w.field for w in report.repaired] == (["地址"] if "先列路" in address else [])
    else:
        assert [(i.row, i.field) for i in report.rejected] == [(1, "地址")]
        assert refusal in report.rejected[0].reason
        assert await _count(db, "incidents") == 0


async def test_a_row_failing_after_intake_wrote_it_leaves_nothing_behind(
    db, settings, scene, tmp_path, monkeypatch
):
    _world, users = scene
    from interop.hotline import orders_in as hotline
    from interop.hotline.csv_reading import RowProblem

    def failing_deadline(start, rule, calendar):
        if str(rule) == "2h":  # only H2's time limit: after its incident was written
            raise RowProblem("办理时限", "simulated failure", "模拟失败")
        return deadline(start, rule, calendar)

    monkeypatch.setattr(hotline, "deadline", failing_deadline)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("H1"), _row("H2", 办理时限="2小时"), _row("H3")]))
    report = await _import(db, settings, users, path)
    assert [f["order_number"] for f in report.filed] == ["H1", "H3"]
    assert [(i.row, i.external_id) for i in report.rejected] == [(2, "H2")]
    assert await _count(db, "incidents") == await _count(db, "hotline_orders") == 2
    orphans = (
        await db.execute(
            text("""
        SELECT count(*) FROM outbox o WHERE NOT EXISTS (
            SELECT FROM hotline_orders h WHERE h.incident_id = o.incident_id)""")
        )
    ).scalar()
    assert orphans == 0


async def test_a_mapping_that_names_an_emergency_category_files_nothing(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("M1"), _row("M2", 诉求类别="火警")]))
    override = tmp_path / "m.toml"
    override.write_text('[categories]\n"火警" = "fire.burning_now"\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        await _import(db, settings, users, path, mapping=HotlineMapping.load(override))
    assert refused.value.field == "mapping" and "fire.burning_now" in str(refused.value)
    assert await _count(db, "incidents") == await _count(db, "hotline_orders") == 0


async def test_unknown_categories_fall_back_with_a_warning_or_are_refused_when_told(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("U1", 诉求类别="民生服务-物业纠纷")]))
    report = await _import(db, settings, users, path, dry_run=True)
    assert [f["category"] for f in report.filed] == ["community.other"]
    assert [(w.field, "物业纠纷" in w.reason_zh) for w in report.repaired] == [("诉求类别", True)]
    # The dry run's report is exact, and it filed nothing.
    assert await _count(db, "incidents") == 0

    strict = tmp_path / "strict.toml"
    strict.write_text('[defaults]\ncategory = ""\n', encoding="utf-8")
    refused = await _import(db, settings, users, path, mapping=HotlineMapping.load(strict))
    assert [(i.row, i.field) for i in refused.rejected] == [(1, "诉求类别")]
    assert refused.inserted == 0


async def test_a_file_without_the_needed_columns_is_refused_naming_them(
    db, settings, scene, tmp_path
):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_text("编号X,内容\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        await _import(db, settings, users, path)
    assert refused.value.field == "file" and "工单编号" in str(refused.value)


async def test_an_order_outside_every_cell_is_filed_and_said_to_wait_in_a_queue(
    db, settings, scene, tmp_path
):
    world, users = scene
    # A community with no cells yet: inside the service area, outside every cell.
    await make_region(db, "880101001003", "community", "丙社区", world.street, (1500, 0, 2000, 500))
    lon, lat = metres_point(1750, 250)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("O1", 地址="", 经度=str(lon), 纬度=str(lat))]))
    report = await _import(db, settings, users, path)
    assert [(f["status"], f["routing_rule"]) for f in report.filed] == [
        ("submitted", "community_queue")
    ]
    assert [(i.row, i.field) for i in report.outside_cells] == [(1, "经度")]


async def test_an_order_outside_the_service_area_is_a_row_error(db, settings, scene, tmp_path):
    _world, users = scene
    lon, lat = metres_point(50_000, 50_000)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("O1", 地址="", 经度=str(lon), 纬度=str(lat))]))
    report = await _import(db, settings, users, path)
    assert report.filed == [] and report.inserted == 0
    assert [(i.row, i.field) for i in report.rejected] == [(1, "经度")]


async def test_the_api_takes_a_mapping_and_a_dry_run(client, db, settings, scene):
    _world, users = scene
    orders = [
        {"工单编号": "D1", "诉求内容": "物业不作为", "地址": "先烈路165号", "诉求类别": "物业纠纷"}
    ]
    response = await client.post(
        "/admin/hotline/imports",
        headers=auth_headers(users["admin"], settings),
        data={"dry_run": "true"},
        files={
            "file": (
                "orders.json",
                json.dumps(orders, ensure_ascii=False).encode(),
                "application/json",
            ),
            "mapping": (
                "m.toml",
                '[categories]\n"物业纠纷" = "community.noise"\n'.encode(),
                "application/toml",
            ),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert [f["category"] for f in body["filed"]] == ["community.noise"]
    assert await _count(db, "incidents") == 0


@pytest.mark.parametrize("who", [None, "w_a1", "cm_a", "resident"])
async def test_only_admins_exchange_orders(client, settings, scene, who):
    _world, users = scene
    headers = auth_headers(users[who], settings) if who else {}
    upload = await client.post(
        "/admin/hotline/imports",
        headers=headers,
        files={"file": ("o.csv", _csv([_row("A1")]), "text/csv")},
    )
    export = await client.post("/admin/hotline/exports", headers=headers)
    expected = 401 if who is None else 403
    assert (upload.status_code, export.status_code) == (expected, expected)


async def test_an_upload_of_another_kind_is_refused_with_its_field(client, settings, scene):
    _world, users = scene
    response = await client.post(
        "/admin/hotline/imports",
        headers=auth_headers(users["admin"], settings),
        files={"file": ("o.geojson", b"{}", "application/geo+json")},
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "file"


async def test_the_caller_never_appears_in_public_views(client, db, settings, scene, tmp_path):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("P1", 诉求类别="路灯损坏")]))
    [filed] = (await _import(db, settings, users, path)).filed
    number = filed["tracking_number"]
    public = await client.get(f"/reports/{number}")
    assert public.status_code == 200 and public.json()["status"] == "assigned"
    box = ",".join(str(v) for v in (*metres_point(-100, -100), *metres_point(1600, 600)))
    public_map = await client.get(f"/map/incidents.geojson?bbox={box}")
    assert public_map.status_code == 200 and public_map.json()["features"]
    for response in (public, public_map):
        assert CALLER not in response.text and PHONE not in response.text
    # The assignee sees whom to call back.
    staff = await client.get(f"/incidents/{number}", headers=auth_headers(users["w_a1"], settings))
    assert staff.json()["reporter_contact"] == {"name": CALLER, "phone": PHONE}


async def test_an_export_dry_run_marks_nothing(db, settings, scene, tmp_path):
    _world, users = scene
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("E1")]))
    await _import(db, settings, users, path)
    peek = await export_hotline_results(db, now=NOW, mark=False)
    taken = await export_hotline_results(db, now=NOW)
    assert [o["order_number"] for o in peek.orders] == [o["order_number"] for o in taken.orders]
    assert (await export_hotline_results(db, now=NOW)).orders == []
    body = json.loads(taken.to_json())
    assert body["count"] == 1 and body["orders"][0]["received_at"].endswith("+08:00")


def test_the_cli_names_a_missing_admin_and_a_bad_since(
    settings, migrated_db, monkeypatch, tmp_path
):
    import cli.hotline
    import cli.main
    import cli.running

    monkeypatch.setattr(cli.hotline, "get_settings", lambda: settings)
    monkeypatch.setattr(cli.running, "get_settings", lambda: settings)
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv([_row("C1")]))
    nobody = CliRunner().invoke(cli.main.main, ["hotline", "import", str(path), "--as", "nobody"])
    assert nobody.exit_code == 2 and "nobody is not an active admin" in nobody.output
    bad = CliRunner().invoke(cli.main.main, ["hotline", "export", "--since", "yesterday-ish"])
    assert bad.exit_code == 2 and "--since" in bad.output
    out = tmp_path / "results.csv"
    listed = CliRunner().invoke(
        cli.main.main, ["hotline", "export", "--dry-run", "--out", str(out)]
    )
    assert listed.exit_code == 0, listed.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert out.read_text("utf-8-sig").splitlines()[0].split(",")[0] == "工单编号"
