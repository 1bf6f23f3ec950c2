"""The receiver of participants' replies: one received e-mail in, answers (or nothing) out.

Every well-formed message is accepted (250), even one that is ignored: a bounce would only confuse the
participant's client. A calendar REPLY or COUNTER becomes an answer, a REFRESH gets the current REQUEST
back; a message without a calendar that answers one of our messages is forwarded to the case's
coordinator (or, for an Exchange TNEF meeting answer, recorded). What cannot be used is logged and
counted under its outcome, never stored. Only when the database cannot take an answer does the receiver
answer 451, so that the sending server tries again later. The SMTP side is ``service.inbound_smtp``.

What makes a mailed answer count (README, "How replies are authenticated"):
- the calendar's UID is one we drew at random for an invitation (``service.calendar_uids``), and it answers
  only for the invitations sent with it;
- it answers for one attendee, the one whose address is the mail's From or envelope sender;
- with ``SIPVAKT_INBOUND_AUTHSERV_ID`` set, the receiving server's Authentication-Results vouch for that
  attendee's domain (``service.reply_auth``); otherwise it is counted ``unauthenticated``;
- a substitute it names is not invited: the coordinator is told (``hold_delegation``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

from calendars.itip_reply import IgnoredCalendarMessage, ParsedCalendarMessage, parse_reply
from calendars.tnef import TnefResponse, meeting_response
from notifiers.compose import Sender
from scheduler.case import Case, Meeting
from scheduler.clock import Clock
from scheduler.reply_match import (
    Answer,
    Replying,
    Unmatched,
    answer_key,
    calendar_answers,
    refresh_participants,
    replying_attendee,
)
from service.http.responses import (
    forward_proposal,
    forward_reply,
    hold_delegation,
    record_answer,
    resend_request,
    tell_other_sender,
)
from service.mail.inbound_mail import PlainMail, calendar_part, plain_mail
from service.mail.inbound_thread import AnsweredMessage, answered_message
from service.mail.reply_auth import authenticated
from service.metrics import Metrics
from service.storage import store
from service.storage.calendar_uids import bound_invitations
from service.storage.database import Pool

log = logging.getLogger(__name__)
# Outcomes of a message that did what its sender meant; every other outcome is logged as a warning.
HANDLED = frozenset({"recorded", "duplicate", "refreshed", "forwarded", "delegation_held"})
UNAUTHENTICATED = "unauthenticated"
# Outbox kinds whose message carried an invitation the recipient can answer.
_ANSWERABLE = ("request", "update")


def sender_addresses(message: Message, envelope_sender: str | None) -> frozenset[str]:
    """The addresses the mail says it is from: its From header's and the envelope's, lower case."""
    found = {address.lower() for _, address in getaddresses([str(v) for v in message.get_all("From") or []])}
    if envelope_sender:
        found.add(envelope_sender.lower())
    return frozenset(address for address in found if "@" in address)


@dataclass
class ReplyReceiver:
    """Turns one received message into recorded answers; returns the outcome it was counted under."""

    pool: Pool
    clock: Clock
    metrics: Metrics
    sender: Sender
    # The receiving mail server's authserv-id; None: every reply counts (the server rejects forgeries).
    authserv_id: str | None = None

    async def receive(self, raw: bytes, envelope_sender: str | None = None) -> str:
        outcome = await self._receive(raw, envelope_sender)
        self.metrics.replies.labels("smtp", outcome).inc()
        level = logging.INFO if outcome in HANDLED else logging.WARNING
        log.log(level, f"inbound reply: {outcome}", extra={"outcome": outcome})
        return outcome

    def _vouched(self, message: Message, address: str) -> bool:
        return self.authserv_id is None or authenticated(message, self.authserv_id, address)

    async def _receive(self, raw: bytes, envelope_sender: str | None) -> str:
        part = calendar_part(raw)
        if part is None:
            return await self._without_calendar(raw, envelope_sender)
        reply = parse_reply(part.body, part.mime_method)
        if isinstance(reply, IgnoredCalendarMessage):
            return reply.reason.value
        found = await self._meeting(reply.uid)
        if found is None:
            return Unmatched.UNKNOWN_UID.value
        case, meeting, bound, legacy = found
        message = message_from_bytes(raw, policy=policy.compat32)
        senders = sender_addresses(message, envelope_sender)
        replying = replying_attendee(meeting, reply, senders, bound)
        shown = next(iter(sorted(sender_addresses(message, None))), envelope_sender)
        if replying is Unmatched.SENDER_MISMATCH and not legacy and shown:
            await self._tell_other_sender(case, meeting, reply, bound, shown.lower())
        if isinstance(replying, Unmatched):
            return replying.value
        if not self._vouched(message, replying.address):
            return UNAUTHENTICATED
        if reply.method == "REFRESH":
            return await self._refresh(case, meeting, replying)
        answers = calendar_answers(meeting, replying.reply, replying.participant_ids)
        if isinstance(answers, Unmatched):
            return answers.value
        return await self._record(case, replying.reply, answers)

    async def _meeting(self, uid: str) -> tuple[Case, Meeting, frozenset[str], bool] | None:
        """The meeting a UID was sent for, the participants whose invitations carried it, and whether it
        is a legacy UID (made from the case and meeting ids, so known to more than the participant)."""
        async with self.pool.acquire() as connection:
            bound = await bound_invitations(connection, uid, self.sender.domain)
            if not bound:
                return None
            case = await store.load_case(connection, bound[0].case_id)
        if case is None or bound[0].meeting_id not in case.meetings:
            return None
        participant_ids = frozenset(item.participant_id for item in bound)
        return case, case.meetings[bound[0].meeting_id], participant_ids, any(item.legacy for item in bound)

    async def _tell_other_sender(
        self, case: Case, meeting: Meeting, reply: ParsedCalendarMessage, bound: frozenset[str], sender: str
    ) -> None:
        """An answer under a participant's own random UID, from another address: whoever sent it had the
        participant's invitation (forwarded, or an alias), so the coordinator hears of it; it is not
        recorded."""
        answers = calendar_answers(meeting, reply, bound)
        if isinstance(answers, Unmatched):
            return
        answer = next((answer for answer in answers if answer.response is not None), None)
        if answer is None:
            return
        now = await self.clock.now()
        stamp = reply.dtstamp.isoformat() if reply.dtstamp else ""
        digest = answer_key("other-sender", reply.uid, answer.participant_id, answer.response, sender, stamp)
        async with self.pool.acquire() as connection, connection.transaction():
            await tell_other_sender(connection, case, answer, sender, digest, now)

    async def _record(self, case: Case, reply: ParsedCalendarMessage, answers: list[Answer]) -> str:
        now = await self.clock.now()
        outcome = "duplicate"
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
                if answer.response == "delegated" and answer.delegate is not None:
                    # Not invited on a mailed word alone: the coordinator decides (see the module's doc).
                    await hold_delegation(connection, case, answer, webhook_id, now)
                    outcome = "delegation_held" if outcome == "duplicate" else outcome
                elif answer.response is not None:
                    intake = await record_answer(connection, case, answer, webhook_id, now)
                    outcome = "recorded" if intake.status == "accepted" else outcome
                if answer.proposed is not None:
                    await forward_proposal(connection, case, answer, webhook_id, now)
        return outcome

    async def _refresh(self, case: Case, meeting: Meeting, replying: Replying) -> str:
        asking = refresh_participants(meeting, replying.reply)
        if isinstance(asking, Unmatched):
            return asking.value
        now = await self.clock.now()
        reply = replying.reply
        stamp = reply.dtstamp.isoformat() if reply.dtstamp else ""
        async with self.pool.acquire() as connection, connection.transaction():
            for participant_id in asking:
                if participant_id not in replying.participant_ids:
                    continue
                digest = answer_key("refresh", reply.uid, participant_id, stamp)
                await resend_request(connection, case, meeting, participant_id, digest, now)
        return "refreshed"

    async def _without_calendar(self, raw: bytes, envelope_sender: str | None) -> str:
        """An ordinary reply, or Exchange's TNEF-only answer: found through the message it answers."""
        mail = plain_mail(raw)
        response = meeting_response(mail.tnef) if mail.tnef is not None else None
        answered = await answered_message(self.pool, mail.answered, self.sender)
        if answered is None:
            if response is None:
                return "not_calendar"
            return await self._tnef_by_sender(raw, mail, response, envelope_sender)
        if mail.automatic and answered.recipient.lower() == answered.case.coordinator.email.lower():
            # An auto-reply to what we sent the coordinator (a forwarded reply, say) would only go back
            # to them, and their own responder could answer it again.
            return "auto_reply"
        now = await self.clock.now()
        digest = answer_key("mail", *mail.answered, mail.written, response)
        invitation = _open_invitation(answered, now)
        if response is not None and invitation is not None:
            message = message_from_bytes(raw, policy=policy.compat32)
            if not self._vouched(message, answered.recipient):
                return UNAUTHENTICATED
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

    async def _tnef_by_sender(
        self, raw: bytes, mail: PlainMail, response: TnefResponse, envelope_sender: str | None
    ) -> str:
        """A TNEF answer that names none of our messages (Exchange leaves In-Reply-To out when the
        invitation was forwarded or moved): found among the sender's open invitations. One: recorded as
        the other paths do. None: `tnef_unmatched`. Several: `tnef_ambiguous`, neither recorded nor
        forwarded, since nothing in the mail says which meeting it means; the participant still has the
        reply link, and reminders still go."""
        message = message_from_bytes(raw, policy=policy.compat32)
        senders = sender_addresses(message, None)
        if len(senders) != 1:
            return "tnef_unmatched"
        [address] = senders
        if envelope_sender and envelope_sender.lower() != address:
            # From and envelope disagree: the From alone is what a forger writes.
            return "tnef_unmatched"
        now = await self.clock.now()
        candidates = await self._open_invitations_of(address, now)
        if not candidates:
            return "tnef_unmatched"
        if len(candidates) > 1:
            return "tnef_ambiguous"
        if not self._vouched(message, address):
            return UNAUTHENTICATED
        case, meeting_id, participant_id = candidates[0]
        digest = answer_key("tnef", address, mail.written, response, str(message.get("Message-ID", "")))
        answer = Answer(meeting_id, participant_id, response, comment=mail.written or None)
        async with self.pool.acquire() as connection, connection.transaction():
            intake = await record_answer(connection, case, answer, digest, now)
        return "recorded" if intake.status == "accepted" else "duplicate"

    async def _open_invitations_of(self, address: str, now: datetime) -> list[tuple[Case, str, str]]:
        """(case, meeting id, participant id) of every invitation still open that went to `address`."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "select distinct case_id, meeting_id, participant_id from outbox"
                " where channel = 'email' and kind = any($2::text[]) and state = 'sent'"
                " and meeting_id is not null and participant_id is not null and lower(recipient) = $1",
                address,
                list(_ANSWERABLE),
            )
            cases: dict[str, Case | None] = {}
            found: list[tuple[Case, str, str]] = []
            for row in rows:
                if row["case_id"] not in cases:
                    cases[row["case_id"]] = await store.load_case(connection, row["case_id"])
                case = cases[row["case_id"]]
                if case is None:
                    continue
                answered = AnsweredMessage(case, row["meeting_id"], row["participant_id"], address)
                meeting = case.meetings.get(row["meeting_id"])
                participant = meeting.participants.get(row["participant_id"]) if meeting else None
                # Still this address: an invitation whose address was corrected since is not theirs.
                invited = participant is not None and (participant.email or "").lower() == address
                if invited and _open_invitation(answered, now) is not None:
                    found.append((case, row["meeting_id"], row["participant_id"]))
        return found


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
