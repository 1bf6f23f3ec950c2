"""Meetings with obviously fake people, shared by the calendar and notifier tests."""

from __future__ import annotations

from datetime import UTC, datetime

from calendars.itip import CalendarAddress, CalendarAttendee, CalendarMeeting
from calendars.stockholm import STOCKHOLM
from notifiers.templates import MeetingMessage, MeetingMessageKind, ReplyLinks

CASE_REFERENCE = "blek-2026-0042"
UID = "sipvakt-meeting-0042-1@sipvakt.example.se"
ORGANIZER = CalendarAddress("Åsa Öberg (test)", "sipvakt@sipvakt.example.se")
TESTA = CalendarAttendee("Testa Testsson", "testa.testsson@example.org")
BO = CalendarAttendee("Bo Bengtsson (test)", "bo.test@example.org")


def meeting(**changes: object) -> CalendarMeeting:
    """A first invitation to a winter meeting (CET), 14 December 2026 13.00-14.30 Stockholm time."""
    values: dict[str, object] = {
        "uid": UID,
        "sequence": 0,
        "dtstamp": datetime(2026, 11, 23, 9, 15, tzinfo=UTC),
        "starts_at": datetime(2026, 12, 14, 13, 0, tzinfo=STOCKHOLM),
        "ends_at": datetime(2026, 12, 14, 14, 30, tzinfo=STOCKHOLM),
        "summary": f"SIP-möte (ärende {CASE_REFERENCE})",
        "location": "Rådhuset, sal 3, Karlskrona",
        "description": "Syfte: gemensam planering.\nFrågor: skolgång; fritid",
        "url": "https://meet.example.se/sip-0042",
        "organizer": ORGANIZER,
        "attendees": (TESTA, BO),
    }
    values.update(changes)
    return CalendarMeeting(**values)  # type: ignore[arg-type]


def reply_links() -> ReplyLinks:
    return ReplyLinks(
        accept_url="https://sipvakt.example.se/rsvp/tok123?answer=accept",
        decline_url="https://sipvakt.example.se/rsvp/tok123?answer=decline",
        substitute_url="https://sipvakt.example.se/rsvp/tok123/substitute",
    )


def meeting_message(**changes: object) -> MeetingMessage:
    values: dict[str, object] = {
        "kind": MeetingMessageKind.INVITATION,
        "case_reference": CASE_REFERENCE,
        "starts_at": datetime(2026, 12, 14, 13, 0, tzinfo=STOCKHOLM),
        "ends_at": datetime(2026, 12, 14, 14, 30, tzinfo=STOCKHOLM),
        "location": "Rådhuset, sal 3, Karlskrona",
        "online_url": "https://meet.example.se/sip-0042?pwd=a&b=c",
        "purpose": "Gemensam planering av stöd",
        "questions": ("Hur fungerar skolan?", "Vem gör vad under våren?"),
        "organizer_name": "Åsa Öberg (test)",
        "organizer_organisation": "Exempelkommunen",
        "reply_links": reply_links(),
    }
    values.update(changes)
    return MeetingMessage(**values)  # type: ignore[arg-type]
