"""Writing the population file's checked rows: new ids from the sequences, COPY into
temporary tables, one upsert per table, and residences opened and closed for moves."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import Connection, text


def write_population(
    conn: Connection, rows: pd.DataFrame, given: set[str]
) -> dict[str, dict[str, int]]:
    """Assign ids to new rows, then COPY + upsert houses, households, people; record moves."""
    rows = rows.copy()
    for column, table, key in (
        ("house_id", "houses", "house_key"),
        ("household_id", "households", "household_key"),
        ("person_id", "people", "row"),
    ):
        rows[column] = _with_new_ids(conn, rows[column], rows[key], table)
    counts = {
        "houses": _upsert_houses(conn, rows.drop_duplicates("house_key"), given),
        "households": _upsert_households(conn, rows.drop_duplicates("household_key")),
        "people": _upsert_people(conn, rows, given),
    }
    counts["residences"] = _record_moves(conn)
    conn.execute(text("DROP TABLE import_houses, import_households, import_people"))
    return counts


def _with_new_ids(conn: Connection, ids: pd.Series, keys: pd.Series, table: str) -> pd.Series:
    """Fill missing ids from the table's sequence, one new id per distinct key."""
    new_keys = keys[ids.isna()].unique()
    if len(new_keys) == 0:
        return ids
    fresh = (
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table, "n": len(new_keys)},
        )
        .scalars()
        .all()
    )
    return ids.fillna(keys.map(dict(zip(new_keys, fresh, strict=True)))).astype("Int64")


def _upsert_houses(conn: Connection, houses: pd.DataFrame, given: set[str]) -> dict[str, int]:
    """COPY houses into a temporary table, then one INSERT ... ON CONFLICT (id)."""
    conn.execute(
        text(
            "CREATE TEMP TABLE import_houses (id bigint, building_id bigint, external_id text, "
            "floor int, unit_number text, area_m2 numeric, is_rental boolean, landlord_name text, "
            "landlord_phone text) ON COMMIT DROP"
        )
    )
    _copy(
        conn,
        "COPY import_houses FROM STDIN WITH (FORMAT csv)",
        houses[
            [
                "house_id",
                "building_id",
                "house_external_id",
                "floor",
                "unit_number",
                "area_m2",
                "is_rental",
                "landlord_name",
                "landlord_phone",
            ]
        ],
    )
    # A column the file lacks keeps the stored value; a column it has sets it, blank clears.
    return _counted(
        conn,
        """
        WITH upserted AS (
        INSERT INTO houses AS h (id, building_id, external_id, floor, unit_number, area_m2,
                                 is_rental, landlord_name, landlord_phone)
        SELECT id, building_id, external_id, floor, unit_number, area_m2,
               coalesce(is_rental, false), landlord_name, landlord_phone
        FROM import_houses
        ON CONFLICT (id) DO UPDATE SET
            building_id = EXCLUDED.building_id, floor = EXCLUDED.floor,
            unit_number = EXCLUDED.unit_number,
            external_id = coalesce(EXCLUDED.external_id, h.external_id),
            area_m2 = CASE WHEN :area THEN EXCLUDED.area_m2 ELSE h.area_m2 END,
            is_rental = CASE WHEN :rental THEN EXCLUDED.is_rental ELSE h.is_rental END,
            landlord_name = CASE WHEN :landlord THEN EXCLUDED.landlord_name
                                 ELSE h.landlord_name END,
            landlord_phone = CASE WHEN :landlord_phone THEN EXCLUDED.landlord_phone
                                  ELSE h.landlord_phone END
        RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM upserted
    """,
        area="area_m2" in given,
        rental="is_rental" in given,
        landlord="landlord_name" in given,
        landlord_phone="landlord_phone" in given,
    )


def _upsert_households(conn: Connection, households: pd.DataFrame) -> dict[str, int]:
    """COPY households into a temporary table, then one INSERT ... ON CONFLICT (id)."""
    conn.execute(
        text(
            "CREATE TEMP TABLE import_households (id bigint, house_id bigint, "
            "external_id text, kind text) ON COMMIT DROP"
        )
    )
    _copy(
        conn,
        "COPY import_households FROM STDIN WITH (FORMAT csv)",
        households[["household_id", "house_id", "household_external_id", "household_kind"]],
    )
    return _counted(
        conn,
        """
        WITH upserted AS (
        INSERT INTO households AS hh (id, house_id, external_id, kind)
        SELECT id, house_id, external_id, kind FROM import_households
        ON CONFLICT (id) DO UPDATE SET
            house_id = EXCLUDED.house_id, kind = EXCLUDED.kind,
            external_id = coalesce(EXCLUDED.external_id, hh.external_id)
        RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM upserted
    """,
    )


