"""Importing the population register (houses, households, people) from a flat CSV."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from core.errors import InvalidInput
from grid.identity import id_number_hash
from grid.importing.people import import_population
from grid.importing.reading import FieldMapping
from tests.factories import metres_box
from tests.sync_world import make_sync_world

KEY = "k" * 40
HEADER = [
    "建筑编号",
    "房屋编号",
    "楼层",
    "房号",
    "面积",
    "是否出租",
    "房东姓名",
    "房东电话",
    "户号",
    "户籍类型",
    "人员编号",
    "姓名",
    "性别",
    "出生日期",
    "联系电话",
    "身份证号",
    "关爱标签",
    "入住日期",
]
MAPPING_TOML = """
[fields]
building_external_id = "建筑编号"
house_external_id = "房屋编号"
floor = "楼层"
unit_number = "房号"
area_m2 = "面积"
is_rental = "是否出租"
landlord_name = "房东姓名"
landlord_phone = "房东电话"
household_external_id = "户号"
household_kind = "户籍类型"
person_external_id = "人员编号"
name = "姓名"
gender = "性别"
birth_date = "出生日期"
phone = "联系电话"
id_number = "身份证号"
vulnerability_tags = "关爱标签"
moved_in = "入住日期"

[values.household_kind]
"户籍" = "registered"
"流动" = "migrant"

