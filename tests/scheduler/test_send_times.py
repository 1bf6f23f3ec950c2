"""When a reminder may leave: working hours (08:00–17:00) on Swedish working days in Europe/Stockholm, and at
once on the urgent track. Expected moments are written with their UTC offset, so a wrong DST shift fails."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.stockholm import STOCKHOLM
from calendars.workdays import WorkingCalendar
from scheduler.send_times import SendTimes

CALENDAR = WorkingCalendar()
OPEN, CLOSE = time(8, 0), time(17, 0)
SEND = SendTimes(CALENDAR, OPEN, CLOSE, urgent=False)
URGENT = SendTimes(CALENDAR, OPEN, CLOSE, urgent=True)


def moment(text: str) -> datetime:
    """An RFC 3339 time with its offset, as written in the tables below."""
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


# given moment, first moment a reminder may leave; every day named in the comment is checked below
NEXT_OPEN = [
    # Wednesday 2026-11-25 at 03:00: that morning's opening.
    ("2026-11-25T03:00:00+01:00", "2026-11-25T08:00:00+01:00"),
    # A minute before opening, and opening itself (open from 08:00 inclusive).
    ("2026-11-25T07:59:00+01:00", "2026-11-25T08:00:00+01:00"),
    ("2026-11-25T08:00:00+01:00", "2026-11-25T08:00:00+01:00"),
    # Within hours: at once, unchanged.
    ("2026-11-25T13:37:00+01:00", "2026-11-25T13:37:00+01:00"),
    ("2026-11-25T16:59:59+01:00", "2026-11-25T16:59:59+01:00"),
    # Closing is exclusive: at 17:00 the next working day's opening.
    ("2026-11-25T17:00:00+01:00", "2026-11-26T08:00:00+01:00"),
    # Late at night, just before midnight.
    ("2026-11-25T23:59:00+01:00", "2026-11-26T08:00:00+01:00"),
    # After closing on Friday 2026-11-27: Monday 2026-11-30.
    ("2026-11-27T17:30:00+01:00", "2026-11-30T08:00:00+01:00"),
    # Saturday noon and Sunday evening: Monday.
    ("2026-11-28T12:00:00+01:00", "2026-11-30T08:00:00+01:00"),
    ("2026-11-29T20:00:00+01:00", "2026-11-30T08:00:00+01:00"),
    # Christmas: Eve (Thu 24), Day (Fri 25), Boxing Day (Sat 26), Sunday 27: Monday 28.
    ("2026-12-23T18:00:00+01:00", "2026-12-28T08:00:00+01:00"),
    ("2026-12-24T10:00:00+01:00", "2026-12-28T08:00:00+01:00"),
    ("2026-12-25T09:00:00+01:00", "2026-12-28T08:00:00+01:00"),
    ("2026-12-26T09:00:00+01:00", "2026-12-28T08:00:00+01:00"),
    # New Year's Eve (Thu 31) and New Year's Day (Fri 1): Monday 2027-01-04.
    ("2026-12-31T09:00:00+01:00", "2027-01-04T08:00:00+01:00"),
    ("2027-01-01T12:00:00+01:00", "2027-01-04T08:00:00+01:00"),
    # Epiphany (Wed 2027-01-06): Thursday.
    ("2027-01-06T09:00:00+01:00", "2027-01-07T08:00:00+01:00"),
    ("2027-01-05T17:00:00+01:00", "2027-01-07T08:00:00+01:00"),
    # Midsummer Eve (Fri 2027-06-25), Midsummer Day (Sat 26): Monday 28, in summer time.
    ("2027-06-25T10:00:00+02:00", "2027-06-28T08:00:00+02:00"),
    ("2027-06-24T17:00:00+02:00", "2027-06-28T08:00:00+02:00"),
    # Spring change on Sunday 2026-03-29: Friday evening in winter time, Monday 08:00 in summer time.
    ("2026-03-27T17:30:00+01:00", "2026-03-30T08:00:00+02:00"),
    ("2026-03-29T01:30:00+01:00", "2026-03-30T08:00:00+02:00"),
    ("2026-03-29T03:30:00+02:00", "2026-03-30T08:00:00+02:00"),
    # Autumn change on Sunday 2026-10-25: Friday in summer time, Monday 08:00 in winter time.
    ("2026-10-23T19:00:00+02:00", "2026-10-26T08:00:00+01:00"),
    ("2026-10-25T02:30:00+02:00", "2026-10-26T08:00:00+01:00"),
    ("2026-10-25T02:30:00+01:00", "2026-10-26T08:00:00+01:00"),
    # A moment given in UTC is read in Stockholm: 06:30 UTC on a winter Wednesday is 07:30 there.
    ("2026-11-25T06:30:00+00:00", "2026-11-25T08:00:00+01:00"),
    # 07:30 UTC is 08:30 in Stockholm: already open, at once.
    ("2026-11-25T07:30:00+00:00", "2026-11-25T07:30:00+00:00"),
    # 16:30 UTC on a summer Monday is 18:30 in Stockholm: closed until Tuesday.
    ("2027-06-28T16:30:00+00:00", "2027-06-29T08:00:00+02:00"),
]  # fmt: skip


@pytest.mark.parametrize(("given_at", "expected"), NEXT_OPEN)
def test_next_open(given_at: str, expected: str) -> None:
    found = SEND.next_open(moment(given_at))
    assert found == moment(expected)
    # Equal moments may carry different offsets; the local reading is what a coordinator sees.
    local = found.astimezone(STOCKHOLM)
    assert local.utcoffset() == moment(expected).astimezone(STOCKHOLM).utcoffset()


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (date(2026, 3, 27), 7),  # Friday before the spring change: 08:00+01:00
        (date(2026, 3, 30), 6),  # Monday after it: 08:00+02:00
        (date(2026, 10, 23), 6),  # Friday before the autumn change: 08:00+02:00
        (date(2026, 10, 26), 7),  # Monday after it: 08:00+01:00
        (date(2026, 3, 29), 6),  # the 23-hour Sunday itself (urgent openings fall on it): summer time
        (date(2026, 10, 25), 7),  # the 25-hour Sunday: winter time again by 08:00
    ],
)
def test_opening_is_eight_local_with_the_offset_of_that_day(day: date, utc_hour: int) -> None:
    opening = SEND.opening(day)
    assert opening.astimezone(UTC) == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
    assert opening.astimezone(STOCKHOLM).time() == OPEN


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # A working day keeps its own opening.
        (date(2026, 11, 25), "2026-11-25T08:00:00+01:00"),
        # Saturday and Sunday roll back to Friday.
        (date(2026, 11, 28), "2026-11-27T08:00:00+01:00"),
        (date(2026, 11, 29), "2026-11-27T08:00:00+01:00"),
        # Boxing Day (Sat) back over Christmas Day and Christmas Eve to Wednesday 23.
        (date(2026, 12, 26), "2026-12-23T08:00:00+01:00"),
        (date(2026, 12, 24), "2026-12-23T08:00:00+01:00"),
        # New Year's Day (Fri) back over New Year's Eve (Thu) to Wednesday 30.
        (date(2027, 1, 1), "2026-12-30T08:00:00+01:00"),
        # Midsummer Eve back to Thursday.
        (date(2027, 6, 25), "2027-06-24T08:00:00+02:00"),
        # Sunday of the autumn change back to Friday before it, in summer time.
        (date(2026, 10, 25), "2026-10-23T08:00:00+02:00"),
    ],
)
def test_on_or_before_rolls_back_to_the_previous_working_day(day: date, expected: str) -> None:
    assert SEND.on_or_before(day) == moment(expected)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 25), "2026-11-25T08:00:00+01:00"),
        (date(2026, 11, 28), "2026-11-30T08:00:00+01:00"),
        (date(2026, 12, 24), "2026-12-28T08:00:00+01:00"),
        (date(2026, 12, 31), "2027-01-04T08:00:00+01:00"),
        (date(2027, 1, 6), "2027-01-07T08:00:00+01:00"),
        (date(2027, 6, 25), "2027-06-28T08:00:00+02:00"),
        # Sunday of the spring change forward to Monday, in summer time.
        (date(2026, 3, 29), "2026-03-30T08:00:00+02:00"),
    ],
)
def test_on_or_after_rolls_forward_to_the_next_working_day(day: date, expected: str) -> None:
    assert SEND.on_or_after(day) == moment(expected)


@pytest.mark.parametrize(
    "given_at",
    [
        "2026-12-25T03:00:00+01:00",  # Christmas Day at night
        "2026-12-24T22:00:00+01:00",  # Christmas Eve after hours
        "2026-11-28T12:00:00+01:00",  # a Saturday
        "2026-03-29T03:00:00+02:00",  # the night of the spring change
    ],
)
def test_urgent_is_open_at_once_night_or_holiday(given_at: str) -> None:
    assert URGENT.is_open(moment(given_at))
    assert URGENT.next_open(moment(given_at)) == moment(given_at)
    assert not SEND.is_open(moment(given_at))


def test_urgent_days_keep_their_own_day_even_when_it_is_not_a_working_day() -> None:
    christmas = date(2026, 12, 25)
    assert URGENT.on_or_after(christmas) == moment("2026-12-25T08:00:00+01:00")
    assert URGENT.on_or_before(christmas) == moment("2026-12-25T08:00:00+01:00")


def test_other_working_hours_are_kept() -> None:
    late = SendTimes(CALENDAR, time(9, 30), time(12, 0), urgent=False)
    assert late.next_open(moment("2026-11-25T09:00:00+01:00")) == moment("2026-11-25T09:30:00+01:00")
    assert late.next_open(moment("2026-11-25T12:00:00+01:00")) == moment("2026-11-26T09:30:00+01:00")
    assert late.on_or_before(date(2026, 11, 29)) == moment("2026-11-27T09:30:00+01:00")


# Moments over three years, on whole minutes and in UTC, so every offset and DST change is crossed.
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
).map(lambda m: m.replace(second=0, microsecond=0))


@settings(max_examples=400, deadline=None)
@given(MOMENTS)
def test_next_open_is_the_first_open_moment_at_or_after_the_given_one(given_at: datetime) -> None:
    found = SEND.next_open(given_at)
    local = found.astimezone(STOCKHOLM)
    assert found >= given_at
    assert CALENDAR.is_working_day(local.date())
    assert OPEN <= local.time() < CLOSE
    if found != given_at:
        # Moved: so the given moment was closed, the result is an opening, and no working day opened
        # between the two.
        assert not SEND.is_open(given_at)
        assert local.time() == OPEN
        day = given_at.astimezone(STOCKHOLM).date()
        while day < local.date():
            assert not (CALENDAR.is_working_day(day) and given_at < SEND.opening(day))
            day += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
def test_day_counted_openings_land_on_the_nearest_working_day(day: date) -> None:
    before = SEND.on_or_before(day).astimezone(STOCKHOLM)
    after = SEND.on_or_after(day).astimezone(STOCKHOLM)
    assert before.time() == OPEN and after.time() == OPEN
    assert before.date() <= day <= after.date()
    assert CALENDAR.is_working_day(before.date()) and CALENDAR.is_working_day(after.date())
    # Nearest: no working day lies between the result and the day itself.
    assert all(
        not CALENDAR.is_working_day(before.date() + timedelta(n))
        for n in range(1, (day - before.date()).days + 1)
    )
    assert all(not CALENDAR.is_working_day(day + timedelta(n)) for n in range((after.date() - day).days))
