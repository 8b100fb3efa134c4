"""The people register read side: counts per cell, and people within a caller's scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from grid.access import Principal, assignment_valid_on
from grid.identity import id_number_hash, masked_id_number, normalise_id_number
from grid.models import Building, CellAssignment, GridCell, Region
from grid.people import House, Household, Person, Residence
from grid.roles import MANAGER_ROLES, Role


@dataclass(frozen=True)
class PeopleFilter:
    """What a register search asks for: text, tags, and where."""

    text: str | None = None
    tags: tuple[str, ...] = ()
    vulnerable_only: bool = False
    cell_id: int | None = None
    community_path: str | None = None


def people_scope(principal: Principal, on: date) -> ColumnElement[bool]:
    """Rows (joined through Building, GridCell, Region) the principal may see people in:
    a grid worker their assigned cells, a manager their region, an admin everything."""
    if principal.is_admin:
        return true()
    if principal.role is Role.GRID_WORKER:
        mine = select(CellAssignment.cell_id).where(
            CellAssignment.user_id == principal.id, *assignment_valid_on(on)
        )
        return Building.cell_id.in_(mine)
    if principal.role in MANAGER_ROLES and principal.region_path:
        return Region.path.startswith(principal.region_path, autoescape=True)
    return false()


def _people_query() -> Select:
    """People with their household, house, building, cell and community."""
    return (
        select(
            Person.id,
            Person.name,
            Person.gender,
            Person.birth_date,
            Person.phone,
            Person.id_number_last4,
            Person.vulnerability_tags,
            Household.id,
            Household.kind,
            House.id,
            House.unit_number,
            House.floor,
            House.is_rental,
            Building.id,
            Building.address,
            GridCell.code,
        )
        .join(Household, Household.id == Person.household_id)
        .join(House, House.id == Household.house_id)
        .join(Building, Building.id == House.building_id)
        .join(GridCell, GridCell.id == Building.cell_id)
        .join(Region, Region.id == GridCell.community_id)
    )


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _person_row(row: Any, on: date) -> dict[str, Any]:
    (
        pid,
        name,
        gender,
        birth,
        phone,
        last4,
        tags,
        hh_id,
        hh_kind,
        house_id,
        unit,
        floor,
        rental,
        building_id,
        address,
        cell_code,
    ) = row
    # The age, never the birth date: with the last four characters and the address's
    # region, a birth date leaves a full ID number a few hundred guesses away.
    return {
        "id": pid,
        "name": name,
        "gender": gender,
        "age": _age(birth, on),
        "phone": phone,
        "id_number": masked_id_number(last4),
        "vulnerability_tags": list(tags),
        "household": {"id": hh_id, "kind": hh_kind},
        "house": {"id": house_id, "unit_number": unit, "floor": floor, "is_rental": rental},
        "building": {"id": building_id, "address": address},
        "cell_code": cell_code,
    }


def exact_id_number(text: str) -> str | None:
    """The full ID number a search text is (normalised), or None: such a search matches
    exactly, so callers limit how often an account may make one."""
    try:
        return normalise_id_number(re.sub(r"\s+", "", text))
    except ValueError:
        return None


def _text_clause(text: str, id_hash_key: str | None) -> ColumnElement[bool]:
    """A full ID number matches exactly (by its keyed hash); anything else matches names,
    and digits match the end of a phone number."""
    compact = re.sub(r"\s+", "", text)
    number = exact_id_number(compact)
    if number is not None:
        if id_hash_key is None:  # a caller bug: hashing with no key would match nobody
            raise ValueError("an ID number search needs the ID hash key")
        return Person.id_number_hash == id_number_hash(number, id_hash_key.encode())
    clauses = [Person.name.contains(compact, autoescape=True)]
    if compact.isdigit() and len(compact) >= 4:
        clauses.append(Person.phone.endswith(compact, autoescape=True))
    return or_(*clauses)


async def people_page(
    session: AsyncSession,
    principal: Principal,
    wanted: PeopleFilter,
    *,
    on: date,
    limit: int,
    after: int | None,
    id_hash_key: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` people in the principal's scope matching the filter, by id, and the
    next cursor. `id_hash_key` is needed only to match a full ID number in the text."""
    query = _people_query().where(people_scope(principal, on))
    if wanted.text:
        query = query.where(_text_clause(wanted.text, id_hash_key))
    if wanted.tags:
        query = query.where(Person.vulnerability_tags.overlap(list(wanted.tags)))
    if wanted.vulnerable_only:
        query = query.where(func.cardinality(Person.vulnerability_tags) > 0)
    if wanted.cell_id is not None:
        query = query.where(Building.cell_id == wanted.cell_id)
    if wanted.community_path is not None:
        query = query.where(Region.path.startswith(wanted.community_path, autoescape=True))
    if after is not None:
        query = query.where(Person.id > after)
    rows = (await session.execute(query.order_by(Person.id).limit(limit + 1))).all()
    people = [_person_row(row, on) for row in rows[:limit]]
    return people, (rows[limit - 1][0] if len(rows) > limit else None)


