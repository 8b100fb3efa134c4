"""Matching the population file's houses, households and people to the register: by
building, external id, unit number or ID number hash, rejecting rows that disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from grid.importing.people_rows import Rejects, first_rows, kept_rows, mark


def link_buildings(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Building external id -> building id (one query); unknown buildings are rejected."""
    codes = attrs["building_external_id"].dropna().unique().tolist()
    found = dict(
        conn.execute(
            text("SELECT external_id, id FROM buildings WHERE external_id = ANY(:codes)"),
            {"codes": codes},
        ).all()
    )
    attrs["building_id"] = attrs["building_external_id"].map(found).astype("Int64")
    unknown = attrs["building_external_id"].notna() & attrs["building_id"].isna()
    mark(
        rejects,
        unknown,
        "building_external_id",
        "no building '"
        + attrs["building_external_id"]
        + "' in the register (import the buildings first)",
    )
    attrs["house_key"] = attrs["building_external_id"] + "\x1f" + attrs["unit_number"]
    anonymous = "@" + attrs["house_key"]  # a house's household when the file names none
    attrs["household_key"] = ("#" + attrs["household_external_id"]).fillna(anonymous)


def check_groups(attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Rows of one house or household must agree on its attributes."""
    _agree_within(
        attrs,
        rejects,
        "house_key",
        "house",
        {
            c: c
            for c in [
                "house_external_id",
                "floor",
                "area_m2",
                "is_rental",
                "landlord_name",
                "landlord_phone",
            ]
        },
    )
    _agree_within(
        attrs, rejects, "house_external_id", "house external id", {"house_key": "unit_number"}
    )
    _agree_within(
        attrs,
        rejects,
        "household_key",
        "household",
        {"house_key": "unit_number", "household_kind": "household_kind"},
    )
    kept = kept_rows(attrs, rejects)
    mark(
        rejects,
        kept & attrs["household_kind"].isna(),
        "household_kind",
        "household kind is required (registered or migrant); to give every household the "
        'same kind, map the blank value: [values.household_kind] "" = "registered"',
    )


def _agree_within(
    attrs: pd.DataFrame, rejects: Rejects, key: str, what: str, columns: dict[str, str]
) -> None:
    """Rows of a group may leave a column blank (filled from the first row stating it) but
    may not state another value (rejected, naming that first row)."""
    kept = kept_rows(attrs, rejects)
    group = attrs.loc[kept]
    for column, field in columns.items():
        values = group[column]
        first = values.groupby(group[key]).transform("first")
        first_row = first_rows(group, group[key].where(values.notna()))
        clash = values.notna() & first.notna() & (values != first)
        reason = (
            f"{field} disagrees with row "
            + first_row.astype("Int64").astype("str")
            + f" for the same {what}"
        )
        mark(rejects, clash, field, reason)
        attrs.loc[kept, column] = values.fillna(first)


def resolve_houses(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each house in the register by external id, else by building + unit number; a
    house that would take another house's unit or external id is rejected."""
    kept = kept_rows(attrs, rejects)
    houses = attrs.loc[kept].drop_duplicates("house_key")[
        ["house_key", "house_external_id", "building_id", "unit_number"]
    ]
    existing = _frame(
        conn,
        "SELECT id, building_id, unit_number, external_id FROM houses "
        "WHERE building_id = ANY(:buildings) OR external_id = ANY(:externals)",
        buildings=houses["building_id"].dropna().astype(int).tolist(),
        externals=houses["house_external_id"].dropna().tolist(),
    )
    existing["building_id"] = existing["building_id"].astype("Int64")
    by_ext = _lookup(houses["house_external_id"], existing, "external_id")
    at_unit = houses.merge(existing, how="left", on=["building_id", "unit_number"])
    by_unit = pd.Series(at_unit["id"].to_numpy(), index=houses.index, dtype="Int64")
    unit_ext = pd.Series(at_unit["external_id"].to_numpy(), index=houses.index, dtype="str")
    reasons = pd.Series(np.nan, index=houses.index, dtype="str")
    reasons = reasons.mask(
        by_ext.notna() & by_unit.notna() & (by_ext != by_unit),
        "this unit belongs to another house than the external id names",
    )
    reasons = reasons.mask(
        by_ext.isna()
        & unit_ext.notna()
        & houses["house_external_id"].notna()
        & (unit_ext != houses["house_external_id"]),
        "this unit is registered as house '" + unit_ext + "'",
    )
    house_ids = by_ext.fillna(by_unit)
    _reject_groups(attrs, rejects, houses["house_key"], reasons, "house_external_id")
    attrs["house_id"] = (
        attrs["house_key"]
        .map(dict(zip(houses["house_key"], house_ids, strict=True)))
        .astype("Int64")
    )
    _reject_shared_ids(attrs, rejects, "house_key", "house_id", "unit_number", "house")


def resolve_households(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each household by external id, else as the house's household without one."""
    kept = kept_rows(attrs, rejects)
    households = attrs.loc[kept].drop_duplicates("household_key")
    existing = _frame(
        conn,
        "SELECT id, external_id, house_id FROM households "
        "WHERE external_id = ANY(:externals) "
        "OR (external_id IS NULL AND house_id = ANY(:houses))",
        externals=households["household_external_id"].dropna().tolist(),
        houses=households["house_id"].dropna().astype(int).tolist(),
    )
    anonymous = existing[existing["external_id"].isna()].groupby("house_id")["id"].min()
    by_ext = _lookup(households["household_external_id"], existing, "external_id")
    by_house = households["house_id"].map(anonymous).astype("Int64")
    household_ids = by_ext.where(households["household_external_id"].notna(), by_house)
    attrs["household_id"] = (
        attrs["household_key"]
        .map(dict(zip(households["household_key"], household_ids, strict=True)))
        .astype("Int64")
    )


def resolve_people(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each person by external id, else by ID number hash; an ID number that belongs
    to someone else in the register is rejected."""
    kept = kept_rows(attrs, rejects)
    people = attrs.loc[kept]
    existing = _frame(
        conn,
        "SELECT id, external_id, id_number_hash FROM people "
        "WHERE external_id = ANY(:externals) OR id_number_hash = ANY(:hashes)",
        externals=people["person_external_id"].dropna().tolist(),
        hashes=people["id_hash"].dropna().tolist(),
    )
    by_ext = _lookup(people["person_external_id"], existing, "external_id")
    by_hash = _lookup(people["id_hash"], existing, "id_number_hash")
    holder_ext = people["id_hash"].map(
        existing.dropna(subset=["id_number_hash"]).set_index("id_number_hash")["external_id"]
    )
    mark(
        rejects,
        by_ext.notna() & by_hash.notna() & (by_ext != by_hash),
        "id_number",
        "this ID number belongs to another person in the register",
    )
    mark(
        rejects,
        by_ext.isna() & by_hash.notna() & people["person_external_id"].notna() & holder_ext.notna(),
        "person_external_id",
        "this ID number belongs to a person registered under another external id",
    )
    attrs["person_id"] = by_ext.fillna(by_hash).reindex(attrs.index).astype("Int64")
    _reject_shared_ids(attrs, rejects, "row", "person_id", "person_external_id", "person")


def _reject_groups(
    attrs: pd.DataFrame, rejects: Rejects, keys: pd.Series, reasons: pd.Series, field: str
) -> None:
    """Reject every kept row of the groups (houses, households) that have a reason."""
    by_key = dict(zip(keys[reasons.notna()], reasons.dropna(), strict=True))
    reason = attrs[keys.name].map(by_key)
    mark(rejects, kept_rows(attrs, rejects) & reason.notna(), field, reason)


def _reject_shared_ids(
    attrs: pd.DataFrame, rejects: Rejects, key: str, id_column: str, field: str, what: str
) -> None:
    """Two groups of the file that match the same registered row cannot both be written."""
    kept = kept_rows(attrs, rejects)
    ids = attrs[id_column].where(kept)
    first_key = attrs[key].where(kept).groupby(ids).transform("first")
    first_row = first_rows(attrs, ids.where(kept))
    mark(
        rejects,
        first_key.notna() & (first_key != attrs[key]),
        field,
        f"matches the same registered {what} as row " + first_row.astype("Int64").astype("str"),
    )


def _lookup(keys: pd.Series, existing: pd.DataFrame, column: str) -> pd.Series:
    """Registered id by a key column (null keys never match)."""
    table = existing.dropna(subset=[column]).set_index(column)["id"]
    return keys.map(table).astype("Int64")


def _frame(conn: Connection, query: str, **params) -> pd.DataFrame:
    """A query's rows as a frame (one round trip)."""
    result = conn.execute(text(query), params)
    return pd.DataFrame(result.all(), columns=list(result.keys()))
