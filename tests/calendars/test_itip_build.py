"""Every generated REQUEST, update and CANCEL, parsed back and held against the interop checklist."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from icalendar import Calendar, Event

from calendars.itip import (
    PRODID,
    CalendarAttendee,
    PartStat,
    Role,
    build_cancel,
    build_request,
    cancellation_of,
    for_recipient,
    rescheduled,
)
from calendars.stockholm import STOCKHOLM
from tests.calendars.samples import BO, TESTA, UID, meeting


def _only_event(ical: bytes) -> tuple[Calendar, Event]:
    calendars = Calendar.from_ical(ical, multiple=True)
    assert len(calendars) == 1
    events = calendars[0].events
    assert len(events) == 1
    return calendars[0], events[0]


def _attendee_lines(ical: bytes) -> list[str]:
    unfolded = ical.decode().replace("\r\n ", "")
    return [line for line in unfolded.split("\r\n") if line.startswith("ATTENDEE")]


def test_request_has_one_calendar_one_event_one_uid_and_the_method() -> None:
    calendar, event = _only_event(build_request(meeting()))
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["PRODID"] == PRODID
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == UID
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 0


def test_dtstamp_is_utc_even_when_given_in_local_time() -> None:
    local_stamp = datetime(2026, 11, 23, 10, 15, tzinfo=STOCKHOLM)
    ical = build_request(meeting(dtstamp=local_stamp))
    assert b"DTSTAMP:20261123T091500Z\r\n" in ical


def test_times_are_written_in_stockholm_with_the_vtimezone_in_the_file() -> None:
    ical = build_request(meeting(starts_at=datetime(2026, 12, 14, 12, 0, tzinfo=UTC)))
    assert b"DTSTART;TZID=Europe/Stockholm:20261214T130000\r\n" in ical
    calendar, event = _only_event(ical)
    assert calendar.get_missing_tzids() == set()
    assert [timezone.tz_name for timezone in calendar.timezones] == ["Europe/Stockholm"]
    assert event.start == datetime(2026, 12, 14, 12, 0, tzinfo=UTC)


def test_organizer_is_a_bare_mailto_with_quoted_name() -> None:
    ical = build_request(meeting()).decode()
    assert 'ORGANIZER;CN="Åsa Öberg (test)":mailto:sipvakt@sipvakt.example.se\r\n' in ical


def test_attendees_carry_upper_case_parameters_and_quoted_names() -> None:
    lines = _attendee_lines(build_request(meeting()))
    assert lines == [
        'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN="Testa Testsson"'
        ":mailto:testa.testsson@example.org",
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;"
        'CN="Bo Bengtsson (test)":mailto:bo.test@example.org',
    ]


def test_attendee_role_rsvp_and_delegation_are_written() -> None:
    substitute = CalendarAttendee(
        "Fia Ersättare",
        "fia@example.org",
        PartStat.ACCEPTED,
        Role.OPT_PARTICIPANT,
        False,
        "bo.test@example.org",
    )
    lines = _attendee_lines(build_request(meeting(attendees=(substitute,))))
    assert lines == [
        'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE;CN="Fia Ersättare"'
        ';DELEGATED-FROM="mailto:bo.test@example.org":mailto:fia@example.org'
    ]


def test_lines_end_in_crlf_and_nothing_else() -> None:
    ical = build_request(meeting())
    assert ical.endswith(b"END:VCALENDAR\r\n")
    assert ical.count(b"\n") == ical.count(b"\r\n")
    assert b"\r\r" not in ical


def test_summary_location_description_and_url_round_trip() -> None:
    _, event = _only_event(build_request(meeting()))
    assert event["SUMMARY"] == "SIP-möte (ärende blek-2026-0042)"
    assert event["LOCATION"] == "Rådhuset, sal 3, Karlskrona"
    assert event["DESCRIPTION"] == "Syfte: gemensam planering.\nFrågor: skolgång; fritid"
    assert event["URL"] == "https://meet.example.se/sip-0042"


def test_update_keeps_uid_raises_sequence_renews_dtstamp_and_asks_everyone_again() -> None:
    accepted = meeting(attendees=(dataclasses.replace(TESTA, partstat=PartStat.ACCEPTED, rsvp=False), BO))
    later = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    update = rescheduled(
        accepted,
        starts_at=datetime(2026, 12, 15, 9, 0, tzinfo=STOCKHOLM),
        ends_at=datetime(2026, 12, 15, 10, 0, tzinfo=STOCKHOLM),
        dtstamp=later,
    )
    calendar, event = _only_event(build_request(update))
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == UID
    assert event["SEQUENCE"] == 1
    assert later == event.DTSTAMP
    assert event.start == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
    partstats = [attendee.params["PARTSTAT"] for attendee in event.attendees]
    rsvps = [attendee.params["RSVP"] for attendee in event.attendees]
    assert partstats == ["NEEDS-ACTION", "NEEDS-ACTION"]
    assert rsvps == ["TRUE", "TRUE"]


def test_cancel_has_method_status_same_uid_and_no_lower_sequence() -> None:
    sent = meeting(sequence=3)
    cancelled = cancellation_of(sent, dtstamp=datetime(2026, 12, 1, 7, 0, tzinfo=UTC))
    ical = build_cancel(cancelled)
    calendar, event = _only_event(ical)
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == UID
    assert event.sequence >= sent.sequence
    assert event["ORGANIZER"] == "mailto:sipvakt@sipvakt.example.se"
    assert [str(attendee) for attendee in event.attendees] == [
        "mailto:testa.testsson@example.org",
        "mailto:bo.test@example.org",
    ]
    assert b"STATUS:CONFIRMED" not in ical


def test_for_recipient_leaves_only_that_attendee() -> None:
    narrowed = for_recipient(meeting(), "BO.TEST@example.org")
    lines = _attendee_lines(build_request(narrowed))
    assert len(lines) == 1
    assert lines[0].endswith("mailto:bo.test@example.org")
    assert "Testa" not in build_request(narrowed).decode()


def test_for_recipient_refuses_a_stranger() -> None:
    with pytest.raises(ValueError, match="not an attendee"):
        for_recipient(meeting(), "someone@example.org")


@pytest.mark.parametrize(
    "changes",
    [
        {"dtstamp": datetime(2026, 11, 23, 9, 0)},
        {"starts_at": datetime(2026, 12, 14, 13, 0)},
        {"ends_at": datetime(2026, 12, 14, 12, 0, tzinfo=STOCKHOLM)},
        {"sequence": -1},
        {"uid": "two words"},
        {"uid": "line\r\nATTENDEE:mailto:x@example.org"},
        {"attendees": ()},
        {"url": "javascript:alert(1)"},
    ],
)
def test_invalid_meetings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        meeting(**changes)


@pytest.mark.parametrize(
    "address", ["Åsa <asa@example.se>", "mailto:asa@example.se", "asa@", "a b@example.se"]
)
def test_addresses_that_would_lose_the_reply_buttons_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        CalendarAttendee("Åsa", address)
