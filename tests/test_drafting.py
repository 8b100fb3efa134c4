"""Grid drafting: square, hexagonal and building-count cells for a community, coded and
stored as a draft version that passes the grid checks and can be activated."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import cli.cells
import cli.main
from core.errors import InvalidInput, NotFound
from core.settings import get_settings
from grid.checks import check_version
from grid.drafting import draft_cells
from grid.versions import activate_version
from tests.factories import metres_box, metres_point

COMMUNITY_A = "880101001001"  # 1000 m x 500 m, two cells in force (001, 002)
FIRST_A = 3  # drafted cells never reuse a code the community has used
COMMUNITY_B = "880101001002"  # 500 m x 500 m, one cell in force, no buildings


def _cells(conn, version_id):
    """(code, name, area m², centroid lon, centroid lat) of a version's cells by code."""
    return conn.execute(
        text("""
        SELECT code, name, ST_Area(boundary::geography), ST_X(ST_Centroid(boundary)),
               ST_Y(ST_Centroid(boundary))
        FROM grid_cells WHERE version_id = :v ORDER BY code
    """),
        {"v": version_id},
    ).all()


def _community_area(conn, code):
    return conn.execute(
        text("SELECT ST_Area(boundary::geography) FROM regions WHERE code = :c"), {"c": code}
    ).scalar_one()


def _cell_at(conn, x, y):
    """(code, version id) of the cell in force the point lookup finds at x, y metres."""
    lon, lat = metres_point(x, y)
    return conn.execute(
        text("""
        SELECT c.code, c.version_id FROM grid_cell_parts p JOIN grid_cells c ON c.id = p.cell_id
        WHERE ST_Covers(p.part, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY p.code LIMIT 1
    """),
        {"lon": lon, "lat": lat},
    ).one()


def _draft_cell_at(conn, version_id, x, y):
    lon, lat = metres_point(x, y)
    return conn.execute(
        text("""
        SELECT code FROM grid_cells WHERE version_id = :v
          AND ST_Covers(boundary, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY code LIMIT 1
    """),
        {"v": version_id, "lon": lon, "lat": lat},
    ).scalar_one()


def _add_buildings(conn, centres, half=4.0):
    """Square buildings 2 * half metres wide centred on the given points, linked to the
    cell in force that covers them, as an import would."""
    conn.execute(
        text("""
        INSERT INTO buildings (address, use, floors, footprint, cell_id)
        SELECT :address, 'residential', 6, g, (
            SELECT p.cell_id FROM grid_cell_parts p
            WHERE ST_Covers(p.part, ST_PointOnSurface(g)) ORDER BY p.code LIMIT 1)
        FROM ST_GeomFromText(:wkt, 4326) AS g
    """),
        [
            {
                "address": f"测试路{i}号",
                "wkt": metres_box(x - half, y - half, x + half, y + half).wkt,
            }
            for i, (x, y) in enumerate(centres)
        ],
    )


@pytest.mark.parametrize(
    ("shape", "size", "cell_area"),
    [
        ("square", 200.0, 200.0**2),
        ("hex", 150.0, math.sqrt(3) / 2 * 150.0**2),
    ],
)
def test_draft_tiles_the_community_with_coded_cells_and_passes_the_checks(
    conn, shape, size, cell_area
):
    draft = draft_cells(conn, COMMUNITY_A, shape=shape, size_m=size)
    cells = _cells(conn, draft.version_id)
    codes = [c.code for c in cells]
    assert draft.cells == len(cells) > 1
    serials = range(FIRST_A, FIRST_A + len(cells))
    assert codes == [f"{COMMUNITY_A}{i:03d}" for i in serials]
    assert [c.name for c in cells] == [f"网格{i:03d}" for i in serials]
    assert check_version(conn, draft.version_id) == []
    assert sum(c[2] for c in cells) == pytest.approx(_community_area(conn, COMMUNITY_A), rel=1e-6)
    # Boundary slivers were merged away: no cell is under a tenth of a whole one.
    assert min(c[2] for c in cells) > 0.1 * cell_area
    assert draft.min_area_m2 > 0.1 * cell_area
    assert draft.replaces_cells_in_force == 2


def test_codes_follow_reading_order_from_the_north_west(conn):
    draft = draft_cells(conn, COMMUNITY_A, shape="square", size_m=250.0)
    top = [_draft_cell_at(conn, draft.version_id, x, 400) for x in (20, 375, 625, 980)]
    bottom = [_draft_cell_at(conn, draft.version_id, x, 100) for x in (20, 375, 625, 980)]
    assert top[0] == f"{COMMUNITY_A}{FIRST_A:03d}"
    assert bottom[-1] == f"{COMMUNITY_A}{FIRST_A + draft.cells - 1:03d}"
    assert top == sorted(set(top)) and bottom == sorted(set(bottom))
    assert top[-1] < bottom[0]


