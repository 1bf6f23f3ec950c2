"""A time an event carries: within the years 1900 to 2100, and never a Stockholm wall-clock reading the
clocks skip. The skipped hour is looked for in full only on the days the clocks move; these tests hold
that shortcut to the full check."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from calendars.stockholm import local_offset_exists
from scheduler.events import Moment

_MOMENT = TypeAdapter(Moment)
_LOCAL = [timezone(timedelta(hours=1)), timezone(timedelta(hours=2))]
_SKIPPED = "this local time does not exist in Europe/Stockholm (clocks move forward)"


def _accepted(value: datetime) -> bool:
    try:
        _MOMENT.validate_python(value)
    except ValidationError as exc:
        assert [error["msg"] for error in exc.errors()] == [f"Value error, {_SKIPPED}"]
        return False
    return True


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59)),
    st.sampled_from(_LOCAL),
)
def test_a_time_is_refused_exactly_when_stockholm_skips_it(wall_clock: datetime, offset: timezone) -> None:
    value = wall_clock.replace(tzinfo=offset)
    assert _accepted(value) == local_offset_exists(value)


@given(
    st.integers(min_value=1981, max_value=2100),
    st.integers(min_value=0, max_value=23 * 60 + 59),
    st.sampled_from(_LOCAL),
)
def test_the_spring_forward_day_is_checked_in_full(year: int, minute: int, offset: timezone) -> None:
    # The last Sunday of March, the day that holds the skipped hour since 1981.
    last_sunday = max(date(year, 3, day) for day in range(25, 32) if date(year, 3, day).weekday() == 6)
    value = datetime.combine(last_sunday, datetime.min.time(), offset) + timedelta(minutes=minute)
    assert _accepted(value) == local_offset_exists(value)
    assert _accepted(value) == (not 2 * 60 <= minute < 3 * 60)


@pytest.mark.parametrize(
    "text",
    ["1916-05-14T23:30:00+01:00", "1980-04-06T02:00:00+02:00", "2026-03-29T02:30:00+01:00"],
)
def test_a_skipped_reading_is_refused(text: str) -> None:
    assert not _accepted(datetime.fromisoformat(text))


@pytest.mark.parametrize("text", ["1899-12-31T23:00:00+00:00", "2101-01-01T00:00:00+01:00"])
def test_a_time_outside_the_years_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _MOMENT.validate_python(datetime.fromisoformat(text))
    assert [error["msg"] for error in caught.value.errors()] == [
        "Value error, must lie in the years 1900 to 2100"
    ]