async def person_record(
    session: AsyncSession, principal: Principal, person_id: int, on: date
) -> dict[str, Any] | None:
    """One person in scope with their move-in / move-out history; None when absent or out
    of scope (the caller cannot tell which)."""
    query = _people_query().where(Person.id == person_id, people_scope(principal, on))
    row = (await session.execute(query)).first()
    if row is None:
        return None
    history = (
        await session.execute(
            select(
                Residence.household_id,
                Residence.moved_in,
                Residence.moved_out,
                House.unit_number,
                Building.address,
            )
            .join(Household, Household.id == Residence.household_id)
            .join(House, House.id == Household.house_id)
            .join(Building, Building.id == House.building_id)
            .where(Residence.person_id == person_id)
            .order_by(Residence.moved_in, Residence.id)
        )
    ).all()
    record = _person_row(row, on)
    record["residences"] = [
        {
            "household_id": hh,
            "moved_in": moved_in.isoformat(),
            "moved_out": moved_out and moved_out.isoformat(),
            "unit_number": unit,
            "address": address,
        }
        for hh, moved_in, moved_out, unit, address in history
    ]
    return record


async def cell_counts(session: AsyncSession, cell_id: int) -> dict[str, Any]:
    """Buildings, houses, households, people and vulnerable people in a cell, and the
    vulnerable by tag. Counts only: no one is identified."""
    totals = (
        await session.execute(
            select(
                func.count(Building.id.distinct()),
                func.count(House.id.distinct()),
                func.count(Household.id.distinct()),
                func.count(Person.id),
                func.count(Person.id).filter(func.cardinality(Person.vulnerability_tags) > 0),
            )
            .select_from(Building)
            .outerjoin(House, House.building_id == Building.id)
            .outerjoin(Household, Household.house_id == House.id)
            .outerjoin(Person, Person.household_id == Household.id)
            .where(Building.cell_id == cell_id)
        )
    ).one()
    tag = func.unnest(Person.vulnerability_tags).label("tag")
    tagged = (
        select(tag)
        .join(Household, Household.id == Person.household_id)
        .join(House, House.id == Household.house_id)
        .join(Building, and_(Building.id == House.building_id, Building.cell_id == cell_id))
        .subquery()
    )
    by_tag = (
        await session.execute(
            select(tagged.c.tag, func.count()).group_by(tagged.c.tag).order_by(tagged.c.tag)
        )
    ).all()
    buildings, houses, households, people, vulnerable = totals
    return {
        "buildings": buildings,
        "houses": houses,
        "households": households,
        "people": people,
        "vulnerable_people": vulnerable,
        "vulnerable_by_tag": dict(by_tag),
    }


def outside_area_counts(counts: dict[str, Any], min_group: int) -> dict[str, Any]:
    """A cell's counts for staff of another area: the vulnerable by tag withheld (a tag's
    "卧床: 1" names a person to anyone who walks the cell), and the vulnerable total only
    when at least `min_group` (settings.stats_min_group); the rest as they are."""
    shown = dict(counts)
    shown["vulnerable_by_tag"] = None
    if shown["vulnerable_people"] < min_group:
        shown["vulnerable_people"] = None
    shown["withheld"] = "outside_area"
    return shown


async def building_count(session: AsyncSession, cell_id: int) -> int:
    """How many buildings a cell holds (public)."""
    query = select(func.count()).select_from(Building).where(Building.cell_id == cell_id)
    return (await session.execute(query)).scalar_one()