def test_draft_is_not_in_force_until_activated_then_buildings_move(conn):
    _add_buildings(conn, [(450, 250), (50, 450), (950, 50)])
    before = _cell_at(conn, 450, 250)
    draft = draft_cells(conn, COMMUNITY_A, shape="hex", size_m=120.0, label="草拟 v2")
    assert conn.execute(
        text("SELECT status, label, source FROM boundary_versions WHERE id = :v"),
        {"v": draft.version_id},
    ).one() == ("draft", "草拟 v2", "draft")
    assert _cell_at(conn, 450, 250) == before
    assert before[1] != draft.version_id
    result = activate_version(conn, draft.version_id)
    assert (result.cells_activated, result.cells_retired) == (draft.cells, 2)
    assert result.buildings_relinked == 3
    code, version_id = _cell_at(conn, 450, 250)
    assert version_id == draft.version_id
    linked = conn.execute(
        text("""
        SELECT count(*) FROM buildings b JOIN grid_cells c ON c.id = b.cell_id
        WHERE c.version_id = :v
    """),
        {"v": draft.version_id},
    ).scalar_one()
    assert linked == 3
    assert _cell_at(conn, 50, 450)[0] < code < _cell_at(conn, 950, 50)[0]


def test_building_count_cells_hold_about_the_target_number(conn):
    dense = [(x, y) for x in range(20, 200, 40) for y in range(25, 500, 50)]  # 50 buildings
    sparse = [(x, y) for x in (300, 500, 700, 900) for y in (100, 250, 400)]  # 12 buildings
    _add_buildings(conn, dense + sparse)
    draft = draft_cells(conn, COMMUNITY_A, shape="buildings", buildings_per_cell=8)
    assert draft.cells == math.ceil(62 / 8)
    assert check_version(conn, draft.version_id) == []
    activate_version(conn, draft.version_id)
    counts = conn.execute(
        text("""
        SELECT c.code, count(b.id) FROM grid_cells c LEFT JOIN buildings b ON b.cell_id = c.id
        WHERE c.version_id = :v GROUP BY c.code ORDER BY c.code
    """),
        {"v": draft.version_id},
    ).all()
    assert len(counts) == draft.cells
    assert sum(n for _, n in counts) == 62
    assert all(4 <= n <= 16 for _, n in counts), counts
    # The dense west gets small cells, the sparse east large ones.
    areas = {c.code: c[2] for c in _cells(conn, draft.version_id)}
    assert areas[f"{COMMUNITY_A}{FIRST_A:03d}"] < areas[max(areas)]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"shape": "square", "size_m": 0.0}, "size_m"),
        ({"shape": "hex", "size_m": -50.0}, "size_m"),
        ({"shape": "square", "size_m": float("nan")}, "size_m"),
        ({"shape": "square"}, "size_m"),
        ({"shape": "square", "size_m": 10.0}, "size_m"),  # 5,000 cells
        ({"shape": "square", "size_m": 0.01}, "size_m"),
        ({"shape": "hex", "size_m": 22.0}, "size_m"),  # ~1,250 cells, counted after clipping
        ({"shape": "triangle", "size_m": 100.0}, "shape"),
        ({"shape": "buildings", "buildings_per_cell": 0}, "buildings_per_cell"),
        ({"shape": "buildings", "buildings_per_cell": 5, "size_m": 100.0}, "size_m"),
        ({"shape": "square", "size_m": 100.0, "buildings_per_cell": 5}, "buildings_per_cell"),
        ({"shape": "square", "size_m": 100.0, "label": ""}, "label"),
    ],
)
def test_bad_options_are_refused_naming_the_field(conn, options, field):
    with pytest.raises(InvalidInput) as caught:
        draft_cells(conn, COMMUNITY_A, **options)
    assert caught.value.field == field


def test_buildings_shape_needs_buildings_in_the_community(conn):
    _add_buildings(conn, [(100, 100)])  # in 甲社区, not 乙
    with pytest.raises(InvalidInput) as caught:
        draft_cells(conn, COMMUNITY_B, shape="buildings", buildings_per_cell=10)
    assert caught.value.field == "shape"


