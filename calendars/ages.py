"""Birthdays and ages, counted the way Swedish law counts years.

A person attains an age at the start of the anniversary of the birth date. Someone born on 29 February
has, in a year without that day, completed the years when 28 February ends, so the birthday that counts
is 1 March.
"""

from __future__ import annotations

from datetime import date


def birthday(birth_date: date, age: int) -> date:
    """The day on which a person born on `birth_date` attains `age`."""
    year = birth_date.year + age
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def age_on(birth_date: date, day: date) -> int:
    """Completed years on a day: the day of the birthday already counts."""
    years = day.year - birth_date.year
    if birthday(birth_date, years) > day:
        years -= 1
    return years


def last_day_of_age(birth_date: date, age: int) -> date:
    """The last day a person is `age` years old: "t.o.m. 20 år" ends the day before the 21st birthday."""
    return date.fromordinal(birthday(birth_date, age + 1).toordinal() - 1)
