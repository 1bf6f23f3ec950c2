"""The calendar as icalendar's own components write it: the oracle for sipvakt's direct writer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from icalendar import Calendar, Event, Parameters, vCalAddress

from calendars.clean_text import clean_line, clean_multiline
from calendars.itip import PRODID, CalendarAddress, CalendarAttendee, CalendarMeeting, Method
from calendars.stockholm import STOCKHOLM
from calendars.vtimezone import stockholm_vtimezone


class _QuotedNameParameters(Parameters):
    always_quoted = (*Parameters.always_quoted, "CN")  # type: ignore[assignment]


def _address(email: str, params: Sequence[tuple[str, str]]) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params = _QuotedNameParameters()
    for key, value in params:
        address.params[key] = value
    return address


def reference_calendar(meeting: CalendarMeeting, method: Method) -> bytes:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method.value)
    calendar.add_component(stockholm_vtimezone())
    calendar.add_component(_event(meeting, method))
    ical: bytes = calendar.to_ical(sorted=False)
    return ical


def _event(meeting: CalendarMeeting, method: Method) -> Event:
    event = Event()
    event.add("UID", meeting.uid)
    event.add("DTSTAMP", meeting.dtstamp.astimezone(UTC))
    event.add("SEQUENCE", meeting.sequence)
    event.add("DTSTART", meeting.starts_at.astimezone(STOCKHOLM))
    event.add("DTEND", meeting.ends_at.astimezone(STOCKHOLM))
    event.add("SUMMARY", clean_line(meeting.summary))
    if location := clean_line(meeting.location):
        event.add("LOCATION", location)
    if description := clean_multiline(meeting.description):
        event.add("DESCRIPTION", description)
    if meeting.url is not None:
        event.add("URL", meeting.url)
    event.add("STATUS", "CANCELLED" if method is Method.CANCEL else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    event.add("ORGANIZER", _organizer(meeting.organizer))
    for attendee in meeting.attendees:
        event.add("ATTENDEE", _attendee(attendee))
    return event


def _organizer(organizer: CalendarAddress) -> vCalAddress:
    name = clean_line(organizer.name)
    return _address(organizer.email, [("CN", name)] if name else [])


def _attendee(attendee: CalendarAttendee) -> vCalAddress:
    params = [
        ("CUTYPE", "INDIVIDUAL"),
        ("ROLE", attendee.role.value),
        ("PARTSTAT", attendee.partstat.value),
        ("RSVP", "TRUE" if attendee.rsvp else "FALSE"),
    ]
    if name := clean_line(attendee.name):
        params.append(("CN", name))
    if attendee.delegated_from is not None:
        params.append(("DELEGATED-FROM", f"mailto:{attendee.delegated_from}"))
    return _address(attendee.email, params)
