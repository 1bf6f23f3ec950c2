"""The rule-based Stockholm VTIMEZONE: correct instants in summer and winter, built once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from calendars.itip import build_cancel, build_request
from calendars.stockholm import STOCKHOLM
from calendars.vtimezone import stockholm_vtimezone, stockholm_vtimezone_bytes
from tests.calendars.samples import meeting


def _start_from_vtimezone_only(ical: bytes) -> datetime:
    """Read DTSTART through the file's own VTIMEZONE rules, not through the tz database."""
    calendar = Calendar.from_ical(ical)
    zone = calendar.timezones[0].to_tz(lookup_tzid=False)
    start = calendar.events[0].start
    assert isinstance(start, datetime)
    instant: datetime = start.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)
    return instant


def test_a_july_meeting_is_two_hours_ahead_of_utc() -> None:
    july = meeting(
        starts_at=datetime(2026, 7, 14, 13, 0, tzinfo=STOCKHOLM),
        ends_at=datetime(2026, 7, 14, 14, 0, tzinfo=STOCKHOLM),
    )
    ical = build_request(july)
    assert b"DTSTART;TZID=Europe/Stockholm:20260714T130000" in ical
    assert _start_from_vtimezone_only(ical) == datetime(2026, 7, 14, 11, 0, tzinfo=UTC)
    assert Calendar.from_ical(ical).events[0].start == datetime(2026, 7, 14, 11, 0, tzinfo=UTC)


def test_a_january_meeting_is_one_hour_ahead_of_utc() -> None:
    january = meeting(
        starts_at=datetime(2027, 1, 12, 9, 30, tzinfo=STOCKHOLM),
        ends_at=datetime(2027, 1, 12, 11, 0, tzinfo=STOCKHOLM),
    )
    ical = build_request(january)
    assert _start_from_vtimezone_only(ical) == datetime(2027, 1, 12, 8, 30, tzinfo=UTC)


def test_rules_match_the_tz_database_around_every_change_until_2060() -> None:
    zone = stockholm_vtimezone().to_tz(lookup_tzid=False)
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    while moment.year < 2060:
        assert moment.astimezone(zone).utcoffset() == moment.astimezone(STOCKHOLM).utcoffset(), moment
        moment += timedelta(hours=7)


def test_the_component_is_rule_based_and_compact() -> None:
    ical = stockholm_vtimezone().to_ical()
    assert ical.count(b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3") == 1
    assert ical.count(b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10") == 1
    assert ical.count(b"BEGIN:") == 3
    assert len(ical.splitlines()) < 20


def test_the_component_is_built_and_serialised_once_and_shared() -> None:
    stockholm_vtimezone_bytes.cache_clear()
    for _ in range(5):
        build_request(meeting())
        build_cancel(meeting())
    assert stockholm_vtimezone_bytes.cache_info().misses == 1
    assert stockholm_vtimezone_bytes.cache_info().hits == 9
    assert stockholm_vtimezone() is stockholm_vtimezone()
    assert stockholm_vtimezone_bytes() in build_request(meeting())
