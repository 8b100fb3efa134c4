"""The demo city: generated deterministically, loaded through the real schema, and
shaped like a real one (every invariant the register relies on holds)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from demo.city import generate_demo_city
from demo.load import clear_register, load_demo_city, register_is_empty
from demo.people import AS_OF, HOMETOWN_CODES
from grid.identity import id_number_hash, normalise_id_number


@pytest.fixture(scope="module")
def city():
    return generate_demo_city(seed=7)


@pytest.fixture(scope="module")
def id_key(settings):
    return settings.id_hash_key.get_secret_value().encode()


@pytest.fixture(scope="module")
def loaded(sync_engine, city, id_key):
    """The demo city loaded in a transaction that is rolled back after this module."""
    with sync_engine.connect() as conn:
        outer = conn.begin()
        counts = load_demo_city(conn, city, password_hash="$argon2id$dummy", id_hash_key=id_key)
        # Autovacuum cannot see rows this transaction has not committed: without fresh
        # statistics the planner takes the new tables for empty and may pick nested loops
        # over ~100k rows each (a join below then ran for minutes).
        conn.execute(text("ANALYZE buildings, houses, households, people, residences"))
        yield conn, counts
        outer.rollback()


def _scalar(conn, sql):
    return conn.execute(text(sql)).scalar()


def test_same_seed_gives_the_same_city(city):
    again = generate_demo_city(seed=7)
    assert list(again.cells["code"]) == list(city.cells["code"])
    assert (
        again.buildings["footprint"].to_wkb().tolist()
        == city.buildings["footprint"].to_wkb().tolist()
    )
    for frame in ("houses", "households", "people", "residences"):
        pd.testing.assert_frame_equal(
            getattr(again.population, frame), getattr(city.population, frame)
        )


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
    assert (
        _scalar(
            conn,
            """SELECT count(*) FROM grid_cells c JOIN regions r
                            ON r.id = c.community_id
                            WHERE c.code !~ '^[0-9]{15}$' OR left(c.code, 12) <> r.code""",
        )
        == 0
    )


def test_cells_are_not_all_squares(loaded):
    conn, _ = loaded
    vertex_counts = (
        conn.execute(text("SELECT DISTINCT ST_NPoints(boundary) FROM grid_cells")).scalars().all()
    )
    assert len(vertex_counts) > 5


def test_every_cell_lies_inside_its_community(loaded):
    conn, _ = loaded
    # Tolerance of 1 m² for floating-point noise at shared edges.
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM grid_cells c JOIN regions r ON r.id = c.community_id
        WHERE ST_Area(ST_Difference(c.boundary, r.boundary)::geography) > 1""",
        )
        == 0
    )


