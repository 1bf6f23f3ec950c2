"""iTIP (RFC 5546) invitations, updates and cancellations, and the reading of replies.

A meeting is described by :class:`CalendarMeeting`; :func:`build_request` and :func:`build_cancel` turn it
into the bytes of a ``text/calendar`` part that Outlook, Gmail, Apple Calendar and Thunderbird show with
reply buttons. Replies are read by :func:`parse_reply` (see :mod:`calendars.itip_reply`).

Privacy: every attendee given here is shown to whoever receives the file. Messages go to one recipient
each, so pass a meeting narrowed with :func:`for_recipient` unless every attendee may see every other one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from calendars import content_lines as ical
from calendars.addresses import require_plain_address, require_web_url
from calendars.clean_text import clean_line, clean_multiline
from calendars.itip_reply import (
    AttendeeReply,
    IgnoredCalendarMessage,
    IgnoreReason,
    ParsedCalendarMessage,
    ParseResult,
    ProposedTime,
    parse_reply,
)
from calendars.stockholm import STOCKHOLM
from calendars.vtimezone import STOCKHOLM_TZID, stockholm_vtimezone_bytes

__all__ = [
    "PRODID",
    "AttendeeReply",
    "CalendarAddress",
    "CalendarAttendee",
    "CalendarMeeting",
    "IgnoreReason",
    "IgnoredCalendarMessage",
    "Method",
    "ParseResult",
    "ParsedCalendarMessage",
    "PartStat",
    "ProposedTime",
    "Role",
    "build_cancel",
    "build_request",
    "cancellation_of",
    "for_recipient",
    "parse_reply",
    "rescheduled",
]

PRODID = "-//sipvakt//sipvakt//SV"


class Method(StrEnum):
    """The iTIP methods sipvakt sends."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class PartStat(StrEnum):
    """An attendee's participation status (RFC 5545, 3.2.12)."""

    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    TENTATIVE = "TENTATIVE"
    DELEGATED = "DELEGATED"


class Role(StrEnum):
    """An attendee's role (RFC 5545, 3.2.16)."""

    CHAIR = "CHAIR"
    REQ_PARTICIPANT = "REQ-PARTICIPANT"
    OPT_PARTICIPANT = "OPT-PARTICIPANT"
    NON_PARTICIPANT = "NON-PARTICIPANT"


@dataclass(frozen=True)
class CalendarAddress:
    """A named mailbox: the organizer, or anyone else identified by name and address."""

    name: str
    email: str

    def __post_init__(self) -> None:
        require_plain_address(self.email)


@dataclass(frozen=True)
class CalendarAttendee:
    """One invited participant as written into the calendar file."""

    name: str
    email: str
    partstat: PartStat = PartStat.NEEDS_ACTION
    role: Role = Role.REQ_PARTICIPANT
    rsvp: bool = True
    delegated_from: str | None = None

    def __post_init__(self) -> None:
        require_plain_address(self.email)
        if self.delegated_from is not None:
            require_plain_address(self.delegated_from)


