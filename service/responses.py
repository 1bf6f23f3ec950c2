"""Recording a participant's answer as a stored `participant.responded` event of the case's integration.

The reply page and the inbound SMTP receiver both end here, so an answer changes the case exactly as if
the integration had sent it: the event processor applies it under the case's lock. The webhook-id is
derived from the answer, so the same answer received twice is stored once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from scheduler.case import Case
from scheduler.effects import QueueMessage
from scheduler.events import parse_event
from scheduler.reply_match import Answer, responded_event
from service import store

log = logging.getLogger(__name__)


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
    message = QueueMessage(
        key=f"{case.case_id}/{meeting.meeting_id}/{answer.participant_id}/proposal/{webhook_id}",
        kind="notice",
        channel="email",
        meeting_id=meeting.meeting_id,
        participant_id=answer.participant_id,
        recipient=meeting.organizer.email,
        payload={
            "notice": "proposal",
            "starts_at": proposed.starts_at.isoformat(),
            "ends_at": proposed.ends_at.isoformat() if proposed.ends_at else None,
        },
    )
    await store.queue_message(connection, case.case_id, message, now)
    await connection.execute("select pg_notify($1, '')", store.OUTBOX_CHANNEL)