def test_cells_of_a_community_do_not_overlap(loaded):
    conn, _ = loaded
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM grid_cells a JOIN grid_cells b
          ON a.community_id = b.community_id AND a.id < b.id AND a.boundary && b.boundary
        WHERE ST_Area(ST_Intersection(a.boundary, b.boundary)::geography) > 1""",
        )
        == 0
    )


def test_every_building_is_inside_exactly_one_cell_its_own(loaded):
    conn, _ = loaded
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM buildings b
        WHERE (SELECT count(*) FROM grid_cells c
               WHERE ST_Covers(c.boundary, ST_PointOnSurface(b.footprint))) <> 1""",
        )
        == 0
    )
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM buildings b JOIN grid_cells c ON c.id = b.cell_id
        WHERE NOT ST_Covers(c.boundary, ST_PointOnSurface(b.footprint))""",
        )
        == 0
    )
    assert _scalar(conn, "SELECT count(*) FROM buildings WHERE cell_id IS NULL") == 0


def test_workers_primary_per_cell_backups_and_a_few_gaps(loaded):
    conn, _ = loaded
    without = _scalar(
        conn,
        """SELECT count(*) FROM grid_cells c WHERE NOT EXISTS (
        SELECT 1 FROM cell_assignments a WHERE a.cell_id = c.id)""",
    )
    assert 1 <= without <= 10
    assert _scalar(conn, "SELECT count(*) FROM cell_assignments WHERE kind = 'backup'") > 0


def test_one_demo_account_per_role_consistent_areas(loaded):
    conn, _ = loaded
    roles = dict(
        conn.execute(
            text(
                "SELECT username, role FROM users WHERE username IN "
                "('admin','district','street','community','worker','resident')"
            )
        ).all()
    )
    assert roles == {
        "admin": "admin",
        "district": "district_manager",
        "street": "street_manager",
        "community": "community_manager",
        "worker": "grid_worker",
        "resident": "resident",
    }
    # The demo worker's cell lies in the demo community manager's community, and so on up.
    nested = _scalar(
        conn,
        """
        SELECT bool_and(rw.path LIKE rc.path || '%' AND rc.path LIKE rs.path || '%'
                        AND rs.path LIKE rd.path || '%')
        FROM users w JOIN cell_assignments a ON a.user_id = w.id
        JOIN grid_cells c ON c.id = a.cell_id JOIN regions rw ON rw.id = c.community_id,
        users uc JOIN regions rc ON rc.id = uc.region_id,
        users us JOIN regions rs ON rs.id = us.region_id,
        users ud JOIN regions rd ON rd.id = ud.region_id
        WHERE w.username = 'worker' AND uc.username = 'community'
          AND us.username = 'street' AND ud.username = 'district'""",
    )
    assert nested is True


# --- the people register -------------------------------------------------------------


def test_population_is_city_sized_and_every_home_building_has_houses(loaded, city):
    conn, counts = loaded
    pop = city.population
    homes = np.flatnonzero(city.buildings["use"].isin(["residential", "mixed"]).to_numpy())
    assert set(pop.houses["building"]) == set(homes.tolist())
    assert 50_000 <= counts["houses"] <= 300_000 and 100_000 <= counts["people"] <= 400_000
    for table in ("houses", "households", "people", "residences"):
        assert counts[table] == _scalar(conn, f"SELECT count(*) FROM {table}")
    per_building = _scalar(
        conn,
        """
        SELECT count(p.id)::float / count(DISTINCT b.id) FROM buildings b
        LEFT JOIN houses h ON h.building_id = b.id LEFT JOIN households f ON f.house_id = h.id
        LEFT JOIN people p ON p.household_id = f.id WHERE b.use = 'residential'""",
    )
    assert per_building > 3
    # Only homes have houses.
    assert (
        _scalar(
            conn,
            """SELECT count(*) FROM houses h JOIN buildings b ON b.id = h.building_id
                            WHERE b.use NOT IN ('residential', 'mixed')""",
        )
        == 0
    )


def test_houses_have_unique_units_on_real_floors_and_landlords_on_rentals(loaded):
    conn, _ = loaded
    assert (
        _scalar(conn, "SELECT count(*) - count(DISTINCT (building_id, unit_number)) FROM houses")
        == 0
    )
    assert (
        _scalar(
            conn,
            """SELECT count(*) FROM houses h JOIN buildings b ON b.id = h.building_id
                            WHERE h.floor < 1 OR h.floor > b.floors
                               OR h.unit_number !~ ('^([1-4]单元)?' || h.floor || '0[1-4]$')""",
        )
        == 0
    )
    assert _scalar(conn, "SELECT count(*) FROM houses WHERE area_m2 NOT BETWEEN 40 AND 150") == 0
    assert (
        _scalar(
            conn,
            """SELECT count(*) FROM houses
                            WHERE is_rental <> (landlord_name IS NOT NULL AND landlord_phone IS NOT NULL)""",
        )
        == 0
    )
    assert 0.18 <= _scalar(conn, "SELECT avg(is_rental::int) FROM houses") <= 0.32
    assert (
        0.84
        <= _scalar(conn, "SELECT (SELECT count(*) FROM households)::float / count(*) FROM houses")
        <= 0.92
    )
    assert 0.25 <= _scalar(conn, "SELECT avg((kind = 'migrant')::int) FROM households") <= 0.35


def test_every_person_lives_in_a_building_with_a_cell(loaded):
    conn, _ = loaded
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM people p
        WHERE NOT EXISTS (SELECT 1 FROM households f JOIN houses h ON h.id = f.house_id
                          JOIN buildings b ON b.id = h.building_id
                          JOIN grid_cells c ON c.id = b.cell_id
                          WHERE f.id = p.household_id)""",
        )
        == 0
    )
    sizes = dict(
        conn.execute(
            text("""
        SELECT n, count(*) FROM (SELECT count(*) AS n FROM people GROUP BY household_id) s
        GROUP BY n""")
        ).all()
    )
    assert set(sizes) == {1, 2, 3, 4, 5}


def test_names_are_chinese_phones_are_mobiles(loaded):
    conn, _ = loaded
    names = conn.execute(text("SELECT name FROM people")).scalars().all()
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,5}", n) for n in names)
    assert len(set(names)) > len(names) / 10  # not a handful of names repeated
    assert _scalar(conn, "SELECT count(*) FROM people WHERE phone !~ '^1[3-9][0-9]{9}$'") == 0
    assert (
        _scalar(conn, "SELECT count(*) FROM houses WHERE landlord_phone !~ '^1[3-9][0-9]{9}$'") == 0
    )


