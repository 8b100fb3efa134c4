"""The population file's rows: read under gridgov field names, then checked and cleaned
column by column (vectorised); every problem is recorded against its row, never dropped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from grid.identity import id_number_hash, normalise_id_number
from grid.importing.reading import FieldMapping, read_csv_text
from grid.people import GENDERS, HOUSEHOLD_KINDS, VULNERABILITY_TAGS
from grid.phone_patterns import LANDLINE, MOBILE

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
EARLIEST_DATE = pd.Timestamp("1900-01-01")

# Row index -> (field, reason): the first problem found for a row.
Rejects = dict[int, tuple[str, str]]


# -- reading ----------------------------------------------------------------------------


def read_rows(
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


# -- row checks -------------------------------------------------------------------------


def take_id_numbers(attrs: pd.DataFrame, key: bytes, rejects: Rejects, repairs: Rejects) -> None:
    """Replace raw ID numbers by keyed hash + last four, and what the number says about
    birth date and gender. The raw numbers go no further than this function."""
    raw = attrs.pop("id_number").str.replace(r"\s+", "", regex=True).str.upper()
    external = attrs["person_external_id"].str.replace(r"\s+", "", regex=True).str.upper()
    echoes = raw.notna() & (external == raw)
    # Some systems key people by ID number; storing that key would store the number.
    mark(
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
    mark(rejects, facts["id_error"].notna(), "id_number", facts["id_error"])
    birth = pd.to_datetime(facts["id_birth"], format="%Y%m%d", errors="coerce")
    implausible = facts["id_birth"].notna() & (birth.isna() | ~_plausible(birth))
    mark(
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


def check_rows(attrs: pd.DataFrame, tag_table: dict[str, str], rejects: Rejects) -> None:
    """Field-by-field checks and clean-up, vectorised; the first problem of a row is kept."""
    for field, what in (
        ("name", "name"),
        ("building_external_id", "building external id"),
        ("unit_number", "unit number"),
        ("floor", "floor"),
    ):
        mark(rejects, attrs[field].isna(), field, f"{what} is required")
    for field, limit in MAX_LENGTHS.items():
        mark(
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
    mark(rejects, bad, field, reason + ", got '" + raw + "'")
    attrs[field] = number.where(~bad).astype("Int64" if field == "floor" else "Float64")


def _clean_choice(attrs: pd.DataFrame, rejects: Rejects, field: str, allowed: list[str]) -> None:
    """Lower-case a translated value and reject one outside the allowed list."""
    value = attrs[field].str.lower()
    bad = value.notna() & ~value.isin(allowed)
    mark(
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
    mark(rejects, raw.notna() & dates.isna(), field, f"{field} is not a date (YYYY-MM-DD)")
    mark(
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
    mark(
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
    mark(
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
        mark(rejects, clash, field, f"{field} disagrees with the ID number")
        attrs[field] = stated.fillna(attrs[derived])


def _check_person_keys(attrs: pd.DataFrame, rejects: Rejects) -> None:
    """A person needs a key to be found again; no key may repeat within the file."""
    keyless = attrs["person_external_id"].isna() & attrs["id_hash"].isna()
    mark(
        rejects,
        keyless,
        "person_external_id",
        "a person needs an external id or an ID number, so that a re-import finds them again",
    )
    for column, field, what in (
        ("person_external_id", "person_external_id", "person external id"),
        ("id_hash", "id_number", "ID number"),
    ):
        first = first_rows(attrs, attrs[column])
        mark(
            rejects,
            first.notna() & (first != attrs["row"]),
            field,
            f"{what} repeats row " + first.astype("Int64").astype("str"),
        )


# -- row bookkeeping --------------------------------------------------------------------


def mark(issues: Rejects, mask: pd.Series, field: str, reason: str | pd.Series) -> None:
    """Record (field, reason) for the rows in the mask that have no issue yet."""
    hits = mask[mask.fillna(False).astype(bool)].index
    for i in hits:
        why = reason if isinstance(reason, str) else str(reason.loc[i])
        issues.setdefault(int(i), (field, why))


def kept_rows(attrs: pd.DataFrame, rejects: Rejects) -> pd.Series:
    """Rows not rejected so far."""
    return pd.Series(~attrs.index.isin(list(rejects)), index=attrs.index)


def first_rows(frame: pd.DataFrame, keys: pd.Series) -> pd.Series:
    """For each row, the number of the first row with the same key (NaN without a key)."""
    return frame["row"].groupby(keys).transform("min")
