"""Dates and times of day as people read them, always on the Stockholm wall clock, written by Babel.

Swedish: "måndag 14 december 2026 kl. 13.00–14.30"; English: "Monday 14 December 2026 at 13:00–14:30";
easy Swedish: "måndag 14 december 2026 klockan 13.00 till 14.30" (no abbreviations). The patterns
(LDML, as Babel reads them) and the words around them are in the message catalogs, so a language's
dates are worded where its other texts are.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache

from babel.dates import format_date as babel_date
from babel.dates import format_time as babel_time

from calendars.stockholm import STOCKHOLM
from notifiers.i18n import Language, babel_locale, text


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time shown to people must be timezone-aware")
    return moment.astimezone(STOCKHOLM)


# Babel reads the pattern and looks up each word anew on every call, a tenth of building an invitation;
# every invitation, update and reminder of a meeting shows the same few days and times, so the words are
# kept per (day or time, pattern, language). Bounded: a long-running process meets ever new days.
@lru_cache(maxsize=4096)
def _day_words(day: date, pattern: str, language: Language) -> str:
    return babel_date(day, pattern, locale=babel_locale(language))


@lru_cache(maxsize=4096)
def _clock_words(wall: time, pattern: str, language: Language) -> str:
    return babel_time(wall, pattern, locale=babel_locale(language))


def format_calendar_date(day: date, language: Language) -> str:
    """``14 december 2026``, for a day that is not a moment (a letter's date)."""
    return _day_words(day, text(language, "dates.date"), language)


def format_date(moment: datetime, language: Language) -> str:
    """``14 december 2026``."""
    return format_calendar_date(_local(moment).date(), language)


def format_clock(moment: datetime, language: Language) -> str:
    """``13.00`` in Swedish, ``13:00`` in English."""
    # Babel is given the wall-clock time without its zone, which the pattern does not show anyway.
    wall = _local(moment).time().replace(tzinfo=None)
    return _clock_words(wall, text(language, "dates.clock"), language)


def format_day(moment: datetime, language: Language) -> str:
    """``måndag 14 december 2026``."""
    return _day_words(_local(moment).date(), text(language, "dates.day"), language)


def format_moment(moment: datetime, language: Language) -> str:
    """``måndag 14 december 2026 kl. 13.00``."""
    return text(
        language, "dates.moment", day=format_day(moment, language), clock=format_clock(moment, language)
    )


def format_span(starts_at: datetime, ends_at: datetime, language: Language) -> str:
    """``måndag 14 december 2026 kl. 13.00–14.30``; both days are named when the meeting passes midnight."""
    if _local(starts_at).date() == _local(ends_at).date():
        return text(
            language,
            "dates.span",
            day=format_day(starts_at, language),
            start=format_clock(starts_at, language),
            end=format_clock(ends_at, language),
        )
    return text(
        language,
        "dates.span_days",
        start=format_moment(starts_at, language),
        end=format_moment(ends_at, language),
    )
