"""The delivery worker: sends what the outbox holds, at least once, each message under a stable id.

A message is claimed (state `sending`) in one short transaction, sent outside any transaction, then
marked. A crash between the server's 250 OK and the mark leaves it `sending`; the reaper puts it back in
the queue, and it goes once more with the same Message-ID: the one duplicate the design allows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notifiers.compose import Sender, meeting_email, meeting_letter
from notifiers.notice_subject import NoticeSubject, UnknownNotice
from notifiers.notices import build_notice, notice_email
from notifiers.transport import PermanentFailure, TemporaryFailure, Transport
from scheduler.case import Case, Meeting
from scheduler.clock import Clock
from scheduler.undeliverable import INVITING_KINDS, invitation_undeliverable
from service import store
from service.database import Pool
from service.database_watch import log_failure
from service.reply_tokens import Invitee, ReplyTokens
from service.wakeup import wait_for_any

log = logging.getLogger(__name__)

BATCH = 20
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# Messages about a meeting that carry its calendar (or go as a letter); every other kind is a plain notice.
MEETING_KINDS = ("request", "update", "cancel")
MARK_FAILED = "update outbox set state = 'failed', last_error = $2 where message_id = $1"
# A message claimed this long ago and still not marked belongs to a process that died while sending.
STUCK_AFTER = timedelta(minutes=5)


def retry_delay(attempts: int, jitter: float) -> timedelta:
    """Exponential back-off with jitter: 30 s, 1 min, 2 min … capped at one hour."""
    delay: timedelta = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    return delay * (0.75 + 0.5 * jitter)


@dataclass
class DeliveryWorker:
    pool: Pool
    clock: Clock
    transport: Transport
    sender: Sender
    return_address: str
    wake: asyncio.Event
    # Without it (benchmarks, tools) messages go out without reply links.
    reply_tokens: ReplyTokens | None = None

    async def deliver_due(self, stopping: asyncio.Event | None = None) -> int:
        """Claim and send every message due now, or until `stopping` is set; return how many were handled.

        A message claimed and not finished when stopping (or when this task is cancelled at the end of
        the shutdown grace) goes back to the queue without counting an attempt, for the next process.
        """
        handled = 0
        while stopping is None or not stopping.is_set():
            now = await self.clock.now()
            claimed = await self._claim(now)
            if not claimed:
                return handled
            unfinished = [row["message_id"] for row in claimed]
            try:
                for row in claimed:
                    if stopping is not None and stopping.is_set():
                        break
                    await self._deliver_unless_cancelled(row, now)
                    unfinished.remove(row["message_id"])
                    handled += 1
            finally:
                if unfinished:
                    await self._hand_back(unfinished, now)
        return handled

    async def _deliver_unless_cancelled(self, row: dict[str, Any], now: datetime) -> None:
        """Deliver; cancelled (the shutdown grace is over), abandon the send at once. aiosmtplib answers a
        cancellation by sending QUIT and waiting for the reply, which a hung server never gives: the
        send is cancelled again until it has stopped."""
        sending = asyncio.ensure_future(self._deliver(row, now))
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:
            while not sending.done():
                sending.cancel()
                await asyncio.wait({sending}, timeout=0.1)
            raise

    async def _hand_back(self, message_ids: list[str], now: datetime) -> None:
        """Unclaim messages this process will not send: queued again, due now, the attempt not counted."""
        await self.pool.execute(
            "update outbox set state = 'queued', attempts = attempts - 1, next_attempt_at = $2"
            " where message_id = any($1::text[]) and state = 'sending'",
            message_ids,
            now,
        )
        log.info("messages handed back for the next process", extra={"count": len(message_ids)})

    async def _claim(self, now: datetime) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "update outbox set state = 'sending', attempts = attempts + 1, next_attempt_at = $2"
            " where message_id in (select message_id from outbox where state = 'queued'"
            " and next_attempt_at <= $1 order by next_attempt_at limit $3 for update skip locked)"
            " returning *",
            now,
            now + STUCK_AFTER,
            BATCH,
        )
        return [dict(row) for row in rows]

    async def _deliver(self, row: dict[str, Any], now: datetime) -> None:
        extra = {"message_id": row["message_id"], "attempt": row["attempts"]}
        try:
            await self._send(row, now)
        except TemporaryFailure as exc:
            if row["attempts"] >= MAX_ATTEMPTS:
                await self._mark_failed(row, str(exc), now)
                return
            retry_at = now + retry_delay(row["attempts"], random.random())
            await self.pool.execute(
                "update outbox set state = 'queued', next_attempt_at = $2, last_error = $3"
                " where message_id = $1",
                row["message_id"],
                retry_at,
                str(exc),
            )
            log.warning("delivery deferred", extra={**extra, "reason": str(exc)})
            return
        except PermanentFailure as exc:
            await self._mark_failed(row, str(exc), now)
            return
        await self.pool.execute(
            "update outbox set state = 'sent', sent_at = $2, last_error = null where message_id = $1",
            row["message_id"],
            now,
        )
        log.info("delivered", extra=extra)

    async def _send(self, row: dict[str, Any], now: datetime) -> None:
        case = None
        if row["case_id"] is not None:
            async with self.pool.acquire() as connection:
                case = await store.load_case(connection, row["case_id"])
        if row["kind"] in MEETING_KINDS:
            await self._send_meeting_message(case, row, now)
        else:
            await self._send_notice(case, row, now)

    async def _send_meeting_message(self, case: Case | None, row: dict[str, Any], now: datetime) -> None:
        if case is None or row["meeting_id"] not in case.meetings:
            raise PermanentFailure("the message's case or meeting no longer exists")
        meeting = case.meetings[row["meeting_id"]]
        participant = meeting.participants[row["participant_id"]]
        sequence = int(row["payload"].get("sequence", meeting.sequence))
        token = await self._reply_token(case, meeting, row, now)
        reply_links = self.reply_tokens.links(token) if self.reply_tokens and token else None
        if row["channel"] == "letter":
            letter_reply = self.reply_tokens.letter_reply(token) if self.reply_tokens and token else None
            reply = (reply_links, letter_reply) if reply_links and letter_reply else None
            pdf = meeting_letter(case, meeting, participant, row["kind"], self.return_address, now, reply)
            await self._queue_letter(case, row, pdf, now)
            return
        message = meeting_email(
            case,
            meeting,
            participant,
            row["kind"],
            sequence,
            row["message_id"],
            self.sender,
            now,
            reply_links,
        )
        await self.transport.send(self.sender.mail_from, row["recipient"], message, row["message_id"])

    async def _send_notice(self, case: Case | None, row: dict[str, Any], now: datetime) -> None:
        """A plain message (notice, reminder, survey, digest), worded from the case as it is now."""
        meeting = case.meetings.get(row["meeting_id"]) if case and row["meeting_id"] else None
        participant = meeting.participants.get(row["participant_id"]) if meeting else None
        page_url = None
        if row["payload"].get("reply_link") and case and meeting and participant and self.reply_tokens:
            invitee = Invitee(case.case_id, meeting.meeting_id, participant.participant_id)
            async with self.pool.acquire() as connection:
                page_url = self.reply_tokens.page_url(await self.reply_tokens.issue(connection, invitee, now))
        subject = NoticeSubject(case, meeting, participant, row["payload"], page_url)
        try:
            notice = build_notice(subject)
        except UnknownNotice as exc:
            raise PermanentFailure(str(exc)) from None
        message = notice_email(notice, row["recipient"], row["message_id"], self.sender, now)
        await self.transport.send(self.sender.mail_from, row["recipient"], message, row["message_id"])

    async def _reply_token(
        self, case: Case, meeting: Meeting, row: dict[str, Any], now: datetime
    ) -> str | None:
        """The invitation's reply token, for messages that ask for an answer."""
        if self.reply_tokens is None or row["kind"] not in INVITING_KINDS:
            return None
        invitee = Invitee(case.case_id, meeting.meeting_id, row["participant_id"])
        async with self.pool.acquire() as connection:
            return await self.reply_tokens.issue(connection, invitee, now)

    async def _queue_letter(self, case: Case, row: dict[str, Any], pdf: bytes, now: datetime) -> None:
        await self.pool.execute(
            "insert into letters (letter_id, case_id, region, organisations, meeting_id, participant_id,"
            " kind, pdf, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " on conflict (letter_id) do nothing",
            letter_id(row["message_id"]),
            case.case_id,
            case.region,
            sorted(case.organisations()),
            row["meeting_id"],
            row["participant_id"],
            row["kind"],
            pdf,
            now,
        )

    async def _mark_failed(self, row: dict[str, Any], reason: str, now: datetime) -> None:
        """Mark the message failed and, for an invitation, the invitation too, under the case's lock."""
        if row["case_id"] is None:
            await self.pool.execute(MARK_FAILED, row["message_id"], reason)
            log.warning("delivery failed for good", extra={"message_id": row["message_id"], "reason": reason})
            return
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "select pg_advisory_xact_lock(hashtextextended('case:' || $1, 0))", row["case_id"]
            )
            await connection.execute(MARK_FAILED, row["message_id"], reason)
            case = await store.load_case(connection, row["case_id"], for_update=True)
            if case is not None and row["channel"] == "email" and row["participant_id"] is not None:
                sequence = int(row["payload"].get("sequence", 0))
                applied = invitation_undeliverable(
                    case, row["meeting_id"], row["participant_id"], row["kind"], sequence, now
                )
                if applied is not None:
                    await store.save_case(connection, applied.case, now)
                    await store.carry_out(connection, applied.case, applied.effects, now)
        log.warning("delivery failed for good", extra={"message_id": row["message_id"], "reason": reason})

    async def requeue_stuck(self) -> int:
        """Put back messages whose sender died mid-send (their claim has run out)."""
        status: str = await self.pool.execute(
            "update outbox set state = 'queued' where state = 'sending' and next_attempt_at <= $1",
            await self.clock.now(),
        )
        return int(status.rsplit(" ", 1)[1])

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.wake.clear()
            try:
                await self.requeue_stuck()
                await self.deliver_due(stopping)
            except Exception as error:
                log_failure(log, "delivering messages failed; retrying", error)
            await wait_for_any(self.wake, stopping, seconds=POLL_SECONDS)


def letter_id(message_id: str) -> str:
    """A letter's public id: opaque and safe in a URL path, unlike the outbox key it comes from."""
    return "ltr_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
