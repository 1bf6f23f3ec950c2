"""Dates and times of day as people read them, always on the Stockholm wall clock.

Swedish: "måndag 14 december 2026 kl. 13.00–14.30"; English: "Monday 14 December 2026 at 13:00–14:30".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calendars.stockholm import STOCKHOLM


@dataclass(frozen=True)
class DateWords:
    """The words one language needs: month and weekday names, the word before a time, the clock separator."""

    months: tuple[str, ...]
    weekdays: tuple[str, ...]
    at: str
    time_separator: str

    def __post_init__(self) -> None:
        if len(self.months) != 12 or len(self.weekdays) != 7:
            raise ValueError("12 month names and 7 weekday names are needed")


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time shown to people must be timezone-aware")
    return moment.astimezone(STOCKHOLM)


def format_date(moment: datetime, words: DateWords) -> str:
    """``14 december 2026``."""
    local = _local(moment)
    return f"{local.day} {words.months[local.month - 1]} {local.year}"


def format_clock(moment: datetime, words: DateWords) -> str:
    """``13.00`` in Swedish, ``13:00`` in English."""
    local = _local(moment)
    return f"{local.hour:02d}{words.time_separator}{local.minute:02d}"


def format_day(moment: datetime, words: DateWords) -> str:
    """``måndag 14 december 2026``."""
    return f"{words.weekdays[_local(moment).weekday()]} {format_date(moment, words)}"


def format_moment(moment: datetime, words: DateWords) -> str:
    """``måndag 14 december 2026 kl. 13.00``."""
    return f"{format_day(moment, words)} {words.at} {format_clock(moment, words)}"


def format_span(starts_at: datetime, ends_at: datetime, words: DateWords) -> str:
    """``måndag 14 december 2026 kl. 13.00–14.30``; both days are named when the meeting passes midnight."""
    if _local(starts_at).date() == _local(ends_at).date():
        return f"{format_moment(starts_at, words)}–{format_clock(ends_at, words)}"
    return f"{format_moment(starts_at, words)} – {format_moment(ends_at, words)}"
