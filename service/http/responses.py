"""Recording a participant's answer as a stored `participant.responded` event of the case's integration.

The reply page and the inbound SMTP receiver both end here, so an answer changes the case exactly as if
the integration had sent it: the event processor applies it under the case's lock. The webhook-id is
derived from the answer, so the same answer received twice is stored once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from scheduler.case import Case, Meeting
from scheduler.effects import QueueMessage
from scheduler.events import parse_event
from scheduler.identity import mask_identity_numbers
from scheduler.reply_match import Answer, responded_event
from service.storage import store

log = logging.getLogger(__name__)
# The longest comment a notice repeats; the event keeps up to 4000 characters.
COMMENT_CHARS = 2000


async def record_answer(
    connection: store.Connection, case: Case, answer: Answer, webhook_id: str, now: datetime
) -> store.Intake:
    """Store the answer as an event for the processor; a replay (even with another time) is a duplicate."""
    body = responded_event(answer, case.case_id, now)
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    intake = await store.store_event(
        connection,
        integration_id=case.integration_id,
        webhook_id=webhook_id,
        body=raw,
        event=parse_event(body),
        received_at=now,
    )
    log.info("answer recorded", extra={"event_id": intake.event_id, "outcome": intake.status})
    return intake


async def forward_proposal(
    connection: store.Connection, case: Case, answer: Answer, webhook_id: str, now: datetime
) -> None:
    """Tell the meeting's organizer that a participant proposes another time; the meeting stays as it is."""
    assert answer.proposed is not None
    meeting = case.meetings[answer.meeting_id]
    proposed = answer.proposed
    message = _notice(
        case,
        (meeting.meeting_id, answer.participant_id, "proposal", webhook_id),
        meeting.organizer.email,
        {
            "notice": "proposal",
            "starts_at": proposed.starts_at.isoformat(),
            "ends_at": proposed.ends_at.isoformat() if proposed.ends_at else None,
            "comment": answer.comment[:COMMENT_CHARS] if answer.comment else None,
        },
    )
    await _queue(connection, case, message, now)


async def hold_delegation(
    connection: store.Connection, case: Case, answer: Answer, webhook_id: str, now: datetime
) -> None:
    """A substitute named in a mailed calendar reply: told to the coordinator, not invited (see
    ``notifiers.notices.delegation_notice``). The same reply received twice tells them once."""
    assert answer.delegate is not None
    message = _notice(
        case,
        (answer.meeting_id, answer.participant_id, "delegation", webhook_id),
        case.coordinator.email,
        {
            "notice": "delegation",
            "delegate_name": mask_identity_numbers(answer.delegate.name),
            "delegate_email": answer.delegate.email,
            "comment": mask_identity_numbers(answer.comment[:COMMENT_CHARS]) if answer.comment else None,
            "reply_to_sender": True,
        },
    )
    await _queue(connection, case, message, now)


async def tell_other_sender(
    connection: store.Connection,
    case: Case,
    answer: Answer,
    sender: str,
    webhook_id: str,
    now: datetime,
) -> None:
    """A calendar answer for a participant that another address sent: told to the coordinator, not
    recorded (see ``notifiers.notices.other_sender_notice``)."""
    message = _notice(
        case,
        (answer.meeting_id, answer.participant_id, "other-sender", webhook_id),
        case.coordinator.email,
        {
            "notice": "other_sender",
            "answer": answer.response,
            "sender": sender,
            "reply_to_sender": True,
        },
    )
    await _queue(connection, case, message, now)


async def forward_reply(
    connection: store.Connection,
    case: Case,
    meeting_id: str | None,
    participant_id: str | None,
    written: str,
    digest: str,
    now: datetime,
    calendar_answer: str | None = None,
) -> None:
    """Pass what a person wrote in an ordinary reply on to the case's coordinator; `digest` identifies the
    received message, so the same mail received twice is forwarded once. `calendar_answer` is an answer
    the mail carries that cannot be recorded (an Exchange answer to a meeting that is over or cancelled)."""
    message = _notice(
        case,
        (meeting_id, participant_id, "forwarded", digest),
        case.coordinator.email,
        {
            "notice": "forwarded_reply",
            "text": mask_identity_numbers(written),
            "calendar_answer": calendar_answer,
            "reply_to_sender": True,
        },
    )
    await _queue(connection, case, message, now)


async def resend_request(
    connection: store.Connection,
    case: Case,
    meeting: Meeting,
    participant_id: str,
    digest: str,
    now: datetime,
) -> None:
    """Answer an attendee's REFRESH (RFC 5546 3.2.6) with the meeting as it stands, to them alone."""
    message = QueueMessage(
        key=f"{case.case_id}/{meeting.meeting_id}/{participant_id}/refresh/{meeting.sequence}/{digest}",
        kind="request",
        channel="email",
        meeting_id=meeting.meeting_id,
        participant_id=participant_id,
        recipient=meeting.participants[participant_id].email or "",
        payload={"sequence": meeting.sequence},
    )
    await _queue(connection, case, message, now)


def _notice(
    case: Case,
    about: tuple[str | None, str | None, str, str],
    recipient: str,
    payload: dict[str, object],
) -> QueueMessage:
    """A notice by e-mail about a meeting's participant (either may be unknown). `about` is the meeting,
    the participant, what happened and what identifies the answer or mail; together they are the
    message's key, so that the same answer or mail received twice queues one notice."""
    meeting_id, participant_id, what, unique = about
    return QueueMessage(
        key=f"{case.case_id}/{meeting_id or 'case'}/{participant_id or 'unknown'}/{what}/{unique}",
        kind="notice",
        channel="email",
        meeting_id=meeting_id,
        participant_id=participant_id,
        recipient=recipient,
        payload=payload,
    )


async def _queue(connection: store.Connection, case: Case, message: QueueMessage, now: datetime) -> None:
    await store.queue_message(connection, case.case_id, message, now)
    await connection.execute("select pg_notify($1, '')", store.OUTBOX_CHANNEL)
