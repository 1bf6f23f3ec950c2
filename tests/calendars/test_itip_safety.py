"""Names and texts from outside cannot add properties, and folding keeps lines and characters whole."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from calendars.clean_text import clean_line, clean_multiline
from calendars.itip import CalendarAddress, CalendarAttendee, build_request
from tests.calendars.samples import meeting

HOSTILE = "Testa\r\nATTENDEE:mailto:evil@example.org\x00\u202eTestsson\u2066\x85"


def test_clean_line_drops_breaks_controls_and_bidi() -> None:
    # The NUL and the bidi override vanish without a trace; only line breaks turn into spaces.
    assert clean_line(HOSTILE) == "Testa ATTENDEE:mailto:evil@example.orgTestsson"
    assert clean_line("  Åsa\tÖberg\u2028(test) ") == "Åsa Öberg (test)"


def test_clean_multiline_keeps_line_breaks_as_lf_only() -> None:
    assert clean_multiline("Rad 1\r\nRad 2\rRad\x07 3\u202e\n") == "Rad 1\nRad 2\nRad 3"


def test_a_hostile_attendee_name_cannot_add_a_property() -> None:
    ical = build_request(meeting(attendees=(CalendarAttendee(HOSTILE, "testa@example.org"),)))
    calendar = Calendar.from_ical(ical)
    event = calendar.events[0]
    attendees = event["ATTENDEE"]
    assert str(attendees) == "mailto:testa@example.org"
    assert attendees.params["CN"] == "Testa ATTENDEE:mailto:evil@example.orgTestsson"
    for forbidden in (b"\x00", "\u202e".encode(), "\u2066".encode(), "\x85".encode()):
        assert forbidden not in ical
    assert b"\r\nATTENDEE:mailto:evil" not in ical.replace(b"\r\n ", b"")


def test_hostile_summary_location_description_and_organizer_stay_inside_their_property() -> None:
    ical = build_request(
        meeting(
            summary="SIP\r\nMETHOD:PUBLISH",
            location="Rum 1\nDTSTART:19700101T000000Z",
            description="Rad\r\nEND:VEVENT\u202e",
            organizer=CalendarAddress("Org\r\nORGANIZER:mailto:evil@example.org", "sipvakt@example.se"),
        )
    )
    unfolded = ical.replace(b"\r\n ", b"").decode()
    starts = [line.split(":", 1)[0].split(";", 1)[0] for line in unfolded.split("\r\n") if line]
    assert starts.count("METHOD") == 1
    assert starts.count("ORGANIZER") == 1
    assert starts.count("END") == starts.count("BEGIN")
    event = Calendar.from_ical(ical).events[0]
    assert event["DESCRIPTION"] == "Rad\nEND:VEVENT"
    assert event["SUMMARY"] == "SIP METHOD:PUBLISH"


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    min_size=0,
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(summary=_TEXT, location=_TEXT, name=_TEXT, description=_TEXT)
def test_folding_never_exceeds_75_octets_or_splits_a_character(
    summary: str, location: str, name: str, description: str
) -> None:
    ical = build_request(
        meeting(
            summary=summary,
            location=location,
            description=description,
            attendees=(CalendarAttendee(name, "testa@example.org"),),
        )
    )
    assert ical.endswith(b"\r\n")
    for line in ical[:-2].split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # a split multi-byte character would fail here
    event = Calendar.from_ical(ical).events[0]
    assert event["SUMMARY"] == clean_line(summary)
    assert event["ATTENDEE"].params.get("CN", "") == clean_line(name)
