"""Import the population register (人口台账) from one flat CSV: a row per person with their
house and household. Houses, households and people follow their building to its cell."""

from __future__ import annotations

import codecs
import io
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from core.errors import InvalidInput
from grid.identity import id_number_hash, normalise_id_number
from grid.importing.reading import FieldMapping
from grid.importing.report import ImportReport, RowIssue
from grid.people import GENDERS, HOUSEHOLD_KINDS, VULNERABILITY_TAGS

HOUSE_FIELDS = [
    "building_external_id",
    "house_external_id",
    "floor",
    "unit_number",
    "area_m2",
    "is_rental",
    "landlord_name",
    "landlord_phone",
]
HOUSEHOLD_FIELDS = ["household_external_id", "household_kind"]
PERSON_FIELDS = [
    "person_external_id",
    "name",
    "gender",
    "birth_date",
    "phone",
    "id_number",
    "vulnerability_tags",
    "moved_in",
]
FIELDS = HOUSE_FIELDS + HOUSEHOLD_FIELDS + PERSON_FIELDS
# Without one of these columns no row could be imported: the file is refused instead.
REQUIRED_COLUMNS = ["building_external_id", "floor", "unit_number", "name"]
# Common export values; a mapping's [values.<field>] entries are added and win.
DEFAULT_VALUES = {
    "gender": {"男": "male", "女": "female", "未知": "unknown"},
    "household_kind": {
        "户籍": "registered",
        "户籍人口": "registered",
        "流动": "migrant",
        "流动人口": "migrant",
    },
    "is_rental": {
        "是": "true",
        "否": "false",
        "出租": "true",
        "自住": "false",
        "1": "true",
        "0": "false",
        "yes": "true",
        "no": "false",
    },
    "vulnerability_tags": {
        "独居老人": "elderly_alone",
        "残疾": "disability",
        "残疾人": "disability",
        "卧床": "bedridden",
        "儿童": "child",
        "留守儿童": "child",
        "慢性病": "chronic_illness",
    },
}
MAX_LENGTHS = {
    "building_external_id": 64,
    "house_external_id": 64,
    "unit_number": 32,
    "landlord_name": 100,
    "household_external_id": 64,
    "person_external_id": 64,
    "name": 100,
}
TAG_SEPARATOR = r"[;；,，、|\s]+"
MOBILE = r"1[3-9]\d{9}"
LANDLINE = r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?"  # area code, number, optional extension
EARLIEST_DATE = pd.Timestamp("1900-01-01")
_BOM = b"\xef\xbb\xbf"
# GB 18030 decodes every GBK/GB 2312 file and also the rare characters found in names.
_GB_SUPERSET = {"gbk": "gb18030", "gb2312": "gb18030"}

Progress = Callable[[str], None]
Rejects = dict[int, tuple[str, str]]


