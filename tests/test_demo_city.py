"""The demo city: generated deterministically, loaded through the real schema, and
shaped like a real one (every invariant the register relies on holds)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from grid.demo_city import generate_demo_city
from grid.demo_load import load_demo_city, register_is_empty


@pytest.fixture(scope="module")
def city():
    return generate_demo_city(seed=7)


@pytest.fixture(scope="module")
def loaded(sync_engine, city):
    """The demo city loaded in a transaction that is rolled back after this module."""
    with sync_engine.connect() as conn:
        outer = conn.begin()
        counts = load_demo_city(conn, city, password_hash="$argon2id$dummy")
        yield conn, counts
        outer.rollback()


def _scalar(conn, sql):
    return conn.execute(text(sql)).scalar()


def test_same_seed_gives_the_same_city(city):
    again = generate_demo_city(seed=7)
    assert list(again.cells["code"]) == list(city.cells["code"])
    assert again.buildings["footprint"].to_wkb().tolist() == \
        city.buildings["footprint"].to_wkb().tolist()


def test_sizes_look_like_a_city(loaded):
    conn, counts = loaded
    levels = dict(conn.execute(text("SELECT level, count(*) FROM regions GROUP BY level")).all())
    assert levels["city"] == 1 and levels["district"] == 3
    assert 8 <= levels["street"] <= 12 and 35 <= levels["community"] <= 45
    assert _scalar(conn, "SELECT count(*) FROM grid_cells") >= 400
    assert 25_000 <= _scalar(conn, "SELECT count(*) FROM buildings") <= 35_000
    assert counts["buildings"] == _scalar(conn, "SELECT count(*) FROM buildings")
    assert not register_is_empty(conn)


def test_cell_codes_are_unique_15_digits_under_their_community(loaded):
    conn, _ = loaded
    assert _scalar(conn, "SELECT count(*) - count(DISTINCT code) FROM grid_cells") == 0
    assert _scalar(conn, """SELECT count(*) FROM grid_cells c JOIN regions r
                            ON r.id = c.community_id
                            WHERE c.code !~ '^[0-9]{15}$' OR left(c.code, 12) <> r.code""") == 0


def test_cells_are_not_all_squares(loaded):
    conn, _ = loaded
    vertex_counts = conn.execute(text(
        "SELECT DISTINCT ST_NPoints(boundary) FROM grid_cells")).scalars().all()
    assert len(vertex_counts) > 5


def test_every_cell_lies_inside_its_community(loaded):
    conn, _ = loaded
    # Tolerance of 1 m² for floating-point noise at shared edges.
    assert _scalar(conn, """
        SELECT count(*) FROM grid_cells c JOIN regions r ON r.id = c.community_id
        WHERE ST_Area(ST_Difference(c.boundary, r.boundary)::geography) > 1""") == 0


def test_cells_of_a_community_do_not_overlap(loaded):
    conn, _ = loaded
    assert _scalar(conn, """
        SELECT count(*) FROM grid_cells a JOIN grid_cells b
          ON a.community_id = b.community_id AND a.id < b.id AND a.boundary && b.boundary
        WHERE ST_Area(ST_Intersection(a.boundary, b.boundary)::geography) > 1""") == 0


def test_every_building_is_inside_exactly_one_cell_its_own(loaded):
    conn, _ = loaded
    assert _scalar(conn, """
        SELECT count(*) FROM buildings b
        WHERE (SELECT count(*) FROM grid_cells c
               WHERE ST_Covers(c.boundary, ST_PointOnSurface(b.footprint))) <> 1""") == 0
    assert _scalar(conn, """
        SELECT count(*) FROM buildings b JOIN grid_cells c ON c.id = b.cell_id
        WHERE NOT ST_Covers(c.boundary, ST_PointOnSurface(b.footprint))""") == 0
    assert _scalar(conn, "SELECT count(*) FROM buildings WHERE cell_id IS NULL") == 0


def test_workers_primary_per_cell_backups_and_a_few_gaps(loaded):
    conn, _ = loaded
    without = _scalar(conn, """SELECT count(*) FROM grid_cells c WHERE NOT EXISTS (
        SELECT 1 FROM cell_assignments a WHERE a.cell_id = c.id)""")
    assert 1 <= without <= 10
    assert _scalar(conn, "SELECT count(*) FROM cell_assignments WHERE kind = 'backup'") > 0


def test_one_demo_account_per_role_consistent_areas(loaded):
    conn, _ = loaded
    roles = dict(conn.execute(text(
        "SELECT username, role FROM users WHERE username IN "
        "('admin','district','street','community','worker','resident')")).all())
    assert roles == {"admin": "admin", "district": "district_manager",
                     "street": "street_manager", "community": "community_manager",
                     "worker": "grid_worker", "resident": "resident"}
    # The demo worker's cell lies in the demo community manager's community, and so on up.
    nested = _scalar(conn, """
        SELECT bool_and(rw.path LIKE rc.path || '%' AND rc.path LIKE rs.path || '%'
                        AND rs.path LIKE rd.path || '%')
        FROM users w JOIN cell_assignments a ON a.user_id = w.id
        JOIN grid_cells c ON c.id = a.cell_id JOIN regions rw ON rw.id = c.community_id,
        users uc JOIN regions rc ON rc.id = uc.region_id,
        users us JOIN regions rs ON rs.id = us.region_id,
        users ud JOIN regions rd ON rd.id = ud.region_id
        WHERE w.username = 'worker' AND uc.username = 'community'
          AND us.username = 'street' AND ud.username = 'district'""")
    assert nested is True