def test_vulnerable_people_are_about_five_percent_and_tagged_for_a_reason(loaded):
    conn, counts = loaded
    share = counts["vulnerable_people"] / counts["people"]
    assert 0.03 <= share <= 0.08
    assert share == pytest.approx(
        _scalar(
            conn,
            """
        SELECT avg((cardinality(vulnerability_tags) > 0)::int)::float FROM people""",
        )
    )
    tags = Counter(conn.execute(text("SELECT unnest(vulnerability_tags) FROM people")).scalars())
    assert set(tags) == {"elderly_alone", "disability", "bedridden", "child", "chronic_illness"}
    # The elderly living alone are 70+ and alone; the left-behind children are under 16.
    as_of = AS_OF.isoformat()
    assert (
        _scalar(
            conn,
            f"""
        SELECT count(*) FROM people p WHERE 'elderly_alone' = ANY(vulnerability_tags)
        AND (age(DATE '{as_of}', birth_date) < interval '70 years'
             OR (SELECT count(*) FROM people o WHERE o.household_id = p.household_id) <> 1)""",
        )
        == 0
    )
    assert (
        _scalar(
            conn,
            f"""
        SELECT count(*) FROM people WHERE 'child' = ANY(vulnerability_tags)
        AND age(DATE '{as_of}', birth_date) >= interval '16 years'""",
        )
        == 0
    )


def test_generated_id_numbers_are_valid_unique_and_match_birth_and_sex(city):
    people = city.population.people
    numbers = people["id_number"].tolist()
    assert [normalise_id_number(n) for n in numbers] == numbers
    assert len(set(numbers)) == len(numbers)
    codes = set(city.regions.loc[city.regions["level"] == "district", "code"]) | set(HOMETOWN_CODES)
    assert {n[:6] for n in numbers} <= codes
    births = people["birth_date"].dt.strftime("%Y%m%d").tolist()
    assert all(n[6:14] == b for n, b in zip(numbers, births, strict=True))
    odd = [int(n[16]) % 2 == 1 for n in numbers]
    assert odd == (people["gender"] == "male").tolist()


def test_database_holds_only_the_keyed_hash_and_last_four(loaded, city, id_key):
    conn, _ = loaded
    stored = dict(
        (e, (h, last4))
        for e, h, last4 in conn.execute(
            text("SELECT external_id, id_number_hash, id_number_last4 FROM people")
        ).all()
    )
    for external_id, number in zip(
        city.population.people["external_id"], city.population.people["id_number"], strict=True
    ):
        assert stored[external_id] == (id_number_hash(number, id_key), number[-4:])
    columns = set(
        conn.execute(
            text("""SELECT column_name FROM information_schema.columns
                                       WHERE table_name = 'people'""")
        ).scalars()
    )
    assert {c for c in columns if "id_number" in c} == {"id_number_hash", "id_number_last4"}
    # No other column of the register holds anything shaped like an ID number.
    assert (
        _scalar(
            conn,
            r"""
        SELECT count(*) FROM people
        WHERE concat_ws('|', external_id, name, gender, birth_date, phone, id_number_last4,
                        vulnerability_tags) ~ '[0-9]{17}[0-9X]'""",
        )
        == 0
    )


def test_residences_one_open_per_person_and_some_history(loaded):
    conn, _ = loaded
    assert (
        _scalar(
            conn,
            """
        SELECT count(*) FROM people p WHERE (SELECT count(*) FROM residences r
            WHERE r.person_id = p.id AND r.moved_out IS NULL
              AND r.household_id = p.household_id) <> 1""",
        )
        == 0
    )
    assert (
        _scalar(
            conn,
            """SELECT count(*) FROM residences r JOIN people p ON p.id = r.person_id
                            WHERE r.moved_in < p.birth_date OR r.moved_in > DATE '2026-11-01'""",
        )
        == 0
    )
    moved = _scalar(
        conn,
        """SELECT count(*) FROM residences r JOIN people p ON p.id = r.person_id
                             WHERE r.moved_out IS NOT NULL AND r.household_id <> p.household_id""",
    )
    assert 0 < moved == _scalar(conn, "SELECT count(*) FROM residences WHERE moved_out IS NOT NULL")


def test_clear_register_empties_the_people_register_too(loaded):
    conn, _ = loaded
    savepoint = conn.begin_nested()
    clear_register(conn)
    for table in ("residences", "people", "households", "houses", "buildings", "regions"):
        assert _scalar(conn, f"SELECT count(*) FROM {table}") == 0
    assert register_is_empty(conn)
    savepoint.rollback()
    assert _scalar(conn, "SELECT count(*) FROM people") > 0