def test_buildings_shape_refuses_more_than_999_cells(conn):
    _add_buildings(conn, [(10 + 24 * (i % 40), 10 + 19 * (i // 40)) for i in range(1000)], half=2.0)
    with pytest.raises(InvalidInput) as caught:
        draft_cells(conn, COMMUNITY_A, shape="buildings", buildings_per_cell=1)
    assert caught.value.field == "buildings_per_cell"


@pytest.mark.parametrize("code", ["999999999999", "880101001"])  # unknown; a street
def test_unknown_community_is_not_found(conn, code):
    with pytest.raises(NotFound):
        draft_cells(conn, code, shape="square", size_m=100.0)
    assert (
        conn.execute(text("SELECT count(*) FROM boundary_versions WHERE source = 'draft'")).scalar()
        == 0
    )


def test_cli_drafts_and_prints_the_next_steps(conn, monkeypatch):
    @contextmanager
    def in_test_transaction():
        yield conn

    monkeypatch.setattr(cli.cells, "bulk_transaction", in_test_transaction)
    result = CliRunner().invoke(
        cli.main.main, ["cells", "draft", COMMUNITY_B, "--shape", "square", "--size", "250"]
    )
    assert result.exit_code == 0, result.output
    version_id = conn.execute(text("SELECT max(id) FROM boundary_versions")).scalar_one()
    assert f"gridgov cells check {version_id}" in result.output
    assert f"gridgov cells activate {version_id}" in result.output
    assert "replace" in result.output  # 乙社区 has a cell in force
    assert len(_cells(conn, version_id)) == 4


def _activate_by_cli(conn, monkeypatch, *args):
    @contextmanager
    def in_test_transaction():
        yield conn

    monkeypatch.setattr(cli.cells, "bulk_transaction", in_test_transaction)
    return CliRunner().invoke(cli.main.main, ["cells", "activate", *args])


def _cells_in_force_and_buildings(conn):
    """The (code, version) of the cells in force and (building, cell) links, for comparing."""
    in_force = conn.execute(
        text(
            "SELECT code, version_id FROM grid_cells WHERE active_from IS NOT NULL AND active_to IS NULL ORDER BY code"
        )
    ).all()
    links = conn.execute(text("SELECT id, cell_id FROM buildings ORDER BY id")).all()
    return in_force, links


def test_cli_activation_is_a_dry_run_that_changes_nothing_without_commit(conn, monkeypatch):
    _add_buildings(conn, [(450, 250), (50, 450)])
    draft = draft_cells(conn, COMMUNITY_A, shape="square", size_m=250.0)
    before = _cells_in_force_and_buildings(conn)
    result = _activate_by_cli(conn, monkeypatch, str(draft.version_id))
    assert result.exit_code == 0, result.output
    assert "dry run, nothing changed" in result.output
    assert f"{draft.cells} cells in force, 2 retired" in result.output
    assert "2 buildings relinked" in result.output
    assert f"gridgov cells activate {draft.version_id} --commit" in result.output
    assert _cells_in_force_and_buildings(conn) == before
    assert (
        conn.execute(
            text("SELECT status FROM boundary_versions WHERE id = :v"), {"v": draft.version_id}
        ).scalar_one()
        == "draft"
    )


def test_cli_activation_with_commit_puts_the_draft_in_force(conn, monkeypatch):
    _add_buildings(conn, [(450, 250), (50, 450)])
    draft = draft_cells(conn, COMMUNITY_A, shape="square", size_m=250.0)
    result = _activate_by_cli(conn, monkeypatch, str(draft.version_id), "--commit")
    assert result.exit_code == 0, result.output
    assert f"version {draft.version_id} active: {draft.cells} cells in force" in result.output
    assert _cell_at(conn, 450, 250)[1] == draft.version_id
    assert (
        conn.execute(
            text("SELECT status FROM boundary_versions WHERE id = :v"), {"v": draft.version_id}
        ).scalar_one()
        == "active"
    )


def test_cli_reports_an_unknown_community_as_a_clean_error(settings, migrated_db, monkeypatch):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli.main.main, ["cells", "draft", "999999999999", "--shape", "hex", "--size", "100"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no community 999999999999" in result.output


def test_a_second_draft_does_not_reuse_codes_so_workers_do_not_follow_a_code_elsewhere(conn):
    conn.execute(
        text("""
        INSERT INTO users (username, display_name, role, password_hash, region_id)
        SELECT 'w-a1', '网格员', 'grid_worker', 'x', id FROM regions
        WHERE code = '880101001001';
        INSERT INTO cell_assignments (cell_id, user_id, kind, valid_from)
        SELECT c.id, u.id, 'primary', current_date - 1
        FROM grid_cells c, users u WHERE c.code = '880101001001001' AND u.username = 'w-a1'
    """)
    )
    first = draft_cells(conn, COMMUNITY_A, shape="square", size_m=500.0)
    second = draft_cells(conn, COMMUNITY_A, shape="square", size_m=500.0)
    first_codes = {c.code for c in _cells(conn, first.version_id)}
    second_codes = {c.code for c in _cells(conn, second.version_id)}
    assert not first_codes & second_codes
    assert min(second_codes) > max(first_codes) > f"{COMMUNITY_A}002"
    result = activate_version(conn, second.version_id)
    assert result.assignments_moved == 0