[values.vulnerability_tags]
"孤寡老人" = "elderly_alone"
"""
BUILDINGS = [  # external id, cell code, footprint in metres
    ("B-1", "880101001001001", (100, 100, 130, 120)),
    ("B-2", "880101001001002", (600, 100, 640, 130)),
    ("B-3", "880101001002001", (1100, 100, 1130, 140)),
]


def make_id_number(birth: str, seq: str = "12", male: bool = True) -> str:
    """A valid 18-character GB 11643 number (the 17th digit is odd for men)."""
    body = "440305" + birth + seq + ("3" if male else "4")
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


ID_1 = make_id_number("19500304", male=True)
ID_2 = make_id_number("19851120", male=False)


def person(**values) -> dict[str, str]:
    """One CSV row: a person in house H-1 / household HH-1 unless told otherwise."""
    row = {
        "建筑编号": "B-1",
        "房屋编号": "H-1",
        "楼层": "3",
        "房号": "301",
        "户号": "HH-1",
        "户籍类型": "户籍",
        "姓名": "某人",
    }
    row.update(values)
    return row


GOOD = [
    person(
        面积="85.5",
        是否出租="否",
        人员编号="P-1",
        姓名="张三",
        联系电话="13800138001",
        身份证号=ID_1,
        关爱标签="独居老人",
        入住日期="2020-01-05",
    ),
    person(
        人员编号="P-2",
        姓名="李四",
        联系电话="+86 138 0013 8002",
        身份证号=ID_2,
        入住日期="2020-01-05",
    ),
    person(
        建筑编号="B-2",
        房屋编号="H-2",
        楼层="5层",
        房号="502",
        面积="60㎡",
        是否出租="是",
        房东姓名="王房东",
        房东电话="0755-12345678",
        户号="HH-2",
        户籍类型="流动",
        人员编号="P-3",
        姓名="王五",
        出生日期="1990/5/6",
        关爱标签="残疾；孤寡老人",
        入住日期="2021/3/1",
    ),
    person(
        建筑编号="B-3",
        房屋编号="",
        楼层="1",
        房号="101",
        户号="",
        人员编号="P-4",
        姓名="赵六",
        性别="女",
        出生日期="2015年6月1日",
        关爱标签="儿童",
    ),
]


def write_csv(path, rows, encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as out:
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def insert_buildings(conn) -> None:
    for external_id, cell, extent in BUILDINGS:
        conn.execute(
            text("""
            INSERT INTO buildings (external_id, address, use, floors, footprint, cell_id)
            VALUES (:e, :e, 'residential', 6, ST_GeomFromText(:wkt, 4326),
                    (SELECT id FROM grid_cells WHERE code = :cell))
        """),
            {"e": external_id, "wkt": metres_box(*extent).wkt, "cell": cell},
        )


@pytest.fixture
def world(conn):
    insert_buildings(conn)
    return conn


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML, encoding="utf-8")
    return FieldMapping.load(path)


def load(conn, path, mapping, **options):
    return import_population(conn, path, mapping=mapping, id_hash_key=KEY, **options)


def people(conn):
    return {
        r.external_id: r
        for r in conn.execute(
            text(
                "SELECT p.*, h.external_id AS household FROM people p "
                "LEFT JOIN households h ON h.id = p.household_id"
            )
        ).all()
    }


def table_counts(conn):
    return {
        t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
        for t in ("houses", "households", "people", "residences")
    }


def test_utf8_csv_with_chinese_headers_loads_houses_households_and_people(world, tmp_path, mapping):
    report = load(world, write_csv(tmp_path / "people.csv", GOOD), mapping)
    assert (report.read, report.rejected, report.inserted) == (4, [], 4)
    assert report.counts == {
        "houses": {"inserted": 3, "updated": 0},
        "households": {"inserted": 3, "updated": 0},
        "people": {"inserted": 4, "updated": 0},
        "residences": {"opened": 4, "closed": 0},
    }
    stored = people(world)
    # Gender and birth date come from the ID number when the columns are blank.
    assert (stored["P-1"].gender, stored["P-1"].birth_date) == ("male", date(1950, 3, 4))
    assert (stored["P-2"].gender, stored["P-2"].phone) == ("female", "13800138002")
    assert stored["P-1"].vulnerability_tags == ["elderly_alone"]
    assert stored["P-3"].vulnerability_tags == ["disability", "elderly_alone"]
    assert (stored["P-3"].birth_date, stored["P-3"].gender) == (date(1990, 5, 6), "unknown")
    assert (stored["P-4"].gender, stored["P-4"].birth_date) == ("female", date(2015, 6, 1))
    assert [stored[p].household for p in ("P-1", "P-2", "P-3")] == ["HH-1", "HH-1", "HH-2"]
    houses = {r.unit_number: r for r in world.execute(text("SELECT * FROM houses")).all()}
    assert (
        houses["502"].floor,
        float(houses["502"].area_m2),
        houses["502"].is_rental,
        houses["502"].landlord_phone,
    ) == (5, 60.0, True, "0755-12345678")
    assert houses["101"].external_id is None and houses["301"].is_rental is False
    kinds = dict(world.execute(text("SELECT external_id, kind FROM households")).all())
    assert kinds == {"HH-1": "registered", "HH-2": "migrant", None: "registered"}
    moved_in = world.execute(
        text(
            "SELECT moved_in FROM residences r JOIN people p ON p.id = r.person_id "
            "WHERE p.external_id = 'P-3'"
        )
    ).scalar()
    assert moved_in == date(2021, 3, 1)


def test_people_follow_their_building_to_its_cell(world, tmp_path, mapping):
    load(world, write_csv(tmp_path / "people.csv", GOOD), mapping)
    cells = dict(
        world.execute(
            text("""
        SELECT p.external_id, c.code FROM people p
        JOIN households hh ON hh.id = p.household_id JOIN houses h ON h.id = hh.house_id
        JOIN buildings b ON b.id = h.building_id JOIN grid_cells c ON c.id = b.cell_id
    """)
        ).all()
    )
    assert cells == {
        "P-1": "880101001001001",
        "P-2": "880101001001001",
        "P-3": "880101001001002",
        "P-4": "880101001002001",
    }


@pytest.mark.parametrize(
    ("written_as", "option"),
    [
        ("utf-8", None),
        ("utf-8-sig", None),
        ("gbk", "GBK"),
        ("gb18030", "gbk"),
        ("utf-8-sig", "GBK"),  # a UTF-8 byte-order mark wins over a wrong option
    ],
)
def test_encodings_are_honoured(world, tmp_path, mapping, written_as, option):
    path = write_csv(tmp_path / "people.csv", GOOD, encoding=written_as)
    report = load(world, path, mapping, encoding=option)
    assert report.rejected == []
    assert people(world)["P-1"].name == "张三"


def test_gbk_file_without_the_encoding_option_is_refused_not_garbled(world, tmp_path, mapping):
    path = write_csv(tmp_path / "people.csv", GOOD, encoding="gbk")
    with pytest.raises(InvalidInput) as error:
        load(world, path, mapping)
    assert error.value.field == "encoding" and "--encoding" in error.value.message_en
    assert table_counts(world)["people"] == 0


def test_reimport_by_external_id_updates_instead_of_duplicating(world, tmp_path, mapping):
    path = write_csv(tmp_path / "people.csv", GOOD)
    load(world, path, mapping)
    write_csv(path, [GOOD[0], {**GOOD[1], "联系电话": "13900139002"}, *GOOD[2:]])
    report = load(world, path, mapping)
    assert report.counts == {
        "houses": {"inserted": 0, "updated": 3},
        "households": {"inserted": 0, "updated": 3},
        "people": {"inserted": 0, "updated": 4},
        "residences": {"opened": 0, "closed": 0},
    }
    assert table_counts(world) == {"houses": 3, "households": 3, "people": 4, "residences": 4}
    assert people(world)["P-2"].phone == "13900139002"


def test_people_without_external_id_are_matched_by_id_number(world, tmp_path, mapping):
    path = write_csv(tmp_path / "people.csv", GOOD)
    load(world, path, mapping)
    write_csv(path, [{**row, "人员编号": ""} for row in GOOD])
    report = load(world, path, mapping)
    assert report.counts["people"] == {"inserted": 0, "updated": 2}
    # Without either key a re-import could not find them again: rejected, not duplicated.
    assert [(r.row, r.field) for r in report.rejected] == [
        (3, "person_external_id"),
        (4, "person_external_id"),
    ]
    assert table_counts(world)["people"] == 4
    assert people(world)["P-1"].name == "张三"  # the external id is kept


def test_a_column_the_file_lacks_keeps_stored_values_and_a_blank_cell_clears(
    world, tmp_path, mapping
):
    path = write_csv(tmp_path / "people.csv", GOOD)
    load(world, path, mapping)
    without_phone = FieldMapping(
        columns={k: v for k, v in mapping.columns.items() if k != "phone"}, values=mapping.values
    )
    load(world, path, without_phone)
    assert people(world)["P-1"].phone == "13800138001"
    write_csv(path, [{**GOOD[0], "联系电话": "", "关爱标签": ""}, *GOOD[1:]])
    load(world, path, mapping)
    assert (people(world)["P-1"].phone, people(world)["P-1"].vulnerability_tags) == (None, [])


def test_dry_run_reports_without_writing(world, tmp_path, mapping):
    report = load(world, write_csv(tmp_path / "people.csv", GOOD), mapping, dry_run=True)
    assert report.dry_run and report.inserted == 4 and report.counts["houses"]["inserted"] == 3
    assert table_counts(world) == {"houses": 0, "households": 0, "people": 0, "residences": 0}


def test_bad_rows_are_rejected_with_row_field_and_reason(world, tmp_path, mapping):
    bad_check = ID_1[:-1] + ("0" if ID_1[-1] != "0" else "1")
    rows = [
        GOOD[0],
        person(人员编号="X-checksum", 身份证号=bad_check),
        person(人员编号="X-building", 建筑编号="B-404"),
        person(人员编号="X-tag", 关爱标签="独居老人、外星人"),
        person(人员编号="X-name", 姓名=""),
        person(人员编号="X-dup-id", 身份证号=ID_1),
        person(人员编号="P-1"),
        person(人员编号="X-phone", 联系电话="12345"),
        person(人员编号="X-date", 入住日期="2020-13-45"),
        person(人员编号="X-floor", 楼层="三楼"),
        person(人员编号="X-birth", 身份证号=ID_2, 出生日期="1986-11-20"),
        person(人员编号="X-gender", 身份证号=make_id_number("19700101", "44"), 性别="女"),
        person(人员编号="X-kind", 户号="HH-9", 户籍类型=""),
        person(人员编号="X-house", 房屋编号="H-1", 房号="302"),
    ]
    report = load(world, write_csv(tmp_path / "bad.csv", rows), mapping)
    by_id = {r.external_id: (r.row, r.field, r.reason) for r in report.rejected}
    assert (
        by_id["X-checksum"][:2] == (2, "id_number") and "check character" in by_id["X-checksum"][2]
    )
    assert by_id["X-building"][1] == "building_external_id" and "B-404" in by_id["X-building"][2]
    assert by_id["X-tag"][1] == "vulnerability_tags" and "外星人" in by_id["X-tag"][2]
    assert by_id["X-name"][1:] == ("name", "name is required")
    assert by_id["X-dup-id"][1:] == ("id_number", "ID number repeats row 1")
    assert by_id["P-1"][:3] == (7, "person_external_id", "person external id repeats row 1")
    assert by_id["X-phone"][1] == "phone"
    assert by_id["X-date"][1] == "moved_in"
    assert by_id["X-floor"][1] == "floor"
    assert by_id["X-birth"][1:] == ("birth_date", "birth_date disagrees with the ID number")
    assert by_id["X-gender"][1:] == ("gender", "gender disagrees with the ID number")
    assert by_id["X-kind"][1] == "household_kind"
    assert by_id["X-house"][1] == "unit_number" and "row 1" in by_id["X-house"][2]
    assert len(report.rejected) == len(rows) - 1
    assert list(people(world)) == ["P-1"]


def test_raw_id_numbers_are_stored_and_reported_nowhere(world, tmp_path, mapping):
    invalid = ID_2[:-1] + ("0" if ID_2[-1] != "0" else "1")
    rows = [
        GOOD[0],
        person(人员编号=ID_2, 身份证号=ID_2),  # keyed by the ID number itself
        person(人员编号="P-bad", 身份证号=invalid),
    ]
    report = load(world, write_csv(tmp_path / "people.csv", rows), mapping)
    assert [(r.row, r.field) for r in report.repaired] == [(2, "person_external_id")]
    assert [(r.row, r.field) for r in report.rejected] == [(3, "id_number")]
    stored = world.execute(
        text("SELECT id_number_hash, id_number_last4, external_id FROM people ORDER BY id")
    ).all()
    assert stored == [
        (id_number_hash(ID_1, KEY.encode()), ID_1[-4:], "P-1"),
        (id_number_hash(ID_2, KEY.encode()), ID_2[-4:], None),
    ]
    for table in ("houses", "households", "people", "residences"):
        dump = " ".join(world.execute(text(f"SELECT t::text FROM {table} t")).scalars())
        assert not {ID_1, ID_2, invalid} & {w for w in dump.replace(",", " ").split()}
        assert ID_1 not in dump and ID_2 not in dump and invalid not in dump
    for name in ("report.json", "report.csv"):
        report.write(tmp_path / name)
        written = (tmp_path / name).read_text("utf-8-sig")
        assert ID_1 not in written and ID_2 not in written and invalid not in written
    assert ID_2 not in report.summary() and invalid not in repr(report)


def test_moving_to_another_household_closes_the_old_residence(world, tmp_path, mapping):
    path = write_csv(tmp_path / "people.csv", GOOD)
    load(world, path, mapping)
    moved = {
        **GOOD[1],
        "建筑编号": "B-2",
        "房屋编号": "H-2",
        "楼层": "5",
        "房号": "502",
        "户号": "HH-2",
        "户籍类型": "流动",
        "入住日期": "2024-07-01",
    }
    write_csv(path, [GOOD[0], moved, *GOOD[2:]])
    report = load(world, path, mapping)
    assert report.counts["residences"] == {"opened": 1, "closed": 1}
    history = world.execute(
        text("""
        SELECT h.external_id, r.moved_in, r.moved_out FROM residences r
        JOIN people p ON p.id = r.person_id JOIN households h ON h.id = r.household_id
        WHERE p.external_id = 'P-2' ORDER BY r.moved_in
    """)
    ).all()
    assert history == [
        ("HH-1", date(2020, 1, 5), date(2024, 7, 1)),
        ("HH-2", date(2024, 7, 1), None),
    ]
    assert people(world)["P-2"].household == "HH-2"


def test_blank_household_kind_can_be_given_a_default_in_the_mapping(world, tmp_path):
    rows = [{k: v for k, v in GOOD[0].items() if k != "户籍类型"}]
    header = [h for h in HEADER if h != "户籍类型"]
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    plain = MAPPING_TOML.replace('household_kind = "户籍类型"\n', "")
    without = FieldMapping.load(_toml(tmp_path / "a.toml", plain))
    assert load(world, path, without).rejected[0].field == "household_kind"
    defaulted = FieldMapping.load(
        _toml(
            tmp_path / "b.toml",
            plain.replace('"流动" = "migrant"', '"流动" = "migrant"\n"" = "registered"'),
        )
    )
    assert load(world, path, defaulted).rejected == []
    assert world.execute(text("SELECT kind FROM households")).scalar() == "registered"


def _toml(path, content):
    path.write_text(content, encoding="utf-8")
    return path


def test_a_mapping_naming_an_absent_column_is_refused(world, tmp_path, mapping):
    path = write_csv(tmp_path / "people.csv", GOOD)
    broken = FieldMapping(columns={**mapping.columns, "name": "名字"}, values=mapping.values)
    with pytest.raises(InvalidInput) as error:
        load(world, path, broken)
    assert error.value.field == "mapping" and "名字" in error.value.message_en


def test_a_failure_midway_leaves_nothing_behind(sync_engine, tmp_path, mapping, monkeypatch):
    from grid.importing import people_writing as module

    path = write_csv(tmp_path / "people.csv", GOOD)

    def exploding_upsert(conn, rows, given):
        conn.execute(text("INSERT INTO people (name) VALUES ('half')"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_upsert_people", exploding_upsert)
    with sync_engine.connect() as conn:
        with pytest.raises(RuntimeError), conn.begin():
            make_sync_world(conn)
            insert_buildings(conn)
            load(conn, path, mapping)
        assert table_counts(conn) == {"houses": 0, "households": 0, "people": 0, "residences": 0}
        assert conn.execute(text("SELECT count(*) FROM buildings")).scalar() == 0


def test_cli_dry_run_prints_summary_and_writes_the_report(
    settings, migrated_db, tmp_path, monkeypatch
):
    import cli.imports
    import cli.main
    import cli.running

    monkeypatch.setattr(cli.imports, "get_settings", lambda: settings)
    monkeypatch.setattr(cli.running, "get_settings", lambda: settings)
    path = write_csv(tmp_path / "people.csv", GOOD)
    (tmp_path / "m.toml").write_text(MAPPING_TOML, encoding="utf-8")
    result = CliRunner().invoke(
        cli.main.main,
        [
            "import",
            "people",
            str(path),
            "--mapping",
            str(tmp_path / "m.toml"),
            "--dry-run",
            "--report",
            str(tmp_path / "out.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "people: read 4, would import" in result.output
    # The committed test database holds no buildings: every row names an unknown one.
    written = (tmp_path / "out.csv").read_text("utf-8-sig")
    assert written.count("building_external_id") == 4 and ID_1 not in written
