"""Working-day calendar (weekends, holidays, 调休) and the deadlines built on it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from incidents.handling.workdays import (
    CHINA_TZ,
    DEFAULT_HOLIDAYS_FILE,
    DEFAULT_TIERS,
    DEFAULT_WORKING_HOURS,
    DeadlineRule,
    WorkCalendar,
    deadline,
    load_work_calendar,
    parse_working_hours,
    read_holiday_overrides,
    severity_tiers,
)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return load_work_calendar()


def cst(*args: int) -> datetime:
    """A datetime in China Standard Time."""
    return datetime(*args, tzinfo=CHINA_TZ)


def write_overrides(tmp_path, text: str):
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the calendar ---------------------------------------------------------------


def test_ordinary_weekend_is_off_and_weekdays_are_on(calendar):
    assert calendar.is_working_day(date(2025, 6, 10))  # Tuesday
    assert not calendar.is_working_day(date(2025, 6, 14))  # Saturday
    assert not calendar.is_working_day(date(2025, 6, 15))  # Sunday


def test_national_day_holiday_2025_is_off_on_weekdays(calendar):
    for day in range(1, 9):  # 国庆 + 中秋, 2025-10-01 .. 2025-10-08
        assert not calendar.is_working_day(date(2025, 10, day)), day
    assert calendar.is_working_day(date(2025, 10, 9))


def test_make_up_weekend_days_are_working_days(calendar):
    assert calendar.is_working_day(date(2025, 1, 26))  # Sunday, 春节 调休
    assert calendar.is_working_day(date(2025, 2, 8))  # Saturday, 春节 调休
    assert calendar.is_working_day(date(2025, 9, 28))  # Sunday, 国庆 调休
    assert calendar.is_working_day(date(2025, 10, 11))  # Saturday, 国庆 调休


def test_2026_official_schedule_is_known(calendar):
    assert calendar.is_year_covered(2026)
    assert not calendar.is_working_day(date(2026, 2, 16))  # 春节
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday, 调休
    assert calendar.is_working_day(date(2026, 1, 4))  # Sunday, 调休


def test_year_outside_library_and_file_is_uncovered_and_falls_back_to_weekends(calendar):
    assert calendar.is_year_covered(2025)
    assert not calendar.is_year_covered(2099)
    assert calendar.is_working_day(date(2099, 1, 1))  # a Thursday: no holiday known
    assert not calendar.is_working_day(date(2099, 1, 3))  # Saturday


def test_override_file_adds_a_year_the_library_lacks(tmp_path):
    path = write_overrides(
        tmp_path,
        """
        [2099]
        source = "made up for the test"
        holidays = [2099-01-01, 2099-01-02]
        workdays = [2099-01-03]
        """,
    )
    calendar = load_work_calendar(path)
    assert calendar.is_year_covered(2099)
    assert not calendar.is_working_day(date(2099, 1, 1))  # Thursday, now a holiday
    assert calendar.is_working_day(date(2099, 1, 3))  # Saturday, now a make-up day
    assert not calendar.is_working_day(date(2099, 1, 4))  # unlisted Sunday stays off


def test_override_wins_over_library_for_listed_dates_only(tmp_path):
    path = write_overrides(
        tmp_path,
        """
        [2025]
        holidays = [2025-10-11]
        workdays = [2025-10-08]
        """,
    )
    calendar = load_work_calendar(path)
    assert calendar.is_working_day(date(2025, 10, 8))  # library: holiday
    assert not calendar.is_working_day(date(2025, 10, 11))  # library: make-up Saturday
    assert not calendar.is_working_day(date(2025, 10, 7))  # unlisted: library's answer
    assert calendar.is_working_day(date(2025, 9, 28))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[2027]\nholidays = [2026-12-31]", "not in 2027"),
        ("[2027]\nholiday = [2027-01-01]", "unknown keys"),
        ("[2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]", "holiday and workday"),
        ("[2027]\nholidays = [2027-01-01T00:00:00]", "not a date"),
        ('[2027]\nholidays = ["2027-01-01"]', "not a date"),
        ("[next]\nholidays = []", "table per year"),
        ("[2027\n", "not valid TOML"),
    ],
)
def test_bad_override_file_is_refused_with_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_holiday_overrides(write_overrides(tmp_path, text))


def test_bundled_override_file_is_valid():
    for year, schedule in read_holiday_overrides(DEFAULT_HOLIDAYS_FILE).items():
        assert all(d.year == year for d in schedule.holidays | schedule.workdays)


# --- working-day arithmetic -----------------------------------------------------------


def test_working_days_keep_the_clock_time_and_skip_the_weekend(calendar):
    # Thursday 14:30 + 2 wd: Friday, (weekend), Monday.
    assert deadline(cst(2025, 6, 12, 14, 30), "2wd", calendar) == cst(2025, 6, 16, 14, 30)


def test_three_working_days_from_eve_of_national_day_land_after_the_holiday(calendar):
    # Tuesday 2025-09-30: Oct 1-8 off, then Thu 9, Fri 10, Sat 11 (调休).
    assert deadline(cst(2025, 9, 30, 10, 0), "3wd", calendar) == cst(2025, 10, 11, 10, 0)


def test_three_working_days_count_a_make_up_weekend_day(calendar):
    # Thursday 2025-09-25: Fri 26, Sun 28 (调休), Mon 29; without 调休 it would be Tue 30.
    assert deadline(cst(2025, 9, 25, 16, 0), "3wd", calendar) == cst(2025, 9, 29, 16, 0)
    # Thursday 2025-02-06: Fri 7, Sat 8 (调休), Mon 10.
    assert deadline(cst(2025, 2, 6, 11, 0), "3wd", calendar) == cst(2025, 2, 10, 11, 0)


def test_start_on_a_make_up_day_counts_from_that_day(calendar):
    assert deadline(cst(2025, 9, 28, 15, 0), "1wd", calendar) == cst(2025, 9, 29, 15, 0)


def test_start_on_a_day_off_counts_from_next_working_day_at_nine(calendar):
    # Saturday 2025-10-04 (holiday): clock starts Thu 2025-10-09 09:00.
    assert calendar.add_working_days(cst(2025, 10, 4, 15, 0), 0) == cst(2025, 10, 9, 9, 0)
    assert deadline(cst(2025, 10, 4, 15, 0), "1wd", calendar) == cst(2025, 10, 10, 9, 0)
    # An ordinary Sunday night: Monday 09:00 + 1 wd = Tuesday 09:00.
    assert deadline(cst(2025, 6, 15, 23, 0), "1wd", calendar) == cst(2025, 6, 17, 9, 0)


def test_start_before_nine_on_a_working_day_counts_from_nine(calendar):
    # So a Monday 07:00 report is not due before one filed on the Sunday night.
    assert deadline(cst(2025, 6, 16, 7, 0), "1wd", calendar) == cst(2025, 6, 17, 9, 0)
    assert deadline(cst(2025, 6, 16, 9, 0), "1wd", calendar) == cst(2025, 6, 17, 9, 0)


def test_working_days_are_judged_in_china_whatever_the_input_zone(calendar):
    # 17:00 UTC on Tue 2025-09-30 is 01:00 on Wed 2025-10-01 in China: a holiday.
    start = datetime(2025, 9, 30, 17, 0, tzinfo=UTC)
    due = deadline(start, "1wd", calendar)
    assert due == cst(2025, 10, 10, 9, 0)
    assert due.tzinfo is UTC  # returned in the input's zone
    assert due == datetime(2025, 10, 10, 1, 0, tzinfo=UTC)


def test_override_year_is_used_by_the_arithmetic(tmp_path):
    path = write_overrides(tmp_path, "[2099]\nholidays = [2099-01-05]\nworkdays = [2099-01-10]")
    calendar = load_work_calendar(path)
    # Fri 2099-01-02 + 3 wd: (Mon 5 off), Tue 6, Wed 7, Thu 8.
    assert deadline(cst(2099, 1, 2, 10, 0), "3wd", calendar) == cst(2099, 1, 8, 10, 0)
    # Thu 2099-01-08 + 2 wd: Fri 9, Sat 10 (调休).
    assert deadline(cst(2099, 1, 8, 10, 0), "2wd", calendar) == cst(2099, 1, 10, 10, 0)


def test_hours_are_elapsed_time_across_midnight_and_holidays(calendar):
    assert deadline(cst(2025, 9, 30, 23, 0), "2h", calendar) == cst(2025, 10, 1, 1, 0)
    assert deadline(cst(2025, 10, 3, 12, 0), "24h", calendar) == cst(2025, 10, 4, 12, 0)
    assert deadline(cst(2025, 10, 3, 12, 0), "30m", calendar) == cst(2025, 10, 3, 12, 30)


def test_hours_are_elapsed_time_across_a_dst_change(calendar):
    berlin = ZoneInfo("Europe/Berlin")
    # 2025-03-30 02:00 CET jumps to 03:00 CEST: two hours after 01:30 is 04:30.
    due = deadline(datetime(2025, 3, 30, 1, 30, tzinfo=berlin), "2h", calendar)
    assert due == datetime(2025, 3, 30, 4, 30, tzinfo=berlin)
    assert due.tzinfo is berlin


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2025, 6, 12, 9, 0), "2h", calendar)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_working_days(datetime(2025, 6, 12, 9, 0), 1)


# --- rules and tiers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("2h", DeadlineRule(2, "h")),
        ("30m", DeadlineRule(30, "m")),
        ("3wd", DeadlineRule(3, "wd")),
        (" 24H ", DeadlineRule(24, "h")),
        ("4wh", DeadlineRule(4, "wh")),
    ],
)
def test_rule_strings_parse(text, rule):
    assert DeadlineRule.parse(text) == rule
    assert DeadlineRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2",
        "h",
        "2d",
        "2 h",
        "-2h",
        "1.5h",
        "0h",
        "3 wd",
        "999wd",
        "two hours",
        "4 wh",
        "0wh",
        "9999wh",
    ],
)
def test_bad_rule_strings_raise(text):
    with pytest.raises(ValueError, match="deadline"):
        DeadlineRule.parse(text)


def test_default_tiers_parse():
    tiers = severity_tiers()
    assert set(tiers) == set(DEFAULT_TIERS)
    assert tiers["red"].accept == DeadlineRule(2, "h")
    assert tiers["yellow"].resolve == DeadlineRule(3, "wd")


def test_tier_overrides_replace_and_add_tiers():
    tiers = severity_tiers({"red": ["1h", "12h"], "orange": ("4h", "2wd")})
    assert tiers["red"].resolve == DeadlineRule(12, "h")
    assert tiers["orange"].accept == DeadlineRule(4, "h")
    assert tiers["blue"].resolve == DeadlineRule(10, "wd")


@pytest.mark.parametrize("rules", [["1h"], "1h", ["1h", "soon"]])
def test_bad_tier_override_names_the_tier(rules):
    with pytest.raises(ValueError, match="tier 'red'"):
        severity_tiers({"red": rules})


def test_tier_override_may_use_working_hours():
    tiers = severity_tiers({"red": ["2wh", "4wh"]})
    assert tiers["red"].accept == DeadlineRule(2, "wh")
    assert tiers["red"].resolve == DeadlineRule(4, "wh")


# --- working hours (工作时) ------------------------------------------------------------
# 2025-06-13 is a Friday and 2025-06-16 the Monday after, both ordinary working days.


def test_default_working_hours_are_the_office_day():
    assert parse_working_hours(DEFAULT_WORKING_HOURS) == (
        (time(8, 30), time(12, 0)),
        (time(14, 0), time(18, 0)),
    )
    assert load_work_calendar().working_hours == parse_working_hours(DEFAULT_WORKING_HOURS)


def test_working_hours_skip_the_lunch_break(calendar):
    # 11:00-12:00 is one hour, 14:00-15:00 the second.
    assert deadline(cst(2025, 6, 13, 11, 0), "2wh", calendar) == cst(2025, 6, 13, 15, 0)


def test_working_hours_skip_lunch_and_the_weekend(calendar):
    # Friday 11:30-12:00 and 14:00-18:00 are 4.5 hours; Monday 08:30-10:00 the other 1.5.
    assert deadline(cst(2025, 6, 13, 11, 30), "6wh", calendar) == cst(2025, 6, 16, 10, 0)
    # Friday 16:00-18:00, then Monday 08:30-10:30.
    assert deadline(cst(2025, 6, 13, 16, 0), "4wh", calendar) == cst(2025, 6, 16, 10, 30)


def test_a_deadline_using_up_the_morning_ends_at_noon(calendar):
    assert deadline(cst(2025, 6, 13, 10, 0), "2wh", calendar) == cst(2025, 6, 13, 12, 0)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (cst(2025, 6, 13, 12, 30), cst(2025, 6, 13, 15, 0)),  # at lunch: from 14:00
        (cst(2025, 6, 13, 7, 0), cst(2025, 6, 13, 9, 30)),  # before opening: from 08:30
        (cst(2025, 6, 13, 20, 0), cst(2025, 6, 16, 9, 30)),  # evening: Monday 08:30
        (cst(2025, 6, 14, 10, 0), cst(2025, 6, 16, 9, 30)),  # Saturday: Monday 08:30
    ],
)
def test_working_hours_start_at_the_next_opening(calendar, start, due):
    assert deadline(start, "1wh", calendar) == due


def test_working_hours_follow_holidays_and_make_up_days(calendar):
    # National Day 2025: 1-8 October off; Saturday 11 October is a make-up working day.
    assert deadline(cst(2025, 9, 30, 17, 0), "2wh", calendar) == cst(2025, 10, 9, 9, 30)
    assert deadline(cst(2025, 10, 10, 17, 0), "2wh", calendar) == cst(2025, 10, 11, 9, 30)


def test_working_hours_are_configurable():
    calendar = load_work_calendar(working_hours="09:00-17:00")
    assert deadline(cst(2025, 6, 13, 16, 0), "2wh", calendar) == cst(2025, 6, 16, 10, 0)
    assert deadline(cst(2025, 6, 13, 12, 30), "2wh", calendar) == cst(2025, 6, 13, 14, 30)


def test_working_hour_deadline_comes_back_in_the_input_zone(calendar):
    start = datetime(2025, 6, 13, 3, 0, tzinfo=UTC)  # 11:00 in China
    due = deadline(start, "2wh", calendar)
    assert due.tzinfo is UTC
    assert due == cst(2025, 6, 13, 15, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "8:30-12:00",
        "08:30-12:00;14:00-18:00",
        "12:00-08:30",
        "08:30-12:00,11:00-18:00",
        "14:00-18:00,08:30-12:00",
        "08:30-24:30",
        "always",
    ],
)
def test_bad_working_hours_raise(text):
    with pytest.raises(ValueError, match="working hours"):
        load_work_calendar(working_hours=text)


def test_settings_default_working_hours_match_the_calendar():
    from core.settings import Settings

    assert Settings().working_hours == DEFAULT_WORKING_HOURS