def _upsert_people(conn: Connection, people: pd.DataFrame, given: set[str]) -> dict[str, int]:
    """COPY people (ID numbers as hash + last four only) and upsert them by id."""
    conn.execute(
        text(
            "CREATE TEMP TABLE import_people (id bigint, household_id bigint, external_id text, "
            "name text, gender text, birth_date date, phone text, id_number_hash text, "
            "id_number_last4 text, vulnerability_tags text[], moved_in date) ON COMMIT DROP"
        )
    )
    out = people[
        [
            "person_id",
            "household_id",
            "person_external_id",
            "name",
            "gender",
            "birth_date",
            "phone",
            "id_hash",
            "id_last4",
            "vulnerability_tags",
            "moved_in",
        ]
    ].copy()
    for column in ("birth_date", "moved_in"):
        out[column] = out[column].dt.strftime("%Y-%m-%d")
    _copy(conn, "COPY import_people FROM STDIN WITH (FORMAT csv)", out)
    # A gender or birth date nobody stated (nor an ID number gave) keeps the stored one.
    return _counted(
        conn,
        """
        WITH upserted AS (
        INSERT INTO people AS p (id, household_id, external_id, name, gender, birth_date,
                                 phone, id_number_hash, id_number_last4, vulnerability_tags)
        SELECT id, household_id, external_id, name, coalesce(gender, 'unknown'), birth_date,
               phone, id_number_hash, id_number_last4, vulnerability_tags
        FROM import_people
        ON CONFLICT (id) DO UPDATE SET
            household_id = EXCLUDED.household_id, name = EXCLUDED.name,
            external_id = coalesce(EXCLUDED.external_id, p.external_id),
            gender = CASE WHEN EXCLUDED.gender = 'unknown' THEN p.gender
                          ELSE EXCLUDED.gender END,
            birth_date = coalesce(EXCLUDED.birth_date, p.birth_date),
            phone = CASE WHEN :phone THEN EXCLUDED.phone ELSE p.phone END,
            id_number_hash = CASE WHEN :id_number THEN EXCLUDED.id_number_hash
                                  ELSE p.id_number_hash END,
            id_number_last4 = CASE WHEN :id_number THEN EXCLUDED.id_number_last4
                                   ELSE p.id_number_last4 END,
            vulnerability_tags = CASE WHEN :tags THEN EXCLUDED.vulnerability_tags
                                      ELSE p.vulnerability_tags END
        RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM upserted
    """,
        phone="phone" in given,
        id_number="id_number" in given,
        tags="vulnerability_tags" in given,
    )


def _record_moves(conn: Connection) -> dict[str, int]:
    """Close the open residence of people who moved to another household, and open one
    for everyone new to their household (moved in on the stated date, else today)."""
    closed = conn.execute(
        text("""
        UPDATE residences r SET moved_out = greatest(coalesce(t.moved_in, CURRENT_DATE),
                                                     r.moved_in)
        FROM import_people t
        WHERE r.person_id = t.id AND r.moved_out IS NULL AND r.household_id <> t.household_id
    """)
    ).rowcount
    opened = conn.execute(
        text("""
        INSERT INTO residences (person_id, household_id, moved_in)
        SELECT t.id, t.household_id, coalesce(t.moved_in, CURRENT_DATE) FROM import_people t
        WHERE NOT EXISTS (SELECT 1 FROM residences r WHERE r.person_id = t.id
                          AND r.household_id = t.household_id AND r.moved_out IS NULL)
    """)
    ).rowcount
    return {"opened": opened, "closed": closed}


def _copy(conn: Connection, statement: str, frame: pd.DataFrame) -> None:
    """COPY a frame in CSV form; missing values become NULL (unquoted empty fields)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert(statement, buffer)


def _counted(conn: Connection, upsert: str, **params: bool) -> dict[str, int]:
    """Run an upsert that selects (inserted, updated) counts; return them by name."""
    inserted, updated = conn.execute(text(upsert), params).one()
    return {"inserted": int(inserted), "updated": int(updated)}
