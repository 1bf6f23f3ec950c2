"""From a queued message and the case as it stands to the bytes that leave: an e-mail with its calendar
file, or a PDF letter. Only what CONTRACT.md allows goes in: time, place, purpose, organizer, the
coordinator to contact, the case reference (in professionals' copies) and how to reply; never the
person's name or identity number."""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from calendars.addresses import web_uri
from calendars.itip import (
    CalendarAddress,
    CalendarAttendee,
    CalendarMeeting,
    build_cancel,
    build_request,
)
from notifiers.letters import LetterReply, PostalRecipient, build_letter
from notifiers.mime import CalendarMethod, Envelope, MailAddress
from notifiers.templates import (
    CalendarTexts,
    Contact,
    MeetingMessage,
    MeetingMessageKind,
    ReplyLinks,
    calendar_texts,
    render_meeting_message,
)
from notifiers.wire import calendar_email_bytes
from scheduler.case import Case, Meeting, ParticipantInfo

OutboxKind = Literal["request", "update", "cancel"]
# Who works with case references; children, guardians, representatives and others get a person to ask.
PROFESSIONAL_ROLES = frozenset({"professional"})
_MESSAGE_KINDS = {
    "request": MeetingMessageKind.INVITATION,
    "update": MeetingMessageKind.UPDATE,
    "cancel": MeetingMessageKind.CANCELLATION,
}


@dataclass(frozen=True)
class Sender:
    """Who the service sends as: From, the address calendar replies must reach, and the key that makes
    each Message-ID unguessable (a reply's In-Reply-To names the message it answers, see `message_id`)."""

    mail_from: str
    reply_address: str
    domain: str
    message_key: bytes


# 16 base32 characters: 80 bits, so that nobody can name one of our messages without having received it.
MESSAGE_TAG_LENGTH = 16
_TAG_OCTETS = MESSAGE_TAG_LENGTH * 5 // 8
# What a Message-ID's left part keeps of the outbox key: letters and digits (\w is str.isalnum or "_")
# and ".-_"; every other character becomes ".".
_UNSAFE_IN_MESSAGE_ID = re.compile(r"[^\w.-]")


def message_tag(key: str, message_key: bytes) -> str:
    # hmac.digest is the one-shot form: the same digest without building an HMAC object in Python.
    digest = hmac.digest(message_key, b"message-id\x1f" + key.encode(), "sha256")
    # Base32 writes each 5 octets as 8 characters on their own: the first 10 octets give the first 16
    # characters of the whole digest's encoding, without encoding the 22 octets that are cut off.
    return base64.b32encode(digest[:_TAG_OCTETS]).decode().lower()


def message_id(key: str, sender: Sender) -> str:
    """A stable Message-ID per message (meeting, recipient, kind, sequence): a resend is the same message.

    It ends in a keyed tag of the outbox key, so a reply whose In-Reply-To or References names it
    identifies the message it answers, and thereby the invitation, without anyone being able to forge it.
    """
    safe = _UNSAFE_IN_MESSAGE_ID.sub(".", key)
    return f"<{safe}.{message_tag(key, sender.message_key)}@{sender.domain}>"


def calendar_meeting(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    sequence: int,
    sender: Sender,
    now: datetime,
    uid: str,
) -> CalendarMeeting:
    """The meeting as this participant's calendar sees it: only this participant as attendee, under the
    invitation's own UID (random and stored, see ``service.calendar_uids``), which every update reuses."""
    texts = calendar_texts(meeting_message(case, meeting, "request", participant=participant))
    return _calendar_meeting(meeting, participant, texts, sequence, sender, now, uid)


def _calendar_meeting(
    meeting: Meeting,
    participant: ParticipantInfo,
    texts: CalendarTexts,
    sequence: int,
    sender: Sender,
    now: datetime,
    uid: str,
) -> CalendarMeeting:
    assert participant.email is not None
    return CalendarMeeting(
        uid=uid,
        sequence=sequence,
        dtstamp=now,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        summary=texts.summary,
        location=meeting.location,
        description=texts.description,
        url=web_uri(meeting.online_url) if meeting.online_url else None,
        # The organizer's address is the service's, so calendar replies come back to it.
        organizer=CalendarAddress(name=meeting.organizer.name, email=sender.reply_address),
        attendees=(CalendarAttendee(name=participant.name, email=participant.email),),
    )


def meeting_message(
    case: Case,
    meeting: Meeting,
    kind: OutboxKind,
    reply_links: ReplyLinks | None = None,
    *,
    participant: ParticipantInfo,
) -> MeetingMessage:
    """The message as `participant` gets it: the case reference only in a professional's copy."""
    coordinator = case.coordinator
    return MeetingMessage(
        kind=_MESSAGE_KINDS[kind],
        case_reference=case.case_id if participant.role in PROFESSIONAL_ROLES else None,
        contact=Contact(coordinator.name, coordinator.organisation, coordinator.email),
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        location=meeting.location,
        online_url=web_uri(meeting.online_url) if meeting.online_url else None,
        purpose=meeting.purpose,
        questions=tuple(meeting.questions),
        organizer_name=meeting.organizer.name,
        organizer_organisation=meeting.organizer.organisation,
        reply_links=reply_links,
        language=participant.language,
    )


def organizer_address(meeting: Meeting) -> MailAddress:
    return MailAddress(name=meeting.organizer.name, email=meeting.organizer.email)


def meeting_email(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    kind: OutboxKind,
    sequence: int,
    key: str,
    sender: Sender,
    now: datetime,
    uid: str,
    reply_links: ReplyLinks | None = None,
) -> bytes:
    """One e-mail to one participant: text, HTML, the iTIP calendar for `kind` and the reply links."""
    assert participant.email is not None
    message = meeting_message(case, meeting, kind, reply_links, participant=participant)
    # The calendar says what the message says of the meeting: its texts depend on neither kind nor links.
    calendar = _calendar_meeting(meeting, participant, calendar_texts(message), sequence, sender, now, uid)
    method = CalendarMethod.CANCEL if kind == "cancel" else CalendarMethod.REQUEST
    ics = build_cancel(calendar) if kind == "cancel" else build_request(calendar)
    envelope = Envelope(
        sender=MailAddress(name="sipvakt", email=sender.mail_from),
        recipient=MailAddress(name=participant.name, email=participant.email),
        message_id=message_id(key, sender),
        date=now,
        # A person who presses "Reply" reaches the organizer; calendar replies go to ORGANIZER, our own.
        reply_to=organizer_address(meeting),
    )
    return calendar_email_bytes(envelope, render_meeting_message(message), ics, method)


def meeting_letter(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    kind: OutboxKind,
    return_address: str,
    now: datetime,
    reply: tuple[ReplyLinks, LetterReply] | None = None,
) -> bytes:
    """One PDF letter to one participant; the window shows only name and address."""
    lines = tuple(line.strip() for line in (participant.postal_address or "").splitlines() if line.strip())
    recipient = PostalRecipient(name=participant.name, address_lines=lines)
    links, letter_reply = reply if reply is not None else (None, None)
    message = meeting_message(case, meeting, kind, links, participant=participant)
    return build_letter(message, recipient, return_address, letter_reply, now.date())
