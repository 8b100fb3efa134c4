"""Open311 as real clients (FixMyStreet and others) send it, each in JSON and XML: a made-up
address or the wrong building number is refused, not filed on a lookalike; attributes a
category does not ask for are kept, not refused; contact details without an api_key are
taken (and never shown); descriptions up to the spec's 4,000 characters; phone numbers
as people write them; an emergency answers with an id. The same address rules hold for
12345 rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from xml.etree import ElementTree

import pytest
from sqlalchemy import text

from api.app import intake_context
from grid.access import load_principal
from incidents.intake.phones import normalise_phone
from interop.hotline.orders_in import import_hotline_orders
from tests.factories import assign, make_building, make_user, make_world, metres_point

BASE = "/open311/v2"
EBIKE = "fire.ebike_indoor"
FORMATS = ("json", "xml")


@pytest.fixture
async def scene(db):
    """Cell a1 with its worker; 先烈路165号, and 长江路83号 blocks 2 and 4 in cell a1."""
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    buildings = {
        "165": await make_building(
            db, world.cell_a1, (100, 100, 150, 150), address="测试市测试区先烈路165号"
        ),
        "83-4": await make_building(
            db, world.cell_a1, (200, 100, 250, 150), address="测试市测试区长江路83号4栋"
        ),
        "83-2": await make_building(
            db, world.cell_a1, (300, 100, 350, 150), address="测试市测试区长江路83号2栋"
        ),
    }
    return world, buildings


def _form(**extra) -> dict[str, str]:
    lon, lat = metres_point(250, 250)
    return {"service_code": EBIKE, "lat": str(lat), "long": str(lon), **extra}


async def _post(client, data: dict, fmt: str, **kwargs):
    return await client.post(f"{BASE}/requests.{fmt}", data=data, **kwargs)


def _answer(response, fmt: str) -> dict[str, str | None]:
    """The one request of a POST answer, as a flat dict, from either format."""
    assert response.status_code == 200, response.text
    if fmt == "json":
        (answer,) = response.json()
        return answer
    root = ElementTree.fromstring(response.content)
    assert root.tag == "service_requests"
    return {child.tag: child.text for child in root.find("request")}


def _error(response, fmt: str) -> tuple[int, str]:
    """(code, description) of the one error, from either format."""
    if fmt == "json":
        (error,) = response.json()
        return error["code"], error["description"]
    root = ElementTree.fromstring(response.content)
    assert root.tag == "errors"
    return int(root.findtext("error/code")), root.findtext("error/description")


async def _incident(db, number: str):
    return (
        (
            await db.execute(
                text("""
        SELECT i.*, o.email, o.device_id, o.account_id, o.extra_attributes
        FROM incidents i LEFT JOIN open311_requests o ON o.incident_id = i.id
        WHERE i.tracking_number = :t"""),
                {"t": number},
            )
        )
        .mappings()
        .one()
    )


async def _count(db, table: str) -> int:
    return (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_made_up_address_is_refused_naming_address_string(client, db, scene, fmt):
    refused = await _post(
        client,
        {"service_code": EBIKE, "address_string": "火星第一大道 99999 号"},
        fmt,
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 400
    code, description = _error(refused, fmt)
    assert code == 400 and description.startswith("address_string:")
    assert "closely enough" in description
    assert await _count(db, "incidents") == 0


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_building_number_given_must_be_the_buildings_own(client, db, scene, fmt):
    _world, buildings = scene
    posted = _answer(
        await _post(client, {"service_code": EBIKE, "address_string": "长江路83号2栋楼下"}, fmt),
        fmt,
    )
    incident = await _incident(db, posted["service_request_id"])
    assert incident["building_id"] == buildings["83-2"].id
    # Block 3 is not in the register: neither block 2 nor block 4 stands for it.
    refused = await _post(
        client, {"service_code": EBIKE, "address_string": "长江路83号3栋楼下"}, fmt
    )
    assert refused.status_code == 400
    assert _error(refused, fmt)[1].startswith("address_string:")
    # A whole address without a block still finds its building.
    whole = _answer(
        await _post(client, {"service_code": EBIKE, "address_string": "先烈路 165"}, fmt), fmt
    )
    assert (await _incident(db, whole["service_request_id"]))["building_id"] == buildings["165"].id


@pytest.mark.parametrize("fmt", FORMATS)
async def test_attributes_a_category_does_not_ask_for_are_kept_not_refused(client, db, scene, fmt):
    report_url = "https://fixmystreet.example.org/report/42"
    posted = _answer(
        await _post(
            client,
            _form(**{"attribute[report_url]": report_url, "attribute[charging]": "true"}),
            fmt,
        ),
        fmt,
    )
    incident = await _incident(db, posted["service_request_id"])
    assert incident["answers"] == {"charging": True}
    assert incident["extra_attributes"] == {"report_url": report_url}
    public = await client.get(f"{BASE}/requests/{posted['service_request_id']}.{fmt}")
    assert "fixmystreet" not in public.text
    # A known attribute with a wrong value is still refused, by name.
    refused = await _post(
        client, _form(**{"attribute[report_url]": report_url, "attribute[charging]": "maybe"}), fmt
    )
    assert refused.status_code == 400
    assert _error(refused, fmt)[1].startswith("attribute[charging]:")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_contact_details_without_an_api_key_are_taken_and_never_shown(client, db, scene, fmt):
    posted = _answer(
        await _post(
            client, _form(email="xiaoming@example.com", device_id="d-7", account_id="u-42"), fmt
        ),
        fmt,
    )
    assert posted["account_id"] == "u-42"  # echoed to the client that sent it
    incident = await _incident(db, posted["service_request_id"])
    assert (incident["email"], incident["device_id"]) == ("xiaoming@example.com", "d-7")
    for path in (
        f"/requests/{posted['service_request_id']}.{fmt}?extensions=true",
        f"/requests.{fmt}",
    ):
        shown = await client.get(BASE + path)
        assert shown.status_code == 200
        assert "xiaoming" not in shown.text and "u-42" not in shown.text


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_description_of_4000_characters_is_taken(client, db, scene, fmt):
    posted = _answer(await _post(client, _form(description="楼" * 4000), fmt), fmt)
    assert len((await _incident(db, posted["service_request_id"]))["description"]) == 4000
    refused = await _post(client, _form(description="楼" * 4001), fmt)
    assert refused.status_code == 400
    assert _error(refused, fmt)[1].startswith("description:")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("(020) 8300-1234", "020-83001234"),
        ("+86 137 1234 5678", "13712345678"),
        ("0755-8600 1234 转 88", "0755-86001234-88"),
    ],
)
async def test_phone_numbers_as_people_write_them_are_normalised(
    client, db, scene, fmt, written, stored
):
    posted = _answer(await _post(client, _form(phone=written), fmt), fmt)
    assert (await _incident(db, posted["service_request_id"]))["reporter_phone"] == stored


def test_one_phone_normaliser_knows_mobiles_landlines_and_international_numbers():
    assert normalise_phone("137-1234-5678") == "13712345678"
    assert normalise_phone("（010）1234 5678") == "010-12345678"
    assert normalise_phone("075512345678") == "0755-12345678"
    assert normalise_phone("0755-12345678-123") == "0755-12345678-123"
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"
    for wrong in ("call me", "12345", "1234567890123", "+0 123"):
        assert normalise_phone(wrong) is None


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_emergency_answers_with_an_id_and_the_119_notice(client, db, scene, fmt):
    headers = {"Idempotency-Key": f"fire-{fmt}"}
    posted = _answer(
        await _post(client, _form(service_code="fire.burning_now"), fmt, headers=headers), fmt
    )
    referral = (
        await db.execute(text("SELECT id FROM emergency_referrals ORDER BY id DESC LIMIT 1"))
    ).scalar_one()
    assert posted["service_request_id"] == f"119-{referral:08d}"
    assert "119" in posted["service_notice"]
    again = _answer(
        await _post(client, _form(service_code="fire.burning_now"), fmt, headers=headers), fmt
    )
    assert again["service_request_id"] == posted["service_request_id"]
    assert await _count(db, "emergency_referrals") == 1


# -- 12345 rows: the same address rules -----------------------------------------------------

HEADERS = ["工单编号", "来电人", "来电号码", "诉求内容", "地址", "诉求类别", "办理时限", "受理时间"]


async def _import_rows(db, settings, tmp_path, addresses: dict[str, str]):
    admin = await make_user(db, "root", "admin", None, "管理员")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS)
    writer.writeheader()
    now = datetime.now(UTC)
    for number, address in addresses.items():
        writer.writerow(
            {
                "工单编号": number,
                "来电人": "张小明",
                "来电号码": "(020) 8300-1234",
                "诉求内容": "楼道里电动车在充电",
                "地址": address,
                "诉求类别": "城乡建设-消防安全-电动车入户充电",
                "办理时限": "3个工作日",
                "受理时间": now.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
    path = tmp_path / "orders.csv"
    path.write_bytes(out.getvalue().encode("gbk"))
    filer = await load_principal(db, admin.id)
    return await import_hotline_orders(
        db,
        intake_context(settings),
        path,
        filer=filer,
        hash_key=settings.id_hash_key.get_secret_value(),
        now=now,
    )


async def test_12345_rows_with_a_made_up_address_or_wrong_block_are_refused_by_row(
    db, settings, scene, tmp_path
):
    _world, buildings = scene
    report = await _import_rows(
        db,
        settings,
        tmp_path,
        {"M1": "火星第一大道 99999 号", "M2": "长江路83号3栋楼下", "M3": "长江路83号2栋楼下"},
    )
    assert [(problem.row, problem.field) for problem in report.rejected] == [
        (1, "地址"),
        (2, "地址"),
    ]
    (filed,) = report.filed
    building = (
        await db.execute(
            text("SELECT building_id, reporter_phone FROM incidents WHERE tracking_number = :t"),
            {"t": filed["tracking_number"]},
        )
    ).one()
    assert building.building_id == buildings["83-2"].id
    assert building.reporter_phone == "020-83001234"  # the one phone normaliser
