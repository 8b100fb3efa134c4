"""Working-day calendar (weekends, Chinese public holidays, 调休) and report deadlines.

Working days are judged in China Standard Time (Asia/Shanghai) whatever zone a
datetime arrives in; results come back in the zone of the input. The calendar is
the chinese-calendar package's data (official State Council notices) with a small
TOML override file on top, for years the package does not know yet or corrections
(format: ``incidents/data/holidays.toml``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import chinese_calendar

from core.clock import CHINA_TZ

# A report that arrives on a day off, or before this time on a working day,
# starts its working-day clock at this time on the first working day from then.
START_OF_BUSINESS = time(9, 0)
DEFAULT_HOLIDAYS_FILE = Path(__file__).parent.parent / "data" / "holidays.toml"
# Office hours of a working day, which working-hour (工作时) deadlines count; city case
# standards give many event classes 2 or 4 working hours. GRIDGOV_WORKING_HOURS.
DEFAULT_WORKING_HOURS = "08:30-12:00,14:00-18:00"

# Severity tier -> (accept deadline, resolve deadline).
DEFAULT_TIERS: dict[str, tuple[str, str]] = {
    "red": ("2h", "24h"),
    "yellow": ("24h", "3wd"),
    "blue": ("3wd", "10wd"),
}


@dataclass(frozen=True)
class YearSchedule:
    """One year of the override file: days off and make-up working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]


