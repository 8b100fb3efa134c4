"""Boundary versions (draft -> checked -> active, records move) and grid checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy import text

from core.errors import Conflict
from grid.checks import check_version
from grid.importing.cells import import_cells
from grid.versions import activate_version
from tests.factories import ORIGIN, TEST_CRS

X0, Y0 = ORIGIN


def _cells_file(tmp_path, rows, name="cells.gpkg"):
    frame = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[0][-3:] for r in rows]},
        geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for _, (a, b, c, d) in rows],
        crs=TEST_CRS,
    )
    path = tmp_path / name
    frame.to_file(path)
    return path


def test_checks_report_overlap_gap_and_cell_outside_its_community(conn, tmp_path):
    rows = [
        ("880101001001011", (0, 0, 520, 500)),  # overlaps the next by 20 m x 500 m
        ("880101001001012", (500, 0, 900, 500)),  # leaves a 100 m gap to x = 1000
        ("880101001002011", (1000, 0, 1500, 600)),  # sticks 100 m out of 乙社区
    ]
    report, version_id = import_cells(conn, _cells_file(tmp_path, rows), label="v2")
    assert report.inserted == 3
    problems = {(p.kind, tuple(p.cell_codes)): p for p in check_version(conn, version_id)}
    overlap = problems[("overlap", ("880101001001011", "880101001001012"))]
    assert overlap.area_m2 == pytest.approx(20 * 500, rel=0.01)
    gap = problems[("gap", ())]
    assert gap.community_code == "880101001001"
    assert gap.area_m2 == pytest.approx(100 * 500, rel=0.01)
    outside = problems[("outside_community", ("880101001002011",))]
    assert outside.area_m2 == pytest.approx(500 * 100, rel=0.01)
    assert outside.geometry["type"] in ("Polygon", "MultiPolygon")


def test_clean_version_has_no_problems(conn, tmp_path):
    rows = [("880101001001011", (0, 0, 400, 500)), ("880101001001012", (400, 0, 1000, 500))]
    _, version_id = import_cells(conn, _cells_file(tmp_path, rows), label="v2")
    assert check_version(conn, version_id) == []


def test_cell_import_rejects_bad_codes_with_reasons(conn, tmp_path):
    rows = [
        ("12345", (0, 0, 10, 10)),
        ("990101001001001", (0, 0, 10, 10)),
        ("880101001001011", (0, 0, 400, 500)),
        ("880101001001011", (400, 0, 1000, 500)),
    ]
    report, _ = import_cells(conn, _cells_file(tmp_path, rows), label="bad")
    reasons = [(r.row, r.field) for r in report.rejected]
    assert reasons == [(1, "code"), (2, "code"), (4, "code")]
    assert "not 15 digits" in report.rejected[0].reason
    assert "no community" in report.rejected[1].reason
    assert "repeats" in report.rejected[2].reason


def test_draft_cells_are_not_in_force_until_activated(conn, tmp_path):
    rows = [("880101001001011", (0, 0, 400, 500)), ("880101001001012", (400, 0, 1000, 500))]
    _, version_id = import_cells(conn, _cells_file(tmp_path, rows), label="v2")
    in_force = (
        conn.execute(
            text(
                "SELECT code FROM grid_cells WHERE active_from IS NOT NULL AND active_to IS NULL "
                "ORDER BY code"
            )
        )
        .scalars()
        .all()
    )
    assert "880101001001011" not in in_force
    assert (
        conn.execute(text("SELECT count(*) FROM grid_cell_parts WHERE code LIKE '%011'")).scalar()
        == 0
    )
    assert version_id is not None


def test_activation_moves_buildings_and_assignments_and_keeps_history(conn, tmp_path):
    # A building at x=450 m lies in old cell ...001 (0-500); in the new layout the
    # boundary moves to x=400, so it belongs to the new cell ...002.
    conn.execute(
        text("""
        INSERT INTO buildings (address, use, floors, footprint, cell_id)
        SELECT '测试路9号', 'residential', 6,
               ST_Multi(ST_Buffer(ST_Centroid(ST_GeomFromText(:wkt, 4326)), 0.00005)),
               (SELECT id FROM grid_cells WHERE code = '880101001001001')
    """),
        {"wkt": _point_wkt(450, 250)},
    )
    worker = conn.execute(
        text("""
        INSERT INTO users (username, display_name, role, region_id, password_hash)
        VALUES ('w-002', '王五', 'grid_worker',
                (SELECT id FROM regions WHERE code = '880101001001'), 'x') RETURNING id
    """)
    ).scalar_one()
    conn.execute(
        text("""
        INSERT INTO cell_assignments (cell_id, user_id, kind, valid_from)
        VALUES ((SELECT id FROM grid_cells WHERE code = '880101001001002'), :w, 'primary',
                '2026-01-01')
    """),
        {"w": worker},
    )
    # One transaction has one now(): date the old layout back so history has two eras.
    conn.execute(text("UPDATE grid_cells SET active_from = '2026-01-01'"))
    before = datetime(2026, 6, 1, tzinfo=UTC)
    rows = [("880101001001001", (0, 0, 400, 500)), ("880101001001002", (400, 0, 1000, 500))]
    _, version_id = import_cells(conn, _cells_file(tmp_path, rows), label="v2")
    result = activate_version(conn, version_id)
    assert (result.cells_activated, result.cells_retired) == (2, 2)
    assert result.buildings_relinked == 1
    building_cell = conn.execute(
        text(
            "SELECT c.code, c.version_id FROM buildings b JOIN grid_cells c ON c.id = b.cell_id "
            "WHERE b.address = '测试路9号'"
        )
    ).one()
    assert building_cell == ("880101001001002", version_id)
    today_worker = conn.execute(
        text("""
        SELECT u.username FROM cell_assignments a JOIN users u ON u.id = a.user_id
        JOIN grid_cells c ON c.id = a.cell_id
        WHERE c.version_id = :v AND c.code = '880101001001002'
          AND a.valid_from <= current_date AND (a.valid_to IS NULL OR a.valid_to > current_date)
    """),
        {"v": version_id},
    ).scalar()
    assert today_worker == "w-002"
    # History: at `before`, the point was in the old ...001 cell; now it is in ...002.
    lon, lat = _point_lonlat(450, 250)
    at_sql = text("""SELECT c.code, c.version_id FROM grid_cells c
        WHERE c.active_from <= :at AND (c.active_to IS NULL OR c.active_to > :at)
          AND ST_Covers(c.boundary, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))""")
    old = conn.execute(at_sql, {"at": before, "lon": lon, "lat": lat}).one()
    assert old[0] == "880101001001001" and old[1] != version_id
    later = datetime.now(UTC) + timedelta(minutes=1)
    now = conn.execute(at_sql, {"at": later, "lon": lon, "lat": lat}).one()
    assert now == ("880101001001002", version_id)
    with pytest.raises(Conflict):
        activate_version(conn, version_id)
    assert date.today()  # (assignments are dated by the database's current_date)


def _point_lonlat(x, y):
    from tests.factories import metres_point

    return metres_point(x, y)


def _point_wkt(x, y):
    lon, lat = _point_lonlat(x, y)
    return f"POINT({lon} {lat})"
