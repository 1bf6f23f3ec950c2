"""From a participant's reply, however it came, to the answers it gives for invitations of one meeting.

A calendar reply answers for one attendee only: the one whose address is the mail's sender (its From or
its envelope sender), and only for an invitation that the reply's UID was sent with. A reply listing other
attendees answers nothing for them, whoever they are; ORGANIZER is never read. Anything a reply cannot
answer is reported as unmatched, with a reason to log and count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from calendars.itip_reply import AttendeeReply, ParsedCalendarMessage, ProposedTime
from scheduler.case import Meeting
from scheduler.identity import contains_identity_number

Response = Literal["accepted", "declined", "tentative", "delegated"]
_PARTSTATS: dict[str, Response] = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "DELEGATED": "delegated",
}


@dataclass(frozen=True)
class Delegate:
    name: str
    email: str
    organisation: str | None = None


@dataclass(frozen=True)
class Answer:
    """One participant's answer to one invitation; ``proposed`` is a new time they would rather have."""

    meeting_id: str
    participant_id: str
    response: Response | None
    delegate: Delegate | None = None
    comment: str | None = None
    proposed: ProposedTime | None = None


class Unmatched(StrEnum):
    """Why a calendar reply answers no invitation."""

    UNKNOWN_UID = "unknown_uid"
    MEETING_CLOSED = "meeting_closed"
    STALE_SEQUENCE = "stale_sequence"
    NOT_INVITED = "not_invited"
    NO_ANSWER = "no_answer"
    # The reply names invited attendees, but none of them is the mail's sender.
    SENDER_MISMATCH = "sender_mismatch"


@dataclass(frozen=True)
class Replying:
    """The one attendee a calendar reply answers for, and the invitations that answer may change."""

    reply: ParsedCalendarMessage
    address: str
    participant_ids: frozenset[str]


def replying_attendee(
    meeting: Meeting, reply: ParsedCalendarMessage, senders: Collection[str], bound: Collection[str]
) -> Replying | Unmatched:
    """The attendee of `reply` who sent it (an address among `senders`, lower case), narrowed to the
    invitations in `bound` (those the reply's UID was sent with) that went to that address."""

    def invited(address: str) -> frozenset[str]:
        return frozenset(
            participant_id
            for participant_id in bound
            if (participant := meeting.participants.get(participant_id)) is not None
            and (participant.email or "").lower() == address
        )

    for attendee in reply.attendees:
        if attendee.address in senders and (participant_ids := invited(attendee.address)):
            return Replying(replace(reply, attendees=(attendee,)), attendee.address, participant_ids)
    if any(invited(attendee.address) for attendee in reply.attendees):
        return Unmatched.SENDER_MISMATCH
    return Unmatched.NOT_INVITED


def calendar_answers(
    meeting: Meeting, reply: ParsedCalendarMessage, participant_ids: Collection[str] | None = None
) -> list[Answer] | Unmatched:
    """The answers a calendar REPLY or COUNTER gives for this meeting's invitations (for those of
    `participant_ids` only, when given)."""
    if meeting.status != "scheduled":
        return Unmatched.MEETING_CLOSED
    # Outlook leaves SEQUENCE out: such a reply is taken as answering the current version.
    if reply.sequence is not None and reply.sequence < meeting.sequence:
        return Unmatched.STALE_SEQUENCE
    by_address: dict[str, list[str]] = {}
    for participant in meeting.participants.values():
        if participant.email and (participant_ids is None or participant.participant_id in participant_ids):
            by_address.setdefault(participant.email.lower(), []).append(participant.participant_id)
    names = {attendee.address: attendee.name for attendee in reply.attendees}
    answers: list[Answer] = []
    invited_anyone = False
    for attendee in reply.attendees:
        participant_ids = by_address.get(attendee.address, [])
        invited_anyone = invited_anyone or bool(participant_ids)
        for participant_id in participant_ids:
            answer = _answer(meeting, participant_id, attendee, reply.method, names)
            if answer is not None:
                answers.append(answer)
    if answers:
        return answers
    return Unmatched.NO_ANSWER if invited_anyone else Unmatched.NOT_INVITED


def refresh_participants(meeting: Meeting, reply: ParsedCalendarMessage) -> list[str] | Unmatched:
    """The invited participants whose REFRESH (RFC 5546 3.2.6) asks for the meeting as it stands now."""
    if meeting.status != "scheduled":
        return Unmatched.MEETING_CLOSED
    addresses = {attendee.address for attendee in reply.attendees}
    asking = [
        participant.participant_id
        for participant in meeting.participants.values()
        if participant.email
        and participant.email.lower() in addresses
        and participant.participant_id in meeting.invitations
    ]
    return asking or Unmatched.NOT_INVITED


def _answer(
    meeting: Meeting,
    participant_id: str,
    attendee: AttendeeReply,
    method: Literal["REPLY", "COUNTER", "REFRESH"],
    names: dict[str, str | None],
) -> Answer | None:
    if method == "REFRESH":
        return None
    response = _PARTSTATS.get(attendee.partstat)
    delegate = None
    if response == "delegated":
        delegate = _delegate(meeting, participant_id, attendee, names)
        if delegate is None:
            # Delegated to nobody we can invite, or to the substitute already invited: nothing new.
            response = None
    if method == "COUNTER" and response == "delegated":
        response = None
    if response is None and attendee.proposed is None:
        return None
    return Answer(
        meeting_id=meeting.meeting_id,
        participant_id=participant_id,
        response=response,
        delegate=delegate,
        comment=attendee.comment,
        proposed=attendee.proposed,
    )


def _delegate(
    meeting: Meeting, participant_id: str, attendee: AttendeeReply, names: dict[str, str | None]
) -> Delegate | None:
    if not attendee.delegated_to:
        return None
    # A meeting has one substitute per participant: the first address named is the one invited.
    address = attendee.delegated_to[0]
    already = meeting.invitations[participant_id].delegated_to
    if already is not None and (meeting.participants[already].email or "").lower() == address:
        return None
    name = names.get(address) or address.split("@", 1)[0]
    return Delegate(name=name, email=address)


def responded_event(answer: Answer, case_id: str, occurred_at: datetime) -> dict[str, Any]:
    """The answer as the ``participant.responded`` event an integration would have sent."""
    assert answer.response is not None
    data: dict[str, Any] = {
        "meeting_id": answer.meeting_id,
        "participant_id": answer.participant_id,
        "response": answer.response,
    }
    if answer.delegate is not None:
        delegate = {"name": answer.delegate.name, "email": answer.delegate.email}
        if answer.delegate.organisation:
            delegate["organisation"] = answer.delegate.organisation
        data["delegate"] = delegate
    # A comment that holds a personnummer would be refused as free text; the answer itself still counts.
    if answer.comment and not contains_identity_number(answer.comment[:4000]):
        data["comment"] = answer.comment[:4000]
    return {
        "type": "participant.responded",
        "case_id": case_id,
        "occurred_at": occurred_at.isoformat(),
        "data": data,
    }


def answer_key(channel: str, *parts: object) -> str:
    """A webhook-id for an answer, derived from what it says: the same answer twice is a duplicate."""
    subject = "\x1f".join(str(part) for part in (channel, *parts))
    return f"{channel}_" + hashlib.sha256(subject.encode()).hexdigest()[:32]