@dataclass(frozen=True)
class CalendarMeeting:
    """Everything a calendar file says about one meeting.

    ``sequence`` is the revision: it must rise with every change that clients should apply, and a
    cancellation carries at least the last one sent. ``dtstamp`` is when this revision was made.
    """

    uid: str
    sequence: int
    dtstamp: datetime
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    url: str | None
    organizer: CalendarAddress
    attendees: tuple[CalendarAttendee, ...]

    def __post_init__(self) -> None:
        if not self.uid or clean_line(self.uid) != self.uid or " " in self.uid:
            raise ValueError(f"UID must be non-empty printable text without spaces: {self.uid!r}")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative")
        for name in ("dtstamp", "starts_at", "ends_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValueError("a meeting must end after it starts")
        if not self.attendees:
            raise ValueError("a meeting needs at least one attendee")
        if self.url is not None:
            require_web_url(self.url)


def for_recipient(meeting: CalendarMeeting, email: str) -> CalendarMeeting:
    """The meeting with only the attendee who receives this copy, so no one sees the others' names.

    Raises ``ValueError`` if ``email`` is not among the attendees.
    """
    wanted = email.lower()
    mine = tuple(attendee for attendee in meeting.attendees if attendee.email.lower() == wanted)
    if not mine:
        raise ValueError(f"{email!r} is not an attendee of {meeting.uid!r}")
    return dataclasses.replace(meeting, attendees=mine)


def rescheduled(
    meeting: CalendarMeeting,
    *,
    starts_at: datetime,
    ends_at: datetime,
    dtstamp: datetime,
    location: str | None = None,
    url: str | None = None,
) -> CalendarMeeting:
    """The next revision after a change of time (and maybe place): same UID, SEQUENCE + 1.

    Every attendee is asked again: a yes to the old time says nothing about the new one.
    """
    attendees = tuple(
        dataclasses.replace(attendee, partstat=PartStat.NEEDS_ACTION, rsvp=True)
        for attendee in meeting.attendees
    )
    return dataclasses.replace(
        meeting,
        sequence=meeting.sequence + 1,
        dtstamp=dtstamp,
        starts_at=starts_at,
        ends_at=ends_at,
        location=meeting.location if location is None else location,
        url=meeting.url if url is None else url,
        attendees=attendees,
    )


def cancellation_of(meeting: CalendarMeeting, *, dtstamp: datetime) -> CalendarMeeting:
    """The revision to send with :func:`build_cancel`: SEQUENCE + 1, so every client applies it."""
    return dataclasses.replace(meeting, sequence=meeting.sequence + 1, dtstamp=dtstamp)


def build_request(meeting: CalendarMeeting) -> bytes:
    """A ``METHOD:REQUEST`` calendar (first invitation or update), CRLF, folded at 75 octets."""
    return _calendar(meeting, Method.REQUEST)


def build_cancel(meeting: CalendarMeeting) -> bytes:
    """A ``METHOD:CANCEL`` calendar with ``STATUS:CANCELLED`` for the same UID."""
    return _calendar(meeting, Method.CANCEL)


def _calendar(meeting: CalendarMeeting, method: Method) -> bytes:
    head = [f"PRODID:{PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN", f"METHOD:{method.value}"]
    # The VTIMEZONE never changes, so it is serialised once and placed before the event.
    event = [
        "BEGIN:VEVENT",
        ical.line("UID", ical.text(meeting.uid)),
        ical.line("DTSTAMP", ical.utc_time(meeting.dtstamp)),
        ical.line("SEQUENCE", str(meeting.sequence)),
        _shared_lines(
            meeting.starts_at,
            meeting.ends_at,
            meeting.starts_at.fold,
            meeting.ends_at.fold,
            meeting.summary,
            meeting.location,
            meeting.description,
            meeting.url,
            meeting.organizer,
            method,
        ),
        *(_attendee(attendee) for attendee in meeting.attendees),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ical.document(["BEGIN:VCALENDAR", *head]) + stockholm_vtimezone_bytes() + ical.document(event)


# The event's lines from DTSTART to ORGANIZER, joined: the same in every recipient's copy of a meeting
# (a revision of it), and made from these values alone. Two times of one zone that differ only in `fold`
# (the hour that repeats when the clocks go back) compare equal, so the folds are part of the key.
# Bounded: a long-running process meets ever new meetings.
@lru_cache(maxsize=256)
def _shared_lines(
    starts_at: datetime,
    ends_at: datetime,
    starts_fold: int,
    ends_fold: int,
    summary: str,
    location: str,
    description: str,
    url: str | None,
    organizer: CalendarAddress,
    method: Method,
) -> str:
    zone = ("TZID", STOCKHOLM_TZID)
    lines = [
        ical.line("DTSTART", ical.local_time(starts_at.astimezone(STOCKHOLM)), [zone]),
        ical.line("DTEND", ical.local_time(ends_at.astimezone(STOCKHOLM)), [zone]),
        ical.line("SUMMARY", ical.text(clean_line(summary))),
    ]
    if location := clean_line(location):
        lines.append(ical.line("LOCATION", ical.text(location)))
    if description := clean_multiline(description):
        lines.append(ical.line("DESCRIPTION", ical.text(description)))
    if url is not None:
        lines.append(ical.line("URL", url))
    lines += [
        ical.line("STATUS", "CANCELLED" if method is Method.CANCEL else "CONFIRMED"),
        ical.line("TRANSP", "OPAQUE"),
        _organizer(organizer),
    ]
    return "\r\n".join(lines)


def _organizer(organizer: CalendarAddress) -> str:
    name = clean_line(organizer.name)
    return ical.line(
        "ORGANIZER", f"mailto:{organizer.email}", [("CN", ical.quoted_param(name))] if name else []
    )


def _attendee(attendee: CalendarAttendee) -> str:
    params = [
        ("CUTYPE", "INDIVIDUAL"),
        ("ROLE", attendee.role.value),
        ("PARTSTAT", attendee.partstat.value),
        ("RSVP", "TRUE" if attendee.rsvp else "FALSE"),
    ]
    if name := clean_line(attendee.name):
        params.append(("CN", ical.quoted_param(name)))
    if attendee.delegated_from is not None:
        params.append(("DELEGATED-FROM", ical.quoted_param(f"mailto:{attendee.delegated_from}")))
    return ical.line("ATTENDEE", f"mailto:{attendee.email}", params)