WorkingPeriod = tuple[time, time]
_PERIOD = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def parse_working_hours(text: str) -> tuple[WorkingPeriod, ...]:
    """Read "08:30-12:00,14:00-18:00": a working day's periods, in order, not overlapping;
    raises ValueError naming what is wrong."""
    periods: list[WorkingPeriod] = []
    for part in text.split(",") if isinstance(text, str) else [repr(text)]:
        match = _PERIOD.fullmatch(part.strip())
        if match is None or (match.group(3) == "24" and match.group(4) != "00"):
            raise ValueError(
                f"working hours {text!r}: expected periods such as "
                "'08:30-12:00,14:00-18:00' (HH:MM-HH:MM, comma-separated)"
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"working hours {text!r}: {part.strip()} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(f"working hours {text!r}: periods must be in order and not overlap")
        periods.append((start, end))
    return tuple(periods)


class WorkCalendar:
    """Answers whether a day is a working day in mainland China.

    A date that is a listed make-up working day is a working day; a listed
    holiday is not; any other date is a working day from Monday to Friday. Years
    in ``covered_years`` have their official schedule listed; for other years
    that weekday rule is a guess, and ``is_year_covered`` says so. ``working_hours`` are
    the office periods of a working day that working-hour deadlines count.
    """

    def __init__(
        self,
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        covered_years: Iterable[int] = (),
        working_hours: str | Sequence[WorkingPeriod] = DEFAULT_WORKING_HOURS,
    ) -> None:
        if isinstance(working_hours, str):
            working_hours = parse_working_hours(working_hours)
        if not working_hours:
            raise ValueError("working hours: at least one period is needed")
        self.working_hours = tuple(working_hours)
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        clash = self._holidays & self._workdays
        if clash:
            raise ValueError(f"dates both holiday and workday: {sorted(map(str, clash))}")
        self._covered_years = frozenset(covered_years)

    @classmethod
    def from_library(
        cls,
        overrides: Mapping[int, YearSchedule] | None = None,
        working_hours: str | Sequence[WorkingPeriod] = DEFAULT_WORKING_HOURS,
    ) -> WorkCalendar:
        """chinese-calendar's data with ``overrides`` on top (an override date wins)."""
        overrides = overrides or {}
        extra_off = {d for year in overrides.values() for d in year.holidays}
        extra_on = {d for year in overrides.values() for d in year.workdays}
        library_off = set(chinese_calendar.holidays)
        library_years = range(min(library_off).year, max(library_off).year + 1)
        return cls(
            holidays=(library_off - extra_on) | extra_off,
            workdays=(set(chinese_calendar.workdays) - extra_off) | extra_on,
            covered_years=set(library_years) | set(overrides),
            working_hours=working_hours,
        )

    def is_year_covered(self, year: int) -> bool:
        """True when the year's official holidays are known (not just weekends)."""
        return year in self._covered_years

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` (a date in China) is a working day."""
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The same China clock time on the n-th working day after the start's day.

        The clock starts at ``start`` when that is a working day at or after
        START_OF_BUSINESS (09:00, China time). Otherwise it starts at 09:00 on the
        first working day at or after the start: a report at Saturday 15:00 or
        Monday 07:00 is treated as arriving Monday 09:00, so 1 working day ends
        Tuesday 09:00. Deadlines therefore never move earlier for a later start.
        The result is in the zone of ``start``; n = 0 returns the clock's start.
        """
        _require_aware(start)
        if n < 0:
            raise ValueError("n must not be negative")
        local = start.astimezone(CHINA_TZ)
        day, clock = local.date(), local.time()
        if not self.is_working_day(day):
            day, clock = self.next_working_day(day), START_OF_BUSINESS
        elif clock < START_OF_BUSINESS:
            clock = START_OF_BUSINESS
        for _ in range(n):
            day = self.next_working_day(day)
        end = datetime.combine(day, clock, tzinfo=CHINA_TZ)
        return end.astimezone(start.tzinfo)

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` of office time (``working_hours`` on working days, China
        clock) have passed since ``start``; in the zone of ``start``.

        Time outside the periods does not count: 3 working hours from Friday 11:00 end
        Friday 16:00 (12:00-14:00 is lunch), 4 from Friday 16:00 end Monday 11:30. A
        deadline that uses up a period ends at its close (12:00), not at the next opening.
        """
        _require_aware(start)
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        local = start.astimezone(CHINA_TZ)
        day, clock = local.date(), local.time()
        left = timedelta(minutes=minutes)
        if not left:
            return start
        for _ in range(366 * 20):  # bounds the walk; no real allowance comes near it
            if self.is_working_day(day):
                for opens, closes in self.working_hours:
                    if clock >= closes:
                        continue
                    begin = datetime.combine(day, max(clock, opens), tzinfo=CHINA_TZ)
                    end = datetime.combine(day, closes, tzinfo=CHINA_TZ)
                    if begin + left <= end:
                        return (begin + left).astimezone(start.tzinfo)
                    left -= end - begin
                    clock = closes
            day, clock = day + timedelta(days=1), time(0, 0)
        raise ValueError("no working hours within twenty years of the start")


def read_holiday_overrides(path: Path | str) -> dict[int, YearSchedule]:
    """Parse and check an override file (format in incidents/data/holidays.toml)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    schedules: dict[int, YearSchedule] = {}
    for key, table in data.items():
        if not (key.isascii() and key.isdigit() and len(key) == 4 and isinstance(table, dict)):
            raise ValueError(f"{path}: expected a table per year such as [2027], got {key!r}")
        year = int(key)
        unknown = set(table) - {"holidays", "workdays", "source"}
        if unknown:
            raise ValueError(f"{path}: [{year}] has unknown keys {sorted(unknown)}")
        off = _read_dates(path, year, "holidays", table.get("holidays", []))
        on = _read_dates(path, year, "workdays", table.get("workdays", []))
        if off & on:
            raise ValueError(
                f"{path}: [{year}] lists {sorted(map(str, off & on))} as holiday and workday"
            )
        schedules[year] = YearSchedule(holidays=off, workdays=on)
    return schedules


def load_work_calendar(
    holidays_file: Path | str | None = None,
    working_hours: str | None = None,
) -> WorkCalendar:
    """The calendar from chinese-calendar plus the override file (bundled one if None),
    counting ``working_hours`` ("08:30-12:00,14:00-18:00", the default, if None)."""
    return WorkCalendar.from_library(
        read_holiday_overrides(holidays_file or DEFAULT_HOLIDAYS_FILE),
        DEFAULT_WORKING_HOURS if working_hours is None else working_hours,
    )


_RULE = re.compile(r"(\d+)(wd|wh|h|m)")
_UNIT_LIMITS = {"m": 366 * 24 * 60, "h": 366 * 24, "wd": 366, "wh": 366 * 8}
Unit = Literal["m", "h", "wd", "wh"]


@dataclass(frozen=True)
class DeadlineRule:
    """A time allowance: minutes or hours of elapsed time, working days or working hours.

    Written "30m", "2h", "3wd" or "4wh" (the one parser of allowances: deadline tiers,
    categories and 12345 time limits all read them here). Minutes and hours run around
    the clock, nights, weekends and holidays included; working days follow
    ``WorkCalendar.add_working_days``; working hours (工作时) count only office time,
    ``WorkCalendar.add_working_minutes``.
    """

    amount: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> DeadlineRule:
        """Read "30m", "2h", "3wd" or "4wh"; raises ValueError for anything else."""
        match = _RULE.fullmatch(text.strip().lower()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"deadline {text!r} is not valid: write a whole number followed by "
                "m (minutes), h (hours), wd (working days) or wh (working hours), "
                "such as '30m', '2h', '3wd', '4wh'"
            )
        amount, unit = int(match.group(1)), match.group(2)
        if not 0 < amount <= _UNIT_LIMITS[unit]:
            raise ValueError(
                f"deadline {text!r} is out of range: 1 to {_UNIT_LIMITS[unit]}{unit} allowed"
            )
        return cls(amount, unit)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def deadline(start: datetime, rule: DeadlineRule | str, calendar: WorkCalendar) -> datetime:
    """When a task started at ``start`` is due under ``rule``, in the zone of ``start``."""
    _require_aware(start)
    if isinstance(rule, str):
        rule = DeadlineRule.parse(rule)
    if rule.unit == "wd":
        return calendar.add_working_days(start, rule.amount)
    if rule.unit == "wh":
        return calendar.add_working_minutes(start, rule.amount * 60)
    step = timedelta(hours=rule.amount) if rule.unit == "h" else timedelta(minutes=rule.amount)
    # Through UTC, so the allowance is elapsed time even across a DST change.
    return (start.astimezone(UTC) + step).astimezone(start.tzinfo)


@dataclass(frozen=True)
class SeverityTier:
    """How long a tier of reports may wait to be accepted (签收) and to be resolved."""

    name: str
    accept: DeadlineRule
    resolve: DeadlineRule


def severity_tiers(
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, SeverityTier]:
    """DEFAULT_TIERS with ``overrides`` ({tier: (accept, resolve)}) applied and parsed.

    An override replaces a tier or adds a new one; a bad rule raises ValueError
    naming the tier, so a misconfigured service fails at start-up.
    """
    table: dict[str, Sequence[str]] = {**DEFAULT_TIERS, **(overrides or {})}
    tiers: dict[str, SeverityTier] = {}
    for name, rules in table.items():
        if isinstance(rules, str) or len(rules) != 2:
            raise ValueError(f"tier {name!r}: expected [accept, resolve], got {rules!r}")
        try:
            tiers[name] = SeverityTier(name, *(DeadlineRule.parse(r) for r in rules))
        except ValueError as exc:
            raise ValueError(f"tier {name!r}: {exc}") from exc
    return tiers


def _read_dates(path: Path, year: int, key: str, values: object) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValueError(f"{path}: [{year}] {key} must be a list of dates")
    for value in values:
        # tomllib reads 2027-01-01 as a date; a datetime (also a date) is a mistake.
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"{path}: [{year}] {key}: {value!r} is not a date like 2027-01-01")
        if value.year != year:
            raise ValueError(f"{path}: [{year}] {key}: {value} is not in {year}")
    return frozenset(values)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
