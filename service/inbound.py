"""The inbound SMTP receiver for calendar replies (aiosmtpd, on SIPVAKT_INBOUND_SMTP_PORT).

Every well-formed message is accepted (250), even one that is ignored: a bounce would only confuse the
participant's client. A calendar REPLY or COUNTER becomes answers, a REFRESH gets the current REQUEST
back; a message without a calendar that answers one of our messages is forwarded to the case's
coordinator (or, for an Exchange TNEF meeting answer, recorded). What cannot be used is logged and
counted under its outcome, never stored. Only when the database
cannot take an answer does the receiver answer 451, so that the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiosmtpd.smtp import SMTP

from calendars.itip_reply import IgnoredCalendarMessage, ParsedCalendarMessage, parse_reply
from calendars.tnef import meeting_response
from notifiers.compose import Sender
from scheduler.case import Case, Meeting
from scheduler.clock import Clock
from scheduler.reply_match import (
    Answer,
    Unmatched,
    answer_key,
    calendar_answers,
    refresh_participants,
    uid_candidates,
)
from service.database import Pool
from service.inbound_mail import MAX_MESSAGE_BYTES, calendar_part, plain_mail
from service.inbound_thread import AnsweredMessage, answered_message
from service.metrics import Metrics
from service.responses import forward_proposal, forward_reply, record_answer, resend_request

log = logging.getLogger(__name__)
# Outcomes of a message that did what its sender meant; every other outcome is logged as a warning.
HANDLED = frozenset({"recorded", "duplicate", "refreshed", "forwarded"})


@dataclass
class ReplyReceiver:
    """Turns one received message into recorded answers; returns the outcome it was counted under."""

    pool: Pool
    clock: Clock
    metrics: Metrics
    sender: Sender

    async def receive(self, raw: bytes) -> str:
        outcome = await self._receive(raw)
        self.metrics.replies.labels("smtp", outcome).inc()
        level = logging.INFO if outcome in HANDLED else logging.WARNING
        log.log(level, f"inbound reply: {outcome}", extra={"outcome": outcome})
        return outcome

    async def _receive(self, raw: bytes) -> str:
        part = calendar_part(raw)
        if part is None:
            return await self._without_calendar(raw)
        reply = parse_reply(part.body, part.mime_method)
        if isinstance(reply, IgnoredCalendarMessage):
            return reply.reason.value
        found = await self._meeting(reply.uid)
        if found is None:
            return Unmatched.UNKNOWN_UID.value
        case, meeting = found
        if reply.method == "REFRESH":
            return await self._refresh(case, meeting, reply)
        answers = calendar_answers(meeting, reply)
        if isinstance(answers, Unmatched):
            return answers.value
        return await self._record(case, reply, answers)

    async def _meeting(self, uid: str) -> tuple[Case, Meeting] | None:
        candidates = uid_candidates(uid, self.sender.domain)
        if not candidates:
            return None
        rows = await self.pool.fetch(
            "select state from cases where case_id = any($1::text[])", [case_id for case_id, _ in candidates]
        )
        cases = {case.case_id: case for case in (Case.model_validate(row["state"]) for row in rows)}
        for case_id, meeting_id in candidates:
            case = cases.get(case_id)
            if case is not None and meeting_id in case.meetings:
                return case, case.meetings[meeting_id]
        return None

    async def _record(self, case: Case, reply: ParsedCalendarMessage, answers: list[Answer]) -> str:
        now = await self.clock.now()
        recorded = False
        async with self.pool.acquire() as connection, connection.transaction():
            for answer in answers:
                webhook_id = answer_key(
                    "itip",
                    reply.uid,
                    answer.participant_id,
                    answer.response,
                    answer.delegate.email if answer.delegate else "",
                    answer.proposed,
                    reply.sequence,
                    reply.dtstamp.isoformat() if reply.dtstamp else "",
                )
                if answer.response is not None:
                    intake = await record_answer(connection, case, answer, webhook_id, now)
                    recorded = recorded or intake.status == "accepted"
                if answer.proposed is not None:
                    await forward_proposal(connection, case, answer, webhook_id, now)
        return "recorded" if recorded else "duplicate"

    async def _refresh(self, case: Case, meeting: Meeting, reply: ParsedCalendarMessage) -> str:
        asking = refresh_participants(meeting, reply)
        if isinstance(asking, Unmatched):
            return asking.value
        now = await self.clock.now()
        stamp = reply.dtstamp.isoformat() if reply.dtstamp else ""
        async with self.pool.acquire() as connection, connection.transaction():
            for participant_id in asking:
                digest = answer_key("refresh", reply.uid, participant_id, stamp)
                await resend_request(connection, case, meeting, participant_id, digest, now)
        return "refreshed"

    async def _without_calendar(self, raw: bytes) -> str:
        """An ordinary reply, or Exchange's TNEF-only answer: found through the message it answers."""
        mail = plain_mail(raw)
        response = meeting_response(mail.tnef) if mail.tnef is not None else None
        answered = await answered_message(self.pool, mail.answered, self.sender)
        if answered is None:
            return "tnef_unmatched" if response is not None else "not_calendar"
        if mail.automatic and answered.recipient.lower() == answered.case.coordinator.email.lower():
            # An auto-reply to what we sent the coordinator (a forwarded reply, say) would only go back
            # to them, and their own responder could answer it again.
            return "auto_reply"
        now = await self.clock.now()
        digest = answer_key("mail", *mail.answered, mail.written, response)
        invitation = _open_invitation(answered, now)
        async with self.pool.acquire() as connection, connection.transaction():
            if response is not None and invitation is not None:
                answer = Answer(invitation[0], invitation[1], response, comment=mail.written or None)
                intake = await record_answer(connection, answered.case, answer, digest, now)
                return "recorded" if intake.status == "accepted" else "duplicate"
            await forward_reply(
                connection,
                answered.case,
                answered.meeting_id,
                answered.participant_id,
                mail.written,
                digest,
                now,
                calendar_answer=response,
            )
        return "forwarded"


def _open_invitation(answered: AnsweredMessage, now: datetime) -> tuple[str, str] | None:
    """(meeting id, participant id) when the message answered is about an invitation still open."""
    if answered.meeting_id is None or answered.participant_id is None:
        return None
    meeting = answered.case.meetings.get(answered.meeting_id)
    if meeting is None or meeting.status != "scheduled" or answered.participant_id not in meeting.invitations:
        return None
    if answered.case.status != "open" or now >= meeting.ends_at:
        return None
    return answered.meeting_id, answered.participant_id


class _Handler:
    def __init__(self, receiver: ReplyReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        try:
            await self.receiver.receive(raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace"))
        except Exception:
            log.exception("a calendar reply could not be stored; the sender will try again")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 OK"


async def start_inbound_smtp(host: str, port: int, receiver: ReplyReceiver) -> asyncio.Server:
    """Listen for replies on the running loop; close the returned server to stop."""
    # aiosmtpd logs every command at INFO, addresses included; only its warnings belong in our log.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = _Handler(receiver)

    def protocol() -> SMTP:
        return SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True, loop=loop)

    return await loop.create_server(protocol, host, port)
