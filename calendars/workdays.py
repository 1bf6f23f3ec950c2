"""The Swedish working-day calendar: which days count as working days, and how deadlines move on it.

Non-working days are Saturdays, Sundays, the public holidays (allmänna helgdagar) and the three de facto
holidays that lag (1930:173) om beräkning av lagstadgad tid 2 § treats like them: Midsummer Eve,
Christmas Eve and New Year's Eve. The `holidays` package lists the public holidays under PUBLIC and the
three Eves under DE_FACTO; `include_sundays=False` keeps it from listing every Sunday as a holiday, so a
Sunday is non-working because it is a weekend day, not twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays

_SATURDAY = 5


@lru_cache(maxsize=256)
def _holidays_of_year(year: int) -> Mapping[date, str]:
    found = holidays.country_holidays(
        "SE",
        years=year,
        categories=(holidays.PUBLIC, holidays.DE_FACTO),
        include_sundays=False,
        language="sv",
    )
    return MappingProxyType({day: str(name) for day, name in sorted(found.items())})


class WorkingCalendar:
    """Working days in Sweden. Stateless apart from a per-year cache of the holiday list."""

    def holidays_in(self, year: int) -> Mapping[date, str]:
        """Every public holiday and de facto holiday of a year, with its Swedish name, in date order."""
        return _holidays_of_year(year)

    def holiday_name(self, day: date) -> str | None:
        """The Swedish name of the holiday on this day, or None on an ordinary day (weekends included)."""
        return _holidays_of_year(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and neither a public holiday nor one of the three Eves."""
        return day.weekday() < _SATURDAY and day not in _holidays_of_year(day.year)

    def working_day_on_or_after(self, day: date) -> date:
        """The day itself if it is a working day, otherwise the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def working_day_after(self, day: date) -> date:
        """The first working day strictly after the day."""
        return self.working_day_on_or_after(day + timedelta(days=1))

    def working_day_on_or_before(self, day: date) -> date:
        """The day itself if it is a working day, otherwise the last working day before it."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """Step `count` working days forward (negative: backward); the starting day itself is not counted.

        With count 0 the day comes back unchanged, working day or not. Otherwise the result is always a
        working day: Friday + 1 is the next Monday, Monday - 1 is the Friday before.
        """
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def roll_forward(self, day: date) -> date:
        """The Sunday rule (lag 1930:173, 2 §): a last day that is not a working day moves to the next one.

        The law names Saturdays, Sundays, other public holidays, Midsummer Eve, Christmas Eve and New Year's
        Eve; those are exactly this calendar's non-working days, so the last day becomes the first working
        day on or after it.
        """
        return self.working_day_on_or_after(day)

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie after `start` up to and including `end` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1 for offset in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(offset))
        )