def import_population(
    conn: Connection,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    encoding: str | None = None,
    id_hash_key: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import houses, households and people from a flat CSV inside the caller's transaction.

    Every unusable row is reported with its field and reason, never silently dropped; rows
    are matched to the register by external id (houses also by building + unit number,
    people also by ID number hash), so a re-import updates instead of duplicating. Raw ID
    numbers are kept only as keyed hash + last four. A dry run writes inside a savepoint
    that is rolled back, so its report is exact."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    report = ImportReport(kind="people", source=str(path), dry_run=dry_run)

    say(f"reading {Path(path).name}")
    attrs, given, tag_table = _read_rows(Path(path), mapping or FieldMapping(), encoding)
    report.read = len(attrs)
    say(f"read {report.read} rows; checking")
    rejects: Rejects = {}
    repairs: Rejects = {}
    _take_id_numbers(attrs, id_hash_key.encode("utf-8"), rejects, repairs)
    _check_rows(attrs, tag_table, rejects)
    # One population import at a time: the keys read below must not change before we write.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov import people'))"))
    _link_buildings(conn, attrs, rejects)
    _check_groups(attrs, rejects)
    _resolve_houses(conn, attrs, rejects)
    _resolve_households(conn, attrs, rejects)
    _resolve_people(conn, attrs, rejects)
    report.rejected = _issues(rejects, attrs)
    report.repaired = _issues({i: r for i, r in repairs.items() if i not in rejects}, attrs)

    rows = attrs[_kept(attrs, rejects)]
    say(
        f"writing {rows['house_key'].nunique()} houses, {rows['household_key'].nunique()} "
        f"households, {len(rows)} people; {len(rejects)} rows rejected"
    )
    savepoint = conn.begin_nested() if dry_run else None
    report.counts = _write(conn, rows, given)
    if savepoint is not None:
        savepoint.rollback()
    report.inserted = report.counts["people"]["inserted"]
    report.updated = report.counts["people"]["updated"]
    report.seconds = time.monotonic() - started
    say(report.summary())
    return report


# -- reading ----------------------------------------------------------------------------


def _read_rows(
    path: Path, mapping: FieldMapping, encoding: str | None
) -> tuple[pd.DataFrame, set[str], dict[str, str]]:
    """The rows under gridgov field names (blank cells as NaN), the fields the file has a
    column for, and the vulnerability-tag translation table."""
    frame = read_csv_text(path, encoding)
    frame.columns = [str(c).strip() for c in frame.columns]
    mapping.check_columns(frame, FIELDS, REQUIRED_COLUMNS, "population")
    given = {t for t in FIELDS if mapping.columns.get(t, t) in frame.columns}
    for target in FIELDS:
        # An absent column reads as blank, so a [values.<field>] entry for "" can supply a
        # default (e.g. every household "registered").
        source = mapping.columns.get(target, target)
        if source not in frame.columns:
            frame[source] = ""
    frame = frame.apply(lambda column: column.str.strip())
    values = {
        f: {**DEFAULT_VALUES.get(f, {}), **mapping.values.get(f, {})}
        for f in set(DEFAULT_VALUES) | set(mapping.values)
    }
    # Tags are a list in one cell: translated element by element later, not as a whole.
    tag_table = {str(k): str(v) for k, v in values.pop("vulnerability_tags").items()}
    attrs = FieldMapping(columns=mapping.columns, values=values).apply(frame, FIELDS)
    attrs = attrs.astype("str").apply(lambda column: column.mask(column == ""))
    attrs.insert(0, "row", np.arange(1, len(attrs) + 1))
    return attrs, given, tag_table


def read_csv_text(path: Path, encoding: str | None) -> pd.DataFrame:
    """A CSV with every cell as text (blank is ""), UTF-8 unless `encoding` says (GBK read
    as GB 18030); a byte-order mark wins. InvalidInput on field "encoding" when the bytes
    are not that encoding, on "path" when the file is missing or not CSV."""
    if not path.exists():
        raise InvalidInput(f"file not found: {path}", f"文件不存在：{path}", field="path")
    with path.open("rb") as head:
        has_bom = head.read(3) == _BOM
    chosen = "utf-8-sig" if has_bom or encoding is None else _codec(encoding)
    try:
        return pd.read_csv(path, encoding=chosen, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not {chosen} text; pass the file's encoding (e.g. --encoding GBK)",
            f"{path.name} 不是 {chosen} 编码；请用 --encoding 指定编码（如 GBK）",
            field="encoding",
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(
            f"cannot read {path.name} as CSV: {exc}",
            f"无法按 CSV 读取 {path.name}：{exc}",
            field="path",
        ) from exc


def _codec(encoding: str) -> str:
    """The Python codec for an encoding name, GBK family widened to GB 18030."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InvalidInput(
            f"unknown encoding {encoding!r}", f"未知编码：{encoding}", field="encoding"
        ) from exc
    return _GB_SUPERSET.get(name, name)


# -- row checks -------------------------------------------------------------------------


def _take_id_numbers(attrs: pd.DataFrame, key: bytes, rejects: Rejects, repairs: Rejects) -> None:
    """Replace raw ID numbers by keyed hash + last four, and what the number says about
    birth date and gender. The raw numbers go no further than this function."""
    raw = attrs.pop("id_number").str.replace(r"\s+", "", regex=True).str.upper()
    external = attrs["person_external_id"].str.replace(r"\s+", "", regex=True).str.upper()
    echoes = raw.notna() & (external == raw)
    # Some systems key people by ID number; storing that key would store the number.
    _mark(
        repairs,
        echoes,
        "person_external_id",
        "the external id is the ID number: not "
        "stored; the person is matched by the ID number's keyed hash instead",
    )
    attrs["person_external_id"] = attrs["person_external_id"].mask(echoes)
    facts = pd.DataFrame(
        [_id_facts(v, key) for v in raw.dropna()],
        index=raw.dropna().index,
        columns=["id_hash", "id_last4", "id_birth", "id_error"],
    )
    facts = facts.reindex(attrs.index)
    _mark(rejects, facts["id_error"].notna(), "id_number", facts["id_error"])
    birth = pd.to_datetime(facts["id_birth"], format="%Y%m%d", errors="coerce")
    implausible = facts["id_birth"].notna() & (birth.isna() | ~_plausible(birth))
    _mark(
        rejects,
        implausible,
        "id_number",
        "the birth date in the ID number is not a real date since 1900",
    )
    ok = facts["id_hash"].notna() & ~implausible
    attrs["id_hash"] = facts["id_hash"].where(ok).astype("str")
    attrs["id_last4"] = facts["id_last4"].where(ok).astype("str")
    attrs["id_birth"] = birth.where(ok)
    # GB 11643: the 17th character is odd for men, even for women.
    odd = attrs["id_last4"].str[2].astype("float") % 2 == 1
    attrs["id_gender"] = pd.Series(
        np.where(odd, "male", "female"), index=attrs.index, dtype="str"
    ).where(ok)


def _id_facts(value: str, key: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    """(hash, last four, birth YYYYMMDD, error) for one raw ID number; errors never quote it."""
    try:
        number = normalise_id_number(value)
    except ValueError as exc:
        return None, None, None, f"invalid ID number: {exc}"
    return id_number_hash(number, key), number[-4:], number[6:14], None


def _check_rows(attrs: pd.DataFrame, tag_table: dict[str, str], rejects: Rejects) -> None:
    """Field-by-field checks and clean-up, vectorised; the first problem of a row is kept."""
    for field, what in (
        ("name", "name"),
        ("building_external_id", "building external id"),
        ("unit_number", "unit number"),
        ("floor", "floor"),
    ):
        _mark(rejects, attrs[field].isna(), field, f"{what} is required")
    for field, limit in MAX_LENGTHS.items():
        _mark(
            rejects,
            attrs[field].str.len() > limit,
            field,
            f"{field} is longer than {limit} characters",
        )
    _clean_number(
        attrs,
        rejects,
        "floor",
        lambda n: (n % 1 == 0) & n.between(-10, 200),
        "floor must be a whole number from -10 to 200",
        r"\s*(层|楼|F|f)$",
    )
    _clean_number(
        attrs,
        rejects,
        "area_m2",
        lambda n: (n > 0) & (n < 1_000_000),
        "area must be a positive number of m²",
        r"\s*(㎡|m2|m²|平方米|平米)$",
    )
    _clean_choice(attrs, rejects, "gender", GENDERS)
    _clean_choice(attrs, rejects, "household_kind", HOUSEHOLD_KINDS)
    _clean_choice(attrs, rejects, "is_rental", ["true", "false"])
    attrs["gender"] = attrs["gender"].mask(attrs["gender"] == "unknown")  # = not stated
    attrs["is_rental"] = attrs["is_rental"].map({"true": True, "false": False}).astype("boolean")
    for field in ("birth_date", "moved_in"):
        _clean_date(attrs, rejects, field)
    for field in ("phone", "landlord_phone"):
        _clean_phone(attrs, rejects, field)
    _clean_tags(attrs, rejects, tag_table)
    _reconcile_with_id_number(attrs, rejects)
    _check_person_keys(attrs, rejects)


def _clean_number(
    attrs: pd.DataFrame, rejects: Rejects, field: str, valid, reason: str, unit: str
) -> None:
    """Parse a number (a trailing unit such as 层 or ㎡ allowed); reject the rest."""
    raw = attrs[field]
    number = pd.to_numeric(raw.str.replace(unit, "", regex=True), errors="coerce")
    bad = raw.notna() & ~(number.notna() & valid(number))
    _mark(rejects, bad, field, reason + ", got '" + raw + "'")
    attrs[field] = number.where(~bad).astype("Int64" if field == "floor" else "Float64")


def _clean_choice(attrs: pd.DataFrame, rejects: Rejects, field: str, allowed: list[str]) -> None:
    """Lower-case a translated value and reject one outside the allowed list."""
    value = attrs[field].str.lower()
    bad = value.notna() & ~value.isin(allowed)
    _mark(
        rejects,
        bad,
        field,
        f"unknown {field} '"
        + attrs[field]
        + f"'; map it in [values.{field}] to one of {', '.join(allowed)}",
    )
    attrs[field] = value.where(~bad)


def _clean_date(attrs: pd.DataFrame, rejects: Rejects, field: str) -> None:
    """Parse 2020-01-05, 2020/1/5, 2020.1.5, 20200105 or 2020年1月5日 (a time is ignored)."""
    raw = attrs[field]
    value = raw.str.replace(r"\s.*$", "", regex=True).str.replace(r"[./年月]", "-", regex=True)
    value = value.str.replace("日", "", regex=False)
    compact = value.str.fullmatch(r"\d{8}")
    value = value.mask(compact, value.str[:4] + "-" + value.str[4:6] + "-" + value.str[6:])
    dates = pd.to_datetime(value, format="%Y-%m-%d", errors="coerce")
    # The value itself is personal data (a birth date): reasons do not quote it.
    _mark(rejects, raw.notna() & dates.isna(), field, f"{field} is not a date (YYYY-MM-DD)")
    _mark(
        rejects,
        dates.notna() & ~_plausible(dates),
        field,
        f"{field} must lie between 1900-01-01 and today",
    )
    attrs[field] = dates.where(_plausible(dates))


def _plausible(dates: pd.Series) -> pd.Series:
    return (dates >= EARLIEST_DATE) & (dates <= pd.Timestamp(date.today()))


def _clean_phone(attrs: pd.DataFrame, rejects: Rejects, field: str) -> None:
    """Keep a mainland mobile (11 digits, +86 dropped) or a landline with its area code."""
    raw = attrs[field]
    compact = raw.str.replace(r"[\s()（）]", "", regex=True)
    mobile = compact.str.replace("-", "", regex=False).str.replace(
        r"^(?:\+86|0086|86)(?=\d{11}$)", "", regex=True
    )
    value = mobile.where(
        mobile.str.fullmatch(MOBILE), compact.where(compact.str.fullmatch(LANDLINE))
    )
    _mark(
        rejects,
        raw.notna() & value.isna(),
        field,
        f"{field} is neither a mobile number "
        "(1[3-9] and 9 digits) nor a landline with its area code (0755-12345678)",
    )
    attrs[field] = value


def _clean_tags(attrs: pd.DataFrame, rejects: Rejects, table: dict[str, str]) -> None:
    """Split the tag list, translate each tag, reject unknown ones; store a {a,b} literal."""
    parts = attrs["vulnerability_tags"].str.split(TAG_SEPARATOR, regex=True).explode()
    parts = parts[parts.notna() & (parts != "")].astype("str")
    tags = parts.map(table).fillna(parts).str.lower()
    known = tags.isin(VULNERABILITY_TAGS)
    first_unknown = parts[~known].groupby(level=0).first()
    _mark(
        rejects,
        pd.Series(True, index=first_unknown.index),
        "vulnerability_tags",
        "unknown vulnerability tag '" + first_unknown + "'; map it in "
        "[values.vulnerability_tags] to one of " + ", ".join(VULNERABILITY_TAGS),
    )
    literal = tags[known].groupby(level=0).agg(lambda s: "{" + ",".join(dict.fromkeys(s)) + "}")
    attrs["vulnerability_tags"] = literal.reindex(attrs.index).fillna("{}").astype("str")


def _reconcile_with_id_number(attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Fill birth date and gender from the ID number. A stated value that disagrees is
    rejected, not overwritten: one of the two is wrong, and the ID number is a match key."""
    for field, derived in (("birth_date", "id_birth"), ("gender", "id_gender")):
        stated = attrs[field]
        clash = stated.notna() & attrs[derived].notna() & (stated != attrs[derived])
        _mark(rejects, clash, field, f"{field} disagrees with the ID number")
        attrs[field] = stated.fillna(attrs[derived])


def _check_person_keys(attrs: pd.DataFrame, rejects: Rejects) -> None:
    """A person needs a key to be found again; no key may repeat within the file."""
    keyless = attrs["person_external_id"].isna() & attrs["id_hash"].isna()
    _mark(
        rejects,
        keyless,
        "person_external_id",
        "a person needs an external id or an ID number, so that a re-import finds them again",
    )
    for column, field, what in (
        ("person_external_id", "person_external_id", "person external id"),
        ("id_hash", "id_number", "ID number"),
    ):
        first = _first_rows(attrs, attrs[column])
        _mark(
            rejects,
            first.notna() & (first != attrs["row"]),
            field,
            f"{what} repeats row " + first.astype("Int64").astype("str"),
        )


# -- linking to the register ------------------------------------------------------------


def _link_buildings(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
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
    _mark(
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


def _check_groups(attrs: pd.DataFrame, rejects: Rejects) -> None:
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
    kept = _kept(attrs, rejects)
    _mark(
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
    kept = _kept(attrs, rejects)
    group = attrs.loc[kept]
    for column, field in columns.items():
        values = group[column]
        first = values.groupby(group[key]).transform("first")
        first_row = _first_rows(group, group[key].where(values.notna()))
        clash = values.notna() & first.notna() & (values != first)
        reason = (
            f"{field} disagrees with row "
            + first_row.astype("Int64").astype("str")
            + f" for the same {what}"
        )
        _mark(rejects, clash, field, reason)
        attrs.loc[kept, column] = values.fillna(first)


def _resolve_houses(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each house in the register by external id, else by building + unit number; a
    house that would take another house's unit or external id is rejected."""
    kept = _kept(attrs, rejects)
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


def _resolve_households(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each household by external id, else as the house's household without one."""
    kept = _kept(attrs, rejects)
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


def _resolve_people(conn: Connection, attrs: pd.DataFrame, rejects: Rejects) -> None:
    """Find each person by external id, else by ID number hash; an ID number that belongs
    to someone else in the register is rejected."""
    kept = _kept(attrs, rejects)
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
    _mark(
        rejects,
        by_ext.notna() & by_hash.notna() & (by_ext != by_hash),
        "id_number",
        "this ID number belongs to another person in the register",
    )
    _mark(
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
    _mark(rejects, _kept(attrs, rejects) & reason.notna(), field, reason)


def _reject_shared_ids(
    attrs: pd.DataFrame, rejects: Rejects, key: str, id_column: str, field: str, what: str
) -> None:
    """Two groups of the file that match the same registered row cannot both be written."""
    kept = _kept(attrs, rejects)
    ids = attrs[id_column].where(kept)
    first_key = attrs[key].where(kept).groupby(ids).transform("first")
    first_row = _first_rows(attrs, ids.where(kept))
    _mark(
        rejects,
        first_key.notna() & (first_key != attrs[key]),
        field,
        f"matches the same registered {what} as row " + first_row.astype("Int64").astype("str"),
    )


# -- writing ----------------------------------------------------------------------------


def _write(conn: Connection, rows: pd.DataFrame, given: set[str]) -> dict[str, dict[str, int]]:
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


# -- small helpers ----------------------------------------------------------------------


def _mark(issues: Rejects, mask: pd.Series, field: str, reason: str | pd.Series) -> None:
    """Record (field, reason) for the rows in the mask that have no issue yet."""
    hits = mask[mask.fillna(False).astype(bool)].index
    for i in hits:
        why = reason if isinstance(reason, str) else str(reason.loc[i])
        issues.setdefault(int(i), (field, why))


def _kept(attrs: pd.DataFrame, rejects: Rejects) -> pd.Series:
    """Rows not rejected so far."""
    return pd.Series(~attrs.index.isin(list(rejects)), index=attrs.index)


def _first_rows(frame: pd.DataFrame, keys: pd.Series) -> pd.Series:
    """For each row, the number of the first row with the same key (NaN without a key)."""
    return frame["row"].groupby(keys).transform("min")


def _lookup(keys: pd.Series, existing: pd.DataFrame, column: str) -> pd.Series:
    """Registered id by a key column (null keys never match)."""
    table = existing.dropna(subset=[column]).set_index(column)["id"]
    return keys.map(table).astype("Int64")


def _frame(conn: Connection, query: str, **params) -> pd.DataFrame:
    """A query's rows as a frame (one round trip)."""
    result = conn.execute(text(query), params)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _issues(found: Rejects, attrs: pd.DataFrame) -> list[RowIssue]:
    """Row issues in file order, each named by the person's external id."""
    externals = attrs["person_external_id"].to_numpy(dtype=object, na_value=None)
    return [
        RowIssue(i + 1, externals[i], field, reason) for i, (field, reason) in sorted(found.items())
    ]
