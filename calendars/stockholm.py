"""Europe/Stockholm: the one time zone every date and time of day in sipvakt is read in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def parse_moment(text: str) -> datetime:
    """An RFC 3339 time with its UTC offset; a time without one is refused (it names no moment)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an RFC 3339 time with offset") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339)")
    return moment


def local_offset_exists(wall_clock: datetime) -> bool:
    """True if a naive wall-clock reading exists in Stockholm (it does not in the spring-forward gap)."""
    naive = wall_clock.replace(tzinfo=None)
    round_trip = naive.replace(tzinfo=STOCKHOLM).astimezone(UTC).astimezone(STOCKHOLM)
    return round_trip.replace(tzinfo=None) == naive


def local_date(moment: datetime) -> date:
    """The calendar day in Stockholm on which an aware moment falls."""
    return moment.astimezone(STOCKHOLM).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of a Stockholm day, as an aware moment."""
    return datetime.combine(day, time(0, 0), tzinfo=STOCKHOLM)


def end_of_day(day: date) -> datetime:
    """The first moment after a Stockholm day: a deadline "by day D" is missed from this moment."""
    return start_of_day(day + timedelta(days=1))
