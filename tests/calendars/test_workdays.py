"""The Swedish working-day calendar: holidays written out by hand, the Sunday rule, working-day steps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendars.ages import age_on, birthday, last_day_of_age
from calendars.workdays import WorkingCalendar

CALENDAR = WorkingCalendar()

# Public holidays and the three Eves, read off a printed Swedish calendar; Sundays that are holidays
# (Easter Day, Pentecost) are listed because they are holidays too, not because they are Sundays.
GOLDEN = {
    2026: [
        "2026-01-01", "2026-01-06", "2026-04-03", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-14",
        "2026-05-24", "2026-06-06", "2026-06-19", "2026-06-20", "2026-10-31", "2026-12-24", "2026-12-25",
        "2026-12-26", "2026-12-31",
    ],
    2027: [
        "2027-01-01", "2027-01-06", "2027-03-26", "2027-03-28", "2027-03-29", "2027-05-01", "2027-05-06",
        "2027-05-16", "2027-06-06", "2027-06-25", "2027-06-26", "2027-11-06", "2027-12-24", "2027-12-25",
        "2027-12-26", "2027-12-31",
    ],
    2028: [
        "2028-01-01", "2028-01-06", "2028-04-14", "2028-04-16", "2028-04-17", "2028-05-01", "2028-05-25",
        "2028-06-04", "2028-06-06", "2028-06-23", "2028-06-24", "2028-11-04", "2028-12-24", "2028-12-25",
        "2028-12-26", "2028-12-31",
    ],
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(GOLDEN))
def test_holidays_match_the_calendar_written_out_by_hand(year: int) -> None:
    assert [day.isoformat() for day in CALENDAR.holidays_in(year)] == GOLDEN[year]


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 6, 19), "Midsommarafton"),
        (date(2026, 12, 24), "Julafton"),
        (date(2026, 12, 31), "Nyårsafton"),
        (date(2027, 6, 25), "Midsommarafton"),
        (date(2028, 12, 24), "Julafton"),
    ],
)
def test_the_three_eves_are_named_non_working_days(day: date, name: str) -> None:
    assert CALENDAR.holiday_name(day) == name
    assert not CALENDAR.is_working_day(day)


def test_ordinary_sundays_are_not_listed_as_holidays() -> None:
    sundays = [day for day in CALENDAR.holidays_in(2026) if day.weekday() == 6]
    assert sundays == [date(2026, 4, 5), date(2026, 5, 24)]
    assert not CALENDAR.is_working_day(date(2026, 3, 1))


@pytest.mark.parametrize(
    ("last_day", "rolled"),
    [
        (date(2026, 12, 24), date(2026, 12, 28)),  # Christmas Eve, Christmas Day, Boxing Day, Sunday
        (date(2026, 6, 19), date(2026, 6, 22)),  # Midsummer Eve, Midsummer Day, Sunday
        (date(2026, 12, 31), date(2027, 1, 4)),  # New Year's Eve, New Year's Day, weekend
        (date(2026, 3, 28), date(2026, 3, 30)),  # Saturday before the spring DST change
        (date(2026, 10, 25), date(2026, 10, 26)),  # Sunday of the autumn DST change
        (date(2026, 4, 3), date(2026, 4, 7)),  # Good Friday to the Tuesday after Easter Monday
        (date(2026, 11, 18), date(2026, 11, 18)),  # an ordinary Wednesday stays
    ],
)
def test_sunday_rule_moves_the_last_day_to_the_next_working_day(last_day: date, rolled: date) -> None:
    assert CALENDAR.roll_forward(last_day) == rolled


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 12, 28), -1, date(2026, 12, 23)),
        (date(2026, 12, 30), 2, date(2027, 1, 5)),
        (date(2026, 6, 18), 1, date(2026, 6, 22)),
        (date(2026, 11, 20), 0, date(2026, 11, 20)),
        (date(2026, 11, 21), 0, date(2026, 11, 21)),
        (date(2026, 11, 21), 1, date(2026, 11, 23)),
        (date(2026, 11, 23), -3, date(2026, 11, 18)),
    ],
)
def test_add_working_days(start: date, count: int, expected: date) -> None:
    assert CALENDAR.add_working_days(start, count) == expected


def test_next_working_day_on_or_after_and_strictly_after() -> None:
    assert CALENDAR.working_day_on_or_after(date(2026, 11, 23)) == date(2026, 11, 23)
    assert CALENDAR.working_day_after(date(2026, 11, 23)) == date(2026, 11, 24)
    assert CALENDAR.working_day_after(date(2026, 12, 23)) == date(2026, 12, 28)
    assert CALENDAR.working_day_on_or_before(date(2026, 12, 27)) == date(2026, 12, 23)


def test_working_days_between_counts_after_start_up_to_end() -> None:
    assert CALENDAR.working_days_between(date(2026, 12, 23), date(2027, 1, 7)) == 6
    assert CALENDAR.working_days_between(date(2027, 1, 7), date(2026, 12, 23)) == -6


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@given(days)
def test_a_rolled_deadline_is_always_a_working_day_and_never_earlier(day: date) -> None:
    rolled = CALENDAR.roll_forward(day)
    assert CALENDAR.is_working_day(rolled)
    assert day <= rolled <= day + timedelta(days=5)


@given(days, st.integers(min_value=-40, max_value=40), st.integers(min_value=0, max_value=40))
def test_adding_working_days_is_monotonic(day: date, count: int, extra: int) -> None:
    assert CALENDAR.add_working_days(day, count) <= CALENDAR.add_working_days(day, count + extra)


@given(days, st.integers(min_value=1, max_value=40))
def test_adding_then_subtracting_working_days_from_a_working_day_returns(day: date, count: int) -> None:
    start = CALENDAR.working_day_on_or_after(day)
    assert CALENDAR.add_working_days(CALENDAR.add_working_days(start, count), -count) == start
    assert CALENDAR.working_days_between(start, CALENDAR.add_working_days(start, count)) == count


@pytest.mark.parametrize(
    ("born", "age", "day"),
    [
        (date(2008, 11, 23), 18, date(2026, 11, 23)),
        (date(2008, 2, 29), 18, date(2026, 3, 1)),
        (date(2008, 2, 29), 20, date(2028, 2, 29)),
    ],
)
def test_birthday(born: date, age: int, day: date) -> None:
    assert birthday(born, age) == day
    assert age_on(born, day) == age
    assert age_on(born, day - timedelta(days=1)) == age - 1


def test_last_day_of_an_inclusive_age_limit_is_the_day_before_the_next_birthday() -> None:
    assert last_day_of_age(date(2006, 1, 1), 20) == date(2026, 12, 31)
    assert age_on(date(2006, 1, 1), date(2026, 12, 31)) == 20
