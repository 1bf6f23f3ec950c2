"""sipvakt's direct iCalendar writer against icalendar's own serialisation of the same meeting."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from calendars.itip import CalendarAddress, CalendarAttendee, Method, build_cancel, build_request
from tests.calendars.reference_itip import reference_calendar
from tests.calendars.samples import meeting

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("\\;,:\"^'’\r\n\tåäö€"),
    max_size=90,
)


def _semantics(ical: bytes) -> list[tuple[str, str, dict[str, str]]]:
    [calendar] = Calendar.from_ical(ical, multiple=True)
    found = []
    for component in calendar.walk():
        for name, value in component.property_items(recursive=False):
            params = dict(getattr(value, "params", {}) or {})
            found.append((name, str(value.to_ical() if hasattr(value, "to_ical") else value), params))
    return found


def test_the_sample_meeting_is_written_byte_for_byte_as_icalendar_writes_it() -> None:
    for build, method in ((build_request, Method.REQUEST), (build_cancel, Method.CANCEL)):
        assert build(meeting()) == reference_calendar(meeting(), method)


@settings(max_examples=60, deadline=None)
@given(name=texts, organizer=texts, location=texts, description=texts, summary=texts)
def test_any_texts_read_back_the_same_as_from_icalendar(
    name: str, organizer: str, location: str, description: str, summary: str
) -> None:
    sample = dataclasses.replace(
        meeting(),
        summary=summary,
        location=location,
        description=description,
        organizer=CalendarAddress(organizer, "sipvakt@sipvakt.example.se"),
        attendees=(CalendarAttendee(name, "asa@example.org", delegated_from="bo@example.org"),),
    )
    ours = build_request(sample)
    assert _semantics(ours) == _semantics(reference_calendar(sample, Method.REQUEST))
    for physical in ours.split(b"\r\n"):
        assert len(physical) <= 75
        physical.decode("utf-8")  # folding never splits a character
