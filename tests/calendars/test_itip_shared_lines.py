"""Every recipient's copy of a meeting is written from event lines kept once per meeting; it says
exactly what writing it afresh says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.itip import (
    CalendarAddress,
    CalendarAttendee,
    CalendarMeeting,
    _shared_lines,
    build_cancel,
    build_request,
)
from tests.calendars.samples import meeting

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("\\;,:\"^'\r\n\tåäö"),
    max_size=60,
)


def _afresh(build: Callable[[CalendarMeeting], bytes], sample: CalendarMeeting) -> bytes:
    _shared_lines.cache_clear()
    return build(sample)


@settings(max_examples=60, deadline=None)
@given(
    summary=texts,
    location=texts,
    description=texts,
    organizer=texts,
    names=st.lists(texts, min_size=2, max_size=2),
    sequence=st.integers(0, 5),
    cancel=st.booleans(),
    url=st.none() | st.just("https://meet.example.se/sip?a=1;b=2"),
)
def test_a_second_recipient_gets_what_a_fresh_writing_gives(
    summary: str,
    location: str,
    description: str,
    organizer: str,
    names: list[str],
    sequence: int,
    cancel: bool,
    url: str | None,
) -> None:
    build = build_cancel if cancel else build_request
    shared = dataclasses.replace(
        meeting(),
        summary=summary,
        location=location,
        description=description,
        url=url,
        organizer=CalendarAddress(organizer, "sipvakt@sipvakt.example.se"),
    )
    copies = [
        dataclasses.replace(
            shared,
            uid=f"uid-{index}@sipvakt.example.se",
            sequence=sequence + index,
            dtstamp=shared.dtstamp + timedelta(minutes=index),
            attendees=(CalendarAttendee(name, f"deltagare{index}@example.org"),),
        )
        for index, name in enumerate(names)
    ]
    written = [build(copy) for copy in copies]
    assert written == [_afresh(build, copy) for copy in copies]
    assert written[0] != written[1]


def test_times_an_hour_apart_in_the_hour_that_repeats_are_written_apart() -> None:
    # 01.30 in New York on 1 November 2026 happens twice; the two compare equal as datetimes.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second
    written = [
        build_request(meeting(starts_at=starts_at, ends_at=second + timedelta(hours=1)))
        for starts_at in (first, second)
    ]
    assert b"DTSTART;TZID=Europe/Stockholm:20261101T063000\r\n" in written[0]
    assert b"DTSTART;TZID=Europe/Stockholm:20261101T073000\r\n" in written[1]
