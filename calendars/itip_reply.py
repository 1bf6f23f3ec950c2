"""Reading iTIP replies (REPLY and COUNTER) as real calendar clients send them.

Clients differ a lot (see ``interop/CHECKLIST.md``): Outlook leaves out ORGANIZER and SEQUENCE, Google labels
a COUNTER as REPLY in MIME and adds a VALARM with an ATTENDEE of its own, Apple proposes a new time with
a TENTATIVE reply and a private parameter, BlackBerry writes a COMMENT, some send LF line endings or Windows
time zone names. :func:`parse_reply` accepts all of that and never raises: input it cannot use comes back as
an :class:`IgnoredCalendarMessage` with a reason to log and count.

A reply is matched to an invitation by UID (and RECURRENCE-ID) plus the attendee's address, never by
ORGANIZER or the mail's From header: those are often aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from icalendar import Calendar, Component, vText

from calendars.addresses import normalize_address
from calendars.clean_text import clean_line, clean_multiline
from calendars.stockholm import STOCKHOLM

# A reply is a few kilobytes; anything this large is not one, and parsing it would only cost time.
MAX_CALENDAR_BYTES = 1_000_000

# REFRESH (RFC 5546 3.2.6) answers nothing: the attendee asks for the current version of the event.
_REPLY_METHODS = ("REPLY", "COUNTER", "REFRESH")
_APPLE_PROPOSAL = "TO-ALL-PROPOSED-NEW-TIME"
_APPLE_COMMENT = "X-CALENDARSERVER-PRIVATE-COMMENT"
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")
_UNESCAPED = {"\\": "\\", ";": ";", ",": ",", "n": "\n"}
_BASIC_DATE_TIME = re.compile(r"(\d{8}T\d{6})(Z?)", re.IGNORECASE)


class IgnoreReason(StrEnum):
    """Why a calendar message gives nothing to apply."""

    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    NOT_A_REPLY = "not_a_reply"
    FREEBUSY = "freebusy"
    NO_EVENT = "no_event"
    NO_UID = "no_uid"
    SEVERAL_UIDS = "several_uids"
    NO_ATTENDEE = "no_attendee"


@dataclass(frozen=True)
class IgnoredCalendarMessage:
    """A calendar message that carries no usable reply, and why."""

    reason: IgnoreReason
    detail: str


@dataclass(frozen=True)
class ProposedTime:
    """A new time an attendee proposes (METHOD:COUNTER, or Apple's TENTATIVE with a proposal), in UTC."""

    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class AttendeeReply:
    """One ATTENDEE of the replied event, addresses without ``mailto:`` and in lower case."""

    address: str
    name: str | None
    partstat: str
    delegated_to: tuple[str, ...]
    delegated_from: tuple[str, ...]
    comment: str | None
    proposed: ProposedTime | None


@dataclass(frozen=True)
class ParsedCalendarMessage:
    """A usable reply. ``sequence`` is ``None`` when the client left it out (Outlook does)."""

    method: Literal["REPLY", "COUNTER", "REFRESH"]
    uid: str
    recurrence_id: datetime | date | None
    sequence: int | None
    dtstamp: datetime | None
    organizer: str | None
    attendees: tuple[AttendeeReply, ...]
    warnings: tuple[str, ...]

    @property
    def counter_proposals(self) -> tuple[AttendeeReply, ...]:
        """The attendees who propose another time, whichever way their client expresses it."""
        return tuple(attendee for attendee in self.attendees if attendee.proposed is not None)


ParseResult = ParsedCalendarMessage | IgnoredCalendarMessage


def parse_reply(data: bytes | str, mime_method: str | None = None) -> ParseResult:
    """Read a calendar REPLY, COUNTER or REFRESH from the body of a ``text/calendar`` part.

    ``mime_method`` is the part's ``method=`` parameter; the METHOD inside the body wins when both exist.
    Never raises: anything unusable becomes an :class:`IgnoredCalendarMessage`.
    """
    try:
        return _parse(data, mime_method)
    except Exception as error:  # icalendar raises many types on hostile input; none may escape
        return IgnoredCalendarMessage(IgnoreReason.UNREADABLE, _short(f"{type(error).__name__}: {error}"))


def _short(text: str, limit: int = 200) -> str:
    cleaned = clean_line(text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # No charset and not UTF-8: Windows clients then mean cp1252, which also covers å, ä and ö.
            text = data.decode("cp1252", errors="replace")
    return text.lstrip("\ufeff").replace("\x00", "")


def _parse(data: bytes | str, mime_method: str | None) -> ParseResult:
    if len(data) > MAX_CALENDAR_BYTES:
        return IgnoredCalendarMessage(IgnoreReason.TOO_LARGE, f"{len(data)} bytes")
    text = _decode(data)
    if "BEGIN:VCALENDAR" not in text.upper():
        return IgnoredCalendarMessage(IgnoreReason.UNREADABLE, "no VCALENDAR")
    calendars = Calendar.from_ical(text, multiple=True)
    warnings: list[str] = []

    events = [event for calendar in calendars for event in calendar.walk("VEVENT")]
    if not events:
        if any(calendar.walk("VFREEBUSY") for calendar in calendars):
            return IgnoredCalendarMessage(IgnoreReason.FREEBUSY, "VFREEBUSY instead of VEVENT")
        return IgnoredCalendarMessage(IgnoreReason.NO_EVENT, "no VEVENT")

    method = _method(calendars, mime_method, events, warnings)
    if method is None:
        return IgnoredCalendarMessage(IgnoreReason.NOT_A_REPLY, "no METHOD and no answered attendee")
    if method not in _REPLY_METHODS:
        return IgnoredCalendarMessage(IgnoreReason.NOT_A_REPLY, _short(f"METHOD:{method}"))

    # sabre/vobject's test data writes UID twice in one VEVENT; the same value twice is still one UID.
    uids = {clean_line(str(uid)) for event in events for uid in _property_list(event, "UID") or [""]}
    if "" in uids:
        return IgnoredCalendarMessage(IgnoreReason.NO_UID, "VEVENT without UID")
    if len(uids) > 1:
        return IgnoredCalendarMessage(IgnoreReason.SEVERAL_UIDS, _short(", ".join(sorted(uids))))

    event = _main_event(events, warnings)
    attendees = _attendees(event, method, warnings)
    if not attendees:
        return IgnoredCalendarMessage(IgnoreReason.NO_ATTENDEE, "no ATTENDEE with an e-mail address")
    missing = sorted(tzid for calendar in calendars for tzid in calendar.get_missing_tzids())
    if missing and any("naive" in warning for warning in warnings):
        warnings.append("TZID without VTIMEZONE: " + ", ".join(missing))

    return ParsedCalendarMessage(
        method="COUNTER" if method == "COUNTER" else "REFRESH" if method == "REFRESH" else "REPLY",
        uid=uids.pop(),
        recurrence_id=_recurrence_id(event, warnings),
        sequence=_sequence(event, warnings),
        dtstamp=_dtstamp(event, warnings),
        organizer=normalize_address(event["ORGANIZER"]) if "ORGANIZER" in event else None,
        attendees=attendees,
        warnings=tuple(warnings),
    )


def _method(
    calendars: list[Calendar], mime_method: str | None, events: list[Component], warnings: list[str]
) -> str | None:
    body = next(
        (str(c["METHOD"]).strip().upper() for c in calendars if str(c.get("METHOD", "")).strip()), None
    )
    mime = mime_method.strip().upper() if mime_method and mime_method.strip() else None
    if body and mime and body != mime:
        warnings.append(f"MIME method {mime} differs from METHOD:{body}; the body wins")
    if body or mime:
        return body or mime
    # Apple iCal 3 may send neither; a file in which someone has answered can only be a reply.
    answered = any(
        _partstat(attendee) != "NEEDS-ACTION"
        for event in events
        for attendee in _property_list(event, "ATTENDEE")
    )
    if answered:
        warnings.append("no METHOD anywhere; read as REPLY because an attendee has answered")
        return "REPLY"
    return None


def _main_event(events: list[Component], warnings: list[str]) -> Component:
    if len(events) == 1:
        return events[0]
    warnings.append(f"{len(events)} VEVENTs for one UID; the one without RECURRENCE-ID is used")
    return next((event for event in events if "RECURRENCE-ID" not in event), events[0])


def _property_list(component: Component, name: str) -> list[object]:
    value = component.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _params(value: object) -> dict[str, object]:
    params = getattr(value, "params", None)
    return dict(params) if params else {}


def _partstat(value: object) -> str:
    return str(_params(value).get("PARTSTAT", "NEEDS-ACTION")).strip().upper() or "NEEDS-ACTION"


def _attendee_address(value: object) -> str | None:
    """The attendee's e-mail address: its ``mailto:`` value, or for a ``urn:`` value (CalendarServer,
    RFC 6638 style) the ``EMAIL=`` parameter (RFC 7986 6.2)."""
    address = normalize_address(value)
    if address is None and "EMAIL" in _params(value):
        address = normalize_address(_params(value)["EMAIL"])
    return address


def _address_list(param: object) -> tuple[str, ...]:
    """DELEGATED-TO/-FROM come back from icalendar as a str for one value and a list for several."""
    if param is None:
        return ()
    values = param if isinstance(param, list) else [param]
    found = (normalize_address(value) for value in values)
    return tuple(address for address in found if address is not None)


def _text(value: object) -> str:
    """A TEXT value; icalendar unescapes known properties but leaves X- properties as written."""
    if isinstance(value, vText):
        return str(value)
    return _TEXT_ESCAPE.sub(lambda match: _UNESCAPED[match.group(1).lower()], str(value))


def _comment(event: Component) -> str | None:
    texts = [_text(value) for name in ("COMMENT", _APPLE_COMMENT) for value in _property_list(event, name)]
    joined = clean_multiline("\n".join(texts))
    return joined or None


def _attendees(event: Component, method: str, warnings: list[str]) -> tuple[AttendeeReply, ...]:
    # event.get reads the VEVENT's own properties: an ATTENDEE inside a VALARM (Google) is not seen.
    raw = _property_list(event, "ATTENDEE")
    comment = _comment(event)
    event_start, event_end = _event_times(event, warnings)
    answering = [value for value in raw if _partstat(value) != "NEEDS-ACTION"]
    replies: list[AttendeeReply] = []
    for value in raw:
        address = _attendee_address(value)
        if address is None:
            warnings.append(_short(f"ATTENDEE without an e-mail address ignored: {value}"))
            continue
        params = _params(value)
        # The comment belongs to whoever answered; in a delegation reply the delegate has not yet.
        owns_comment = len(raw) == 1 or value in answering or method == "COUNTER"
        name = clean_line(str(params.get("CN", ""))) or None
        replies.append(
            AttendeeReply(
                address=address,
                name=name,
                partstat=_partstat(value),
                delegated_to=_address_list(params.get("DELEGATED-TO")),
                delegated_from=_address_list(params.get("DELEGATED-FROM")),
                comment=comment if owns_comment else None,
                proposed=_proposal(method, params, event_start, event_end, warnings),
            )
        )
    return tuple(replies)


def _proposal(
    method: str,
    params: dict[str, object],
    event_start: datetime | None,
    event_end: datetime | None,
    warnings: list[str],
) -> ProposedTime | None:
    if method == "COUNTER":
        return ProposedTime(event_start, event_end) if event_start is not None else None
    apple = params.get(_APPLE_PROPOSAL)
    if apple is None:
        return None
    fields = _apple_fields(str(apple))
    starts_at = _moment(_ical_time(fields.get("DTSTART")), warnings)
    if starts_at is None:
        warnings.append(_short(f"unreadable {_APPLE_PROPOSAL}: {apple}"))
        return None
    ends_at = _moment(_ical_time(fields.get("DTEND")), warnings)
    if ends_at is None and event_start is not None and event_end is not None:
        ends_at = starts_at + (event_end - event_start)
    return ProposedTime(starts_at, ends_at)


def _apple_fields(value: str) -> dict[str, str]:
    """``DTSTART:20201225T083000Z;STATUS:;`` → ``{"DTSTART": "20201225T083000Z", "STATUS": ""}``."""
    fields: dict[str, str] = {}
    for item in value.split(";"):
        key, _, field = item.partition(":")
        if key.strip():
            fields[key.strip().upper()] = field.strip()
    return fields


def _ical_time(value: str | None) -> datetime | None:
    """``20201225T083000Z`` (UTC) or ``20201225T083000`` (no zone: a naive datetime)."""
    match = _BASIC_DATE_TIME.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    try:
        moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")  # noqa: DTZ007 - zone added below
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if match.group(2) else moment


def _event_times(event: Component, warnings: list[str]) -> tuple[datetime | None, datetime | None]:
    start = _moment(_decoded(event, "DTSTART"), warnings)
    end = _moment(_decoded(event, "DTEND"), warnings)
    duration = _decoded(event, "DURATION")
    if end is None and start is not None and isinstance(duration, timedelta):
        end = start + duration
    return start, end


def _decoded(component: Component, name: str) -> object:
    return getattr(component.get(name), "dt", None)


def _moment(value: object, warnings: list[str]) -> datetime | None:
    """An aware UTC instant; a time without a known zone is read as Stockholm time, with a warning."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            warnings.append(f"naive time {value.isoformat()} read as Europe/Stockholm")
            value = value.replace(tzinfo=STOCKHOLM)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=STOCKHOLM).astimezone(UTC)
    return None


def _recurrence_id(event: Component, warnings: list[str]) -> datetime | date | None:
    value = _decoded(event, "RECURRENCE-ID")
    if isinstance(value, datetime):
        return _moment(value, warnings)
    return value if isinstance(value, date) else None


def _sequence(event: Component, warnings: list[str]) -> int | None:
    if "SEQUENCE" not in event:
        return None
    try:
        return int(str(event["SEQUENCE"]).strip())
    except ValueError:
        warnings.append(_short(f"unreadable SEQUENCE: {event['SEQUENCE']}"))
        return None


def _dtstamp(event: Component, warnings: list[str]) -> datetime | None:
    value = _decoded(event, "DTSTAMP")
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # DTSTAMP is defined as UTC; a missing Z is a client's slip
    return _moment(value, warnings)
