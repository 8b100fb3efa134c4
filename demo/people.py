"""Houses, households and people for the demo city's homes: pure, seeded and vectorised.

Residential and mixed-use buildings are laid out as floors x 单元 (stair cores) x doors;
the register holds the share of those dwellings grid workers have visited so far
(`REGISTER_COVERAGE`), which keeps the demo at a few hundred thousand rows. ID numbers
are valid GB 11643 numbers, kept raw only in memory: the loader stores a keyed hash and
the last four characters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
from faker import Faker

AS_OF = date(2026, 11, 1)  # ages and move-in dates are as of this day, not "today"
PEOPLE_STREAM = 2  # numpy stream for people, independent of the city geometry's

REGISTER_COVERAGE = 0.085  # share of dwellings already in the register
OCCUPANCY = 0.88
RENTAL_SHARE = {"residential": 0.22, "mixed": 0.4}
MIGRANT_IF_RENTAL, MIGRANT_IF_OWNED = 0.75, 0.16  # about 30 % migrant households overall
HOUSE_AREA = (40.0, 150.0)
LOCAL_BORN = 0.8  # registered residents whose ID number carries a demo district's code
MOVED_BEFORE = 0.04  # adults with an earlier, moved-out residence in the city

# Area codes (first six ID digits) for people born elsewhere: fictitious, like the demo
# city's own 9901xx, so no generated number can be a real person's.
# fmt: off
HOMETOWN_CODES = ("990201", "990203", "990305", "990312", "990402", "990411", "990507",
                  "990521", "990604", "990618", "990702", "990716")
MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
                   "150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
                   "173", "175", "176", "177", "180", "181", "182", "183", "185", "186",
                   "187", "188", "189", "191", "198", "199")
# fmt: on
_ID_WEIGHTS = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
_ID_CHECK = np.array(list("10X98765432"))

HEAD, SPOUSE, CHILD, PARENT, GRANDCHILD = range(5)  # a member's place in the household


@dataclass(frozen=True)
class _Makeup:
    """A household composition: members' roles, the head's age range and sex, and how
    often it occurs among registered and migrant households."""

    roles: tuple[int, ...]
    head_age: tuple[float, float]
    head_male: float
    odds: tuple[float, float]  # registered, migrant


MAKEUPS = {
    "single": _Makeup((HEAD,), (20, 60), 0.55, (0.10, 0.30)),
    "single_elder": _Makeup((HEAD,), (60, 96), 0.35, (0.08, 0.01)),
    "couple": _Makeup((HEAD, SPOUSE), (23, 60), 0.6, (0.14, 0.22)),
    "elder_couple": _Makeup((HEAD, SPOUSE), (60, 90), 0.6, (0.12, 0.02)),
    "one_child": _Makeup((HEAD, SPOUSE, CHILD), (25, 56), 0.6, (0.22, 0.22)),
    "two_children": _Makeup((HEAD, SPOUSE, CHILD, CHILD), (29, 56), 0.6, (0.12, 0.10)),
    "three_generations": _Makeup((HEAD, SPOUSE, CHILD, PARENT), (28, 52), 0.6, (0.10, 0.04)),
    "grandparents_too": _Makeup((HEAD, SPOUSE, CHILD, PARENT, PARENT), (28, 50), 0.6, (0.06, 0.02)),
    "single_parent": _Makeup((HEAD, CHILD), (26, 56), 0.3, (0.04, 0.05)),
    # Grandparents raising a grandchild whose parents work elsewhere (留守儿童).
    "left_behind": _Makeup((HEAD, SPOUSE, GRANDCHILD), (52, 76), 0.6, (0.02, 0.02)),
}


@dataclass
class DemoPopulation:
    """Rows for the people register. Links are row positions: `houses.building` in
    city.buildings, `households.house` in houses, `people.household` and
    `residences.household` in households, `residences.person` in people.

    houses: building, external_id, floor, unit_number, area_m2, is_rental, landlord_name,
        landlord_phone (missing unless rented out)
    households: house, external_id, kind
    people: household, external_id, name, gender, birth_date, phone, id_number (raw: the
        loader stores only its keyed hash and last four), vulnerability_tags (a tuple)
    residences: person, household, moved_in, moved_out (NaT while still living there)
    """

    houses: pd.DataFrame
    households: pd.DataFrame
    people: pd.DataFrame
    residences: pd.DataFrame


def generate_demo_population(
    seed: int, buildings: gpd.GeoDataFrame, progress: Callable[[str], None] | None = None
) -> DemoPopulation:
    """Houses in the city's homes, households in most of them, and their members."""
    report = progress or (lambda _message: None)
    rng = np.random.default_rng([seed, PEOPLE_STREAM])
    names = _NamePool.from_faker(seed)

    houses = _houses(rng, buildings, names)
    report(f"demo city: {len(houses)} houses in {houses['building'].nunique()} buildings")
    households = _households(rng, houses)
    districts = buildings["cell_code"].str[:6].to_numpy()[houses["building"].to_numpy()]
    people = _people(rng, households, districts[households["house"].to_numpy()], names)
    residences = _residences(rng, households, people)
    vulnerable = int((people["vulnerability_tags"].str.len() > 0).sum())
    report(
        f"demo city: {len(households)} households, {len(people)} people "
        f"({vulnerable} with vulnerability tags)"
    )
    return DemoPopulation(
        houses=houses, households=households, people=people, residences=residences
    )


