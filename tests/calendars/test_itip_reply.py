"""Replies as each client family writes them (our own fixtures), and input that must be ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from calendars.itip import (
    AttendeeReply,
    IgnoredCalendarMessage,
    IgnoreReason,
    ParsedCalendarMessage,
    ParseResult,
    ProposedTime,
    build_cancel,
    build_request,
    parse_reply,
)
from tests.calendars.samples import UID, meeting

FIXTURES = Path(__file__).parent.parent / "fixtures" / "itip"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parsed(result: ParseResult) -> ParsedCalendarMessage:
    assert isinstance(result, ParsedCalendarMessage), result
    return result


def _only(result: ParseResult) -> AttendeeReply:
    parsed = _parsed(result)
    assert len(parsed.attendees) == 1
    return parsed.attendees[0]


def test_outlook_reply_without_organizer_or_sequence() -> None:
    parsed = _parsed(parse_reply(_fixture("outlook-accepted-no-organizer.ics"), "REPLY"))
    assert parsed.method == "REPLY"
    assert parsed.uid == UID
    assert parsed.sequence is None
    assert parsed.organizer is None
    assert parsed.dtstamp == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)
    reply = parsed.attendees[0]
    assert reply.address == "testa.testsson@example.org"
    assert reply.partstat == "ACCEPTED"
    assert reply.comment == "Jag kommer.\nHälsningar Testa"
    assert reply.proposed is None


def test_google_reply_ignores_the_attendee_inside_valarm() -> None:
    parsed = _parsed(parse_reply(_fixture("google-declined-valarm.ics"), "REPLY"))
    assert [attendee.address for attendee in parsed.attendees] == ["bo.test@example.org"]
    assert parsed.attendees[0].partstat == "DECLINED"
    assert parsed.attendees[0].name == "Bo Bengtsson (test)"
    assert parsed.sequence == 1
    assert parsed.organizer == "sipvakt@sipvakt.example.se"


def test_google_counter_labelled_reply_is_a_counter_proposal() -> None:
    parsed = _parsed(parse_reply(_fixture("google-counter.ics"), mime_method="REPLY"))
    assert parsed.method == "COUNTER"
    assert any("differs" in warning for warning in parsed.warnings)
    (proposal,) = parsed.counter_proposals
    assert proposal.address == "bo.test@example.org"
    assert proposal.proposed == ProposedTime(
        datetime(2026, 12, 15, 8, 0, tzinfo=UTC), datetime(2026, 12, 15, 9, 30, tzinfo=UTC)
    )
    assert proposal.comment == "Passar tisdag morgon bättre?"


def test_apple_tentative_with_proposed_time_is_a_counter_proposal() -> None:
    parsed = _parsed(parse_reply(_fixture("apple-proposal-tentative.ics")))
    assert parsed.method == "REPLY"
    reply = parsed.attendees[0]
    assert reply.partstat == "TENTATIVE"
    # No DTEND in the proposal: the meeting keeps its length of 90 minutes.
    assert reply.proposed == ProposedTime(
        datetime(2026, 12, 16, 9, 0, tzinfo=UTC), datetime(2026, 12, 16, 10, 30, tzinfo=UTC)
    )
    assert reply.comment == "Kan vi ta onsdag förmiddag i stället?\nMvh Åsa"
    assert parsed.counter_proposals == (reply,)


def test_apple_ical3_without_any_method_is_read_as_a_reply() -> None:
    parsed = _parsed(parse_reply(_fixture("apple-ical3-no-method.ics"), mime_method=None))
    assert parsed.method == "REPLY"
    assert parsed.sequence == 2
    assert parsed.warnings
    reply = parsed.attendees[0]
    assert (reply.address, reply.partstat, reply.comment) == (
        "cecilia.test@example.org",
        "ACCEPTED",
        "Vi ses där.",
    )


def test_method_from_the_mime_parameter_when_the_body_has_none() -> None:
    body = _fixture("apple-ical3-no-method.ics")
    parsed = _parsed(parse_reply(body, mime_method="reply"))
    assert parsed.method == "REPLY"
    assert parsed.warnings == ()


def test_android_upper_case_mailto_and_address_are_normalised() -> None:
    reply = _only(parse_reply(_fixture("android-accepted.ics")))
    assert reply.address == "david.test@example.org"
    assert reply.name is None
    assert reply.partstat == "ACCEPTED"


def test_blackberry_comment_lf_endings_and_address_folded_mid_value() -> None:
    data = _fixture("blackberry-accepted-comment.ics")
    assert b"\r\n" not in data
    reply = _only(parse_reply(data))
    assert reply.address == "erik.test@example.org"
    assert reply.comment == "Det går bra för mig"


def test_delegators_reply_names_the_delegate_and_keeps_the_comment_for_the_delegator() -> None:
    parsed = _parsed(parse_reply(_fixture("delegated-by-delegator.ics")))
    delegator, delegate = parsed.attendees
    assert delegator.address == "filip.test@example.org"
    assert delegator.partstat == "DELEGATED"
    assert delegator.delegated_to == ("fia.ersattare@example.org",)
    assert delegator.comment == "Jag är bortrest, Fia går i mitt ställe."
    assert delegate.delegated_from == ("filip.test@example.org",)
    assert delegate.partstat == "NEEDS-ACTION"
    assert delegate.comment is None


def test_delegation_to_several_comes_back_as_a_list() -> None:
    reply = _only(parse_reply(_fixture("delegated-to-several.ics")))
    assert reply.delegated_to == ("fia.ersattare@example.org", "gun.ersattare@example.org")


def test_delegate_accepting_with_delegated_from() -> None:
    reply = _only(parse_reply(_fixture("delegate-accepts.ics")))
    assert (reply.address, reply.partstat, reply.delegated_from) == (
        "fia.ersattare@example.org",
        "ACCEPTED",
        ("filip.test@example.org",),
    )


def test_windows_tzid_without_vtimezone_is_resolved_by_name() -> None:
    parsed = _parsed(parse_reply(_fixture("windows-tzid-without-vtimezone.ics")))
    # W. Europe Standard Time is UTC+2 in July.
    assert parsed.attendees[0].proposed == ProposedTime(
        datetime(2026, 7, 15, 8, 0, tzinfo=UTC), datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    )


def test_unknown_tzid_without_vtimezone_is_read_as_stockholm_and_flagged() -> None:
    parsed = _parsed(parse_reply(_fixture("counter-unknown-tzid.ics")))
    assert parsed.attendees[0].proposed == ProposedTime(
        datetime(2026, 7, 15, 8, 0, tzinfo=UTC), datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    )
    assert any("Example Office Time" in warning for warning in parsed.warnings)


def test_missing_charset_in_cp1252_is_still_read() -> None:
    reply = _only(parse_reply(_fixture("cp1252-no-charset.ics")))
    assert reply.name == "Jöns Test"
    assert reply.comment == "Jag kommer gärna – hälsningar Jöns"


def test_str_input_and_lf_only_input_are_accepted() -> None:
    text = _fixture("android-accepted.ics").decode().replace("\r\n", "\n")
    assert _only(parse_reply(text)).partstat == "ACCEPTED"


def test_freebusy_reply_is_ignored_as_such() -> None:
    result = parse_reply(_fixture("freebusy-reply.ics"), "REPLY")
    assert isinstance(result, IgnoredCalendarMessage)
    assert result.reason is IgnoreReason.FREEBUSY


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", IgnoreReason.UNREADABLE),
        (b"\xff\xfe\x00garbage", IgnoreReason.UNREADABLE),
        ("hej hej", IgnoreReason.UNREADABLE),
        (b"BEGIN:VCALENDAR\r\nthis is : not ; ical\r\n", IgnoreReason.NO_EVENT),
        (b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n", IgnoreReason.NO_EVENT),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            IgnoreReason.NO_UID,
        ),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:a\r\nATTENDEE:urn:uuid:1\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n",
            IgnoreReason.NO_ATTENDEE,
        ),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\n"
            b"BEGIN:VEVENT\r\nUID:b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            IgnoreReason.SEVERAL_UIDS,
        ),
        (b"BEGIN:VCALENDAR\r\n" + b"X" * 1_000_001, IgnoreReason.TOO_LARGE),
    ],
)
def test_garbage_gives_a_reason_never_an_exception(data: bytes | str, reason: IgnoreReason) -> None:
    result = parse_reply(data, "REPLY")
    assert isinstance(result, IgnoredCalendarMessage)
    assert result.reason is reason


def test_our_own_request_and_cancel_are_not_replies() -> None:
    for ical in (build_request(meeting()), build_cancel(meeting())):
        result = parse_reply(ical)
        assert isinstance(result, IgnoredCalendarMessage)
        assert result.reason is IgnoreReason.NOT_A_REPLY


def test_a_file_nobody_has_answered_and_without_method_is_not_a_reply() -> None:
    data = _fixture("apple-ical3-no-method.ics").replace(b"PARTSTAT=ACCEPTED", b"PARTSTAT=NEEDS-ACTION")
    result = parse_reply(data)
    assert isinstance(result, IgnoredCalendarMessage)
    assert result.reason is IgnoreReason.NOT_A_REPLY


def test_comment_text_is_cleaned_of_controls_and_bidi() -> None:
    data = _fixture("android-accepted.ics").replace(
        b"END:VEVENT", "COMMENT:Ja\u202e tack\x07\r\nEND:VEVENT".encode()
    )
    assert _only(parse_reply(data)).comment == "Ja tack"


def test_a_urn_attendee_is_read_by_its_email_parameter() -> None:
    attendee = _only(parse_reply(_fixture("calendarserver-urn-attendee.ics")))
    assert (attendee.address, attendee.partstat) == ("urban.test@example.org", "ACCEPTED")


def test_a_uid_written_twice_with_one_value_is_one_uid() -> None:
    parsed = _parsed(parse_reply(_fixture("duplicate-uid.ics")))
    assert parsed.uid == "sipvakt-meeting-0042-1@sipvakt.example.se"


def test_two_different_uids_in_one_event_are_refused() -> None:
    text = _fixture("duplicate-uid.ics").replace(b"SEQUENCE:1\nUID:sipvakt", b"SEQUENCE:1\nUID:other")
    result = parse_reply(text)
    assert isinstance(result, IgnoredCalendarMessage) and result.reason is IgnoreReason.SEVERAL_UIDS


def test_refresh_names_the_attendee_who_asks() -> None:
    parsed = _parsed(parse_reply(_fixture("refresh.ics")))
    assert parsed.method == "REFRESH"
    assert [(a.address, a.partstat) for a in parsed.attendees] == [("rut.test@example.org", "NEEDS-ACTION")]