# --- names and numbers ---------------------------------------------------------------


@dataclass(frozen=True)
class _NamePool:
    """Faker's zh_CN surnames (with their real frequencies) and given names, drawn once;
    numpy then picks from them, which is far faster than a Faker call per person."""

    surnames: np.ndarray
    male: np.ndarray
    female: np.ndarray

    @classmethod
    def from_faker(cls, seed: int, size: int = 3000) -> _NamePool:
        fake = Faker("zh_CN")
        fake.seed_instance(f"{seed}:people")
        return cls(
            np.array([fake.last_name() for _ in range(size)]),
            np.array([fake.first_name_male() for _ in range(size)]),
            np.array([fake.first_name_female() for _ in range(size)]),
        )

    def surname(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.surnames[rng.integers(self.surnames.size, size=n)]

    def given(self, rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
        """Given names by sex; about half join two one-character names (志 + 强)."""
        out = np.empty(male.size, dtype=object)
        for is_male, pool in ((True, self.male), (False, self.female)):
            idx = np.flatnonzero(male == is_male)
            first = pool[rng.integers(pool.size, size=idx.size)]
            single = pool[np.char.str_len(pool) == 1]
            second = single[rng.integers(single.size, size=idx.size)]
            join = (rng.random(idx.size) < 0.5) & (np.char.str_len(first) == 1) & (first != second)
            out[idx] = np.where(join, np.char.add(first, second), first)
        return out

    def full(self, rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
        return np.char.add(self.surname(rng, male.size), self.given(rng, male).astype(str))


def _mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Made-up mainland mobile numbers: a real carrier prefix and eight random digits."""
    prefix = np.array(MOBILE_PREFIXES)[rng.integers(len(MOBILE_PREFIXES), size=n)]
    rest = rng.integers(0, 100_000_000, size=n)
    return np.array([f"{p}{r:08d}" for p, r in zip(prefix, rest, strict=True)], dtype=object)


def _id_numbers(
    rng: np.random.Generator, area: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """GB 11643 numbers: area code, birth date, a sequence number that is odd for men and
    even for women (unique per area, day and sex), and the ISO 7064 check character."""
    key = pd.DataFrame({"area": area, "day": birth, "male": male})
    nth = key.groupby(["area", "day", "male"], sort=False).cumcount().to_numpy()
    if nth.max(initial=0) >= 499:
        raise ValueError("more than 499 people share an area, birth day and sex")
    group = key.groupby(["area", "day", "male"], sort=False).ngroup().to_numpy()
    offset = rng.integers(0, 499, size=group.max(initial=-1) + 1)[group]
    serial = 2 * ((offset + nth) % 499) + np.where(male, 1, 2)  # 001-999 or 002-998
    day = pd.DatetimeIndex(birth)
    ymd = day.year.to_numpy() * 10_000 + day.month.to_numpy() * 100 + day.day.to_numpy()
    stems = np.char.add(
        np.char.add(area.astype("U6"), ymd.astype("U8")), np.char.zfill(serial.astype("U3"), 3)
    )
    digits = stems.view("U1").reshape(stems.size, 17).astype(int)
    return np.char.add(stems, _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]).astype(object)


# --- houses and households -----------------------------------------------------------


def _segment_positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run when runs of these lengths are laid end to end."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - starts


def _houses(
    rng: np.random.Generator, buildings: gpd.GeoDataFrame, names: _NamePool
) -> pd.DataFrame:
    """The registered dwellings of residential and mixed-use buildings, floor by floor;
    mixed-use buildings keep their ground floor for shops. Every home building gets at
    least one house."""
    use = buildings["use"].to_numpy()
    homes = np.flatnonzero(np.isin(use, ("residential", "mixed")))
    area = buildings.geometry.iloc[homes].to_crs(buildings.estimate_utm_crs()).area.to_numpy()
    floors = buildings["floors"].to_numpy()[homes].astype(int)
    first = np.where(use[homes] == "mixed", np.minimum(2, floors), 1)
    units = np.clip(np.rint(area / 300), 1, 4).astype(int)
    doors = np.clip(np.rint(area / units / 110), 2, 4).astype(int)
    slots = (floors - first + 1) * units * doors

    owner = np.repeat(np.arange(homes.size), slots)
    k = _segment_positions(slots)
    keys = rng.random(owner.size)
    starts = np.cumsum(slots) - slots
    keep = (keys < REGISTER_COVERAGE) | (keys == np.minimum.reduceat(keys, starts)[owner])
    owner, k = owner[keep], k[keep]

    per_floor = units[owner] * doors[owner]
    floor = first[owner] + k // per_floor
    unit = k % per_floor // doors[owner] + 1
    door = k % doors[owner] + 1
    many = units[owner] > 1
    unit_number = [
        f"{u}单元{f}{d:02d}" if m else f"{f}{d:02d}"
        for u, f, d, m in zip(unit, floor, door, many, strict=True)
    ]
    # Some estates are built small, some generous; flats of one building vary a little.
    typical = (area * 0.78 / (units * doors) * rng.uniform(0.6, 1.5, homes.size))[owner]
    house_area = np.round(np.clip(typical * rng.uniform(0.85, 1.15, owner.size), *HOUSE_AREA), 2)

    rental_odds = np.where(
        use[homes][owner] == "mixed", RENTAL_SHARE["mixed"], RENTAL_SHARE["residential"]
    )
    rental = rng.random(owner.size) < rental_odds
    n = int(rental.sum())
    landlord = np.full(owner.size, None, dtype=object)
    landlord_phone = np.full(owner.size, None, dtype=object)
    landlord[rental] = names.full(rng, rng.random(n) < 0.55)
    landlord_phone[rental] = _mobiles(rng, n)
    return pd.DataFrame(
        {
            "building": homes[owner],
            "external_id": [f"DEMO-H-{i:07d}" for i in range(1, owner.size + 1)],
            "floor": floor,
            "unit_number": unit_number,
            "area_m2": house_area,
            "is_rental": rental,
            "landlord_name": landlord,
            "landlord_phone": landlord_phone,
        }
    )


def _households(rng: np.random.Generator, houses: pd.DataFrame) -> pd.DataFrame:
    """One household in each occupied house; rentals are mostly let to migrants."""
    occupied = np.flatnonzero(rng.random(len(houses)) < OCCUPANCY)
    rental = houses["is_rental"].to_numpy()[occupied]
    migrant = rng.random(occupied.size) < np.where(rental, MIGRANT_IF_RENTAL, MIGRANT_IF_OWNED)
    return pd.DataFrame(
        {
            "house": occupied,
            "external_id": [f"DEMO-F-{i:07d}" for i in range(1, occupied.size + 1)],
            "kind": np.where(migrant, "migrant", "registered").astype(object),
        }
    )


# --- people --------------------------------------------------------------------------


def _makeup_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MAKEUPS as arrays: roles (padded with -1), head age ranges, head sex, cumulative
    odds per household kind."""
    makeups = list(MAKEUPS.values())
    width = max(len(m.roles) for m in makeups)
    roles = np.array([m.roles + (-1,) * (width - len(m.roles)) for m in makeups])
    ages = np.array([m.head_age for m in makeups], dtype=float)
    male = np.array([m.head_male for m in makeups])
    odds = np.array([m.odds for m in makeups], dtype=float).T
    return roles, ages, male, np.cumsum(odds / odds.sum(axis=1, keepdims=True), axis=1)


def _calendar_age(birth: np.ndarray) -> np.ndarray:
    """Completed years on AS_OF."""
    b = pd.DatetimeIndex(birth)
    before = (b.month > AS_OF.month) | ((b.month == AS_OF.month) & (b.day > AS_OF.day))
    return AS_OF.year - b.year.to_numpy() - before


def _people(
    rng: np.random.Generator, households: pd.DataFrame, districts: np.ndarray, names: _NamePool
) -> pd.DataFrame:
    """Members of each household: roles from its makeup, ages and sexes that fit their
    roles, family surnames, phones, ID numbers and vulnerability tags."""
    n_households = len(households)
    role_table, head_ages, head_male_odds, cum_odds = _makeup_table()
    migrant_household = households["kind"].to_numpy() == "migrant"
    draw = rng.random(n_households)[:, None]
    makeup = np.minimum(
        (draw > cum_odds[migrant_household.astype(int)]).sum(axis=1), len(MAKEUPS) - 1
    )
    size = (role_table[makeup] >= 0).sum(axis=1)
    lo, hi = head_ages[makeup].T
    head_age = rng.uniform(lo, hi)
    head_male = rng.random(n_households) < head_male_odds[makeup]
    head_surname = names.surname(rng, n_households)
    spouse_surname = names.surname(rng, n_households)
    family_surname = np.where(
        head_male | (size == 1) | (role_table[makeup, 1] != SPOUSE), head_surname, spouse_surname
    )

    hh = np.repeat(np.arange(n_households), size)
    role = role_table[makeup[hh], _segment_positions(size)]
    n = hh.size
    h_age, h_male = head_age[hh], head_male[hh]
    child = h_age - rng.uniform(22, 36, n)
    child = np.where(child >= 0, child, rng.uniform(0, 1, n) * np.maximum(h_age - 21, 0.5))
    spouse_male = ~h_male
    age = np.select(
        [role == HEAD, role == SPOUSE, role == CHILD, role == PARENT],
        [
            h_age,
            np.maximum(h_age + rng.normal(0, 3, n) + np.where(spouse_male, 2, -2), 20),
            child,
            np.minimum(h_age + rng.uniform(24, 34, n), 99.5),
        ],
        rng.uniform(1, 15.9, n),  # left-behind grandchildren
    )
    male = np.select(
        [role == HEAD, role == SPOUSE, role == PARENT],
        [h_male, spouse_male, rng.random(n) < 0.4],
        rng.random(n) < 0.52,
    )
    second_parent = np.flatnonzero(
        (role == PARENT) & (role[np.maximum(np.arange(n) - 1, 0)] == PARENT)
    )
    male[second_parent] = ~male[second_parent - 1]  # two parents are a couple
    # Children take the father's surname; the head's mother keeps her own.
    surname = np.select(
        [role == HEAD, role == SPOUSE, (role == PARENT) & male, role == PARENT],
        [head_surname[hh], spouse_surname[hh], head_surname[hh], names.surname(rng, n)],
        family_surname[hh],
    )
    birth = np.datetime64(AS_OF, "D") - np.floor(age * 365.2425).astype("timedelta64[D]")
    years = _calendar_age(birth)

    area = _birthplaces(rng, migrant_household, districts, hh)
    has_phone = (years >= 12) & (rng.random(n) < np.where(years >= 80, 0.6, 0.98))
    phone = np.where(has_phone, _mobiles(rng, n), None)

    return pd.DataFrame(
        {
            "household": hh,
            "external_id": [f"DEMO-P-{i:07d}" for i in range(1, n + 1)],
            "name": np.char.add(surname.astype(str), names.given(rng, male).astype(str)),
            "gender": np.where(male, "male", "female").astype(object),
            "birth_date": birth.astype("datetime64[s]"),
            "phone": phone,
            "id_number": _id_numbers(rng, area, birth, male),
            "vulnerability_tags": _tags(rng, years, role, size[hh]),
        }
    )


def _birthplaces(
    rng: np.random.Generator, migrant_household: np.ndarray, districts: np.ndarray, hh: np.ndarray
) -> np.ndarray:
    """Area codes for ID numbers: a migrant household's shared hometown; for registered
    residents mostly the district they live in, otherwise somewhere else."""
    codes = np.array(HOMETOWN_CODES)
    hometown = codes[rng.integers(codes.size, size=migrant_household.size)][hh]
    elsewhere = codes[rng.integers(codes.size, size=hh.size)]
    migrant = migrant_household[hh]
    local = ~migrant & (rng.random(hh.size) < LOCAL_BORN)
    return np.where(local, districts[hh], np.where(migrant, hometown, elsewhere))


def _tags(
    rng: np.random.Generator, years: np.ndarray, role: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """About 5 % of people: every 70+ living alone and every left-behind child under 16,
    plus bedridden, chronically ill and disabled people at rates that rise with age."""
    n = years.size
    r = rng.random((3, n))
    flags = {
        "elderly_alone": (size == 1) & (years >= 70),
        "child": (role == GRANDCHILD) & (years < 16),
        "bedridden": (years >= 75) & (r[0] < 0.05),
        "chronic_illness": r[1] < np.select([years >= 70, years >= 60], [0.1, 0.06], 0.002),
        "disability": r[2] < np.where(years >= 60, 0.025, 0.008),
    }
    tags = np.empty(n, dtype=object)
    tags.fill(())
    tagged = np.column_stack(list(flags.values()))
    names = np.array(list(flags), dtype=object)
    for i in np.flatnonzero(tagged.any(axis=1)):
        tags[i] = tuple(names[tagged[i]])
    return tags


def _residences(
    rng: np.random.Generator, households: pd.DataFrame, people: pd.DataFrame
) -> pd.DataFrame:
    """A current residence per person (moved in with the household, or at birth), and for
    a few adults an earlier one, in another household, that ended when they moved here."""
    n_households = len(households)
    migrant = households["kind"].to_numpy() == "migrant"
    years_here = rng.uniform(0, 1, n_households) * np.where(migrant, 6, 25)
    since = np.datetime64(AS_OF, "D") - np.floor(years_here * 365.2425).astype("timedelta64[D]")
    hh = people["household"].to_numpy()
    birth = people["birth_date"].to_numpy().astype("datetime64[D]")
    moved_in = np.maximum(since[hh], birth)

    adult_from = birth + np.timedelta64(18 * 365 + 5, "D")
    room = (moved_in - adult_from).astype(int)  # days as an adult before moving here
    movers = np.flatnonzero((room > 365) & (rng.random(hh.size) < MOVED_BEFORE))
    earlier_out = moved_in[movers]
    stay = np.minimum(rng.integers(180, 8 * 365, movers.size), room[movers])
    earlier_in = earlier_out - stay.astype("timedelta64[D]")
    elsewhere = (hh[movers] + rng.integers(1, n_households, movers.size)) % n_households

    nat = np.full(hh.size, np.datetime64("NaT"), dtype="datetime64[D]")
    return pd.DataFrame(
        {
            "person": np.concatenate([np.arange(hh.size), movers]),
            "household": np.concatenate([hh, elsewhere]),
            "moved_in": np.concatenate([moved_in, earlier_in]).astype("datetime64[s]"),
            "moved_out": np.concatenate([nat, earlier_out]).astype("datetime64[s]"),
        }
    )
