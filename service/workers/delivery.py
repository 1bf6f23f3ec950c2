"""The delivery worker: sends what the outbox holds, at least once, each message under a stable id.

A message is claimed (state `sending`) in one short transaction under a lease: this process's id and an
expiry in real time (the database's clock, not the business clock: a lease is about a process being
alive). It is sent outside any transaction; then its outcome is recorded in one transaction that, for an
invitation, also brings the case up to date under the case's lock: `sent` at the server's 250 OK, `failed`
when it is refused for good. A crash between the 250 OK and that record leaves the message `sending`; once
the process is gone (see `service.liveness`) or its lease has run out, any process puts it back in the
queue, and it goes once more with the same Message-ID: the one duplicate the design allows.

Each message is handled on its own: whatever goes wrong with one (an address no server can take, a fault
in writing it) ends in that message deferred or failed, never in another message of its batch left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from notifiers.compose import Sender, meeting_email, meeting_letter
from notifiers.mailbox import UnsendableAddress, wire_address
from notifiers.notice_subject import NoticeSubject, UnknownNotice
from notifiers.notices import build_notice, notice_email, notice_reply_to
from notifiers.transport import PermanentFailure, TemporaryFailure, Transport
from scheduler.case import Case, Meeting
from scheduler.clock import Clock
from scheduler.undeliverable import INVITING_KINDS
from service import tracing
from service.metrics import Metrics
from service.storage import store
from service.storage.calendar_uids import invitation_uid
from service.storage.database import Pool
from service.storage.reply_tokens import Invitee, ReplyTokens
from service.workers.database_watch import log_failure
from service.workers.liveness import Presence, owner_alive
from service.workers.outcomes import DeliveryOutcomes, InvitationMessage
from service.workers.timers import process_id
from service.workers.wakeup import wait_for_any

log = logging.getLogger(__name__)

BATCH = 20
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# Messages about a meeting that carry its calendar (or go as a letter); every other kind is a plain notice.
MEETING_KINDS = ("request", "update", "cancel")
# Long enough for a whole batch against a server that times out on every message; a live process that
# stops making progress for this long is taken for dead. A process that is gone is noticed at once.
LEASE = timedelta(minutes=15)
RELEASE = "lease_owner = null, lease_until = null"
MARK_FAILED = f"update outbox set state = 'failed', last_error = $2, {RELEASE} where message_id = $1"
MARK_SENT = (
    f"update outbox set state = 'sent', sent_at = $2, last_error = null, {RELEASE} where message_id = $1"
)
MARK_DEFERRED = (
    f"update outbox set state = 'queued', next_attempt_at = $2, last_error = $3, {RELEASE}"
    " where message_id = $1"
)
RELEASE_OWN = (
    f"update outbox set state = 'queued', {RELEASE} where message_id = $1 and state = 'sending'"
    " and lease_owner = $2"
)
HAND_BACK = (
    f"update outbox set state = 'queued', attempts = attempts - 1, next_attempt_at = $3, {RELEASE}"
    " where message_id = any($1::text[]) and state = 'sending' and lease_owner = $2"
)
CLAIM = """
update outbox set state = 'sending', attempts = attempts + 1, lease_owner = $2,
    lease_until = clock_timestamp() + $3::interval
where message_id in (select message_id from outbox where state = 'queued' and next_attempt_at <= $1
    order by next_attempt_at limit $4 for update skip locked)
returning *
"""
# A message is abandoned when its process is gone or its lease ran out; it goes back as it was, due.
REQUEUE_ABANDONED = f"""
update outbox set state = 'queued', {RELEASE},
    last_error = 'the process sending it stopped (' || coalesce(lease_owner, 'unknown') || ')'
where state = 'sending'
    and (lease_owner is null or lease_until < clock_timestamp() or not {owner_alive("lease_owner")})
returning message_id
"""


def retry_delay(attempts: int, jitter: float) -> timedelta:
    """Exponential back-off with jitter: 30 s, 1 min, 2 min … capped at one hour."""
    delay: timedelta = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    return delay * (0.75 + 0.5 * jitter)


@dataclass(frozen=True)
class Delivered:
    at: datetime
    # The meeting sequence whose time the message carried (None for a plain notice).
    sequence: int | None


@dataclass(frozen=True)
class Deferred:
    reason: str


@dataclass(frozen=True)
class Undeliverable:
    reason: str


Outcome = Delivered | Deferred | Undeliverable


@dataclass
class DeliveryWorker:
    pool: Pool
    clock: Clock
    transport: Transport
    sender: Sender
    return_address: str
    wake: asyncio.Event
    outcomes: DeliveryOutcomes
    metrics: Metrics = field(default_factory=Metrics)
    # Without it (benchmarks, tools) messages go out without reply links.
    reply_tokens: ReplyTokens | None = None
    owner: str = field(default_factory=process_id)
    lease: timedelta = LEASE
    # Messages handed over at once (the server gives SIPVAKT_SMTP_POOL_SIZE, one per kept SMTP session).
    lanes: int = 1

    async def deliver_due(self, stopping: asyncio.Event | None = None) -> int:
        """Claim and send every message due now, or until `stopping` is set; return how many were handled.

        Up to `lanes` messages are handed over at once, each lane taking one case's messages of the batch
        in the order they fell due, one after the other: a case's invitation still goes before its
        update, while other cases' messages use the transport's other sessions.

        A message claimed and not finished when stopping (or when this task is cancelled at the end of
        the shutdown grace) goes back to the queue without counting an attempt, for the next process.
        """
        handled = 0
        while stopping is None or not stopping.is_set():
            claimed = await self._claim(await self.clock.now())
            if not claimed:
                return handled
            unfinished = {row["message_id"] for row in claimed}
            try:
                handled += await self._deliver_batch(claimed, unfinished, stopping)
            finally:
                if unfinished:
                    await self._hand_back(sorted(unfinished))
        return handled

    async def _deliver_batch(
        self, claimed: list[dict[str, Any]], unfinished: set[str], stopping: asyncio.Event | None
    ) -> int:
        """Send a claimed batch over up to `lanes` lanes, taking each message out of `unfinished` once
        its outcome is recorded; return how many were."""
        cases = deque(_by_case(claimed))
        handled = 0

        async def lane() -> None:
            nonlocal handled
            while cases:
                for row in cases.popleft():
                    if stopping is not None and stopping.is_set():
                        return
                    await self._deliver_unless_cancelled(row)
                    unfinished.discard(row["message_id"])
                    handled += 1

        async with asyncio.TaskGroup() as lanes:
            for _ in range(min(self.lanes, len(cases))):
                lanes.create_task(lane())
        return handled

    async def _deliver_unless_cancelled(self, row: dict[str, Any]) -> None:
        """Deliver; cancelled (the shutdown grace is over), abandon the send at once. aiosmtplib answers a
        cancellation by sending QUIT and waiting for the reply, which a hung server never gives: the
        send is cancelled again until it has stopped."""
        sending = asyncio.ensure_future(self._deliver(row))
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:
            while not sending.done():
                sending.cancel()
                await asyncio.wait({sending}, timeout=0.1)
            raise

    async def _hand_back(self, message_ids: list[str]) -> None:
        """Unclaim messages this process will not send: queued again, due at once, the attempt not
        counted."""
        await self.pool.execute(HAND_BACK, message_ids, self.owner, await self.clock.now())
        log.info("messages handed back for the next process", extra={"count": len(message_ids)})

    async def _claim(self, now: datetime) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(CLAIM, now, self.owner, self.lease, BATCH)
        return [dict(row) for row in rows]

    async def _deliver(self, row: dict[str, Any]) -> None:
        """Send one message and record what became of it, in a span that continues the trace of the work
        that queued it."""
        attributes = {tracing.MESSAGE_KIND: row["kind"], tracing.MESSAGE_CHANNEL: row["channel"]}
        with tracing.continued(
            "deliver message", row.get("trace_context"), attributes, tracing.SpanKind.CLIENT
        ):
            await self._deliver_traced(row)

    async def _deliver_traced(self, row: dict[str, Any]) -> None:
        """If the record fails, the message is handed back to the queue at once if the database allows,
        else when its lease is found abandoned."""
        extra = {"message_id": row["message_id"], "attempt": row["attempts"]}
        try:
            outcome = await self._attempt(row)
            if isinstance(outcome, Deferred) and row["attempts"] >= MAX_ATTEMPTS:
                outcome = Undeliverable(outcome.reason)
            await self._record(row, outcome)
        except Exception:
            log.exception("recording a delivery failed; the message goes back to the queue", extra=extra)
            with contextlib.suppress(Exception):
                await self.pool.execute(RELEASE_OWN, row["message_id"], self.owner)
            return
        tracing.trace.get_current_span().set_attribute(tracing.OUTCOME, type(outcome).__name__.lower())
        if isinstance(outcome, Delivered):
            self.metrics.deliveries.labels("delivered").inc()
            log.info("delivered", extra=extra)
        elif isinstance(outcome, Deferred):
            self.metrics.deliveries.labels("deferred").inc()
            log.warning("delivery deferred", extra={**extra, "reason": outcome.reason})
        else:
            self.metrics.deliveries.labels("failed").inc()
            log.warning("delivery failed for good", extra={**extra, "reason": outcome.reason})

    async def _attempt(self, row: dict[str, Any]) -> Outcome:
        try:
            sequence = await self._send(row, await self.clock.now())
        except TemporaryFailure as exc:
            return Deferred(str(exc))
        except PermanentFailure as exc:
            return Undeliverable(str(exc))
        except Exception as exc:
            # A fault of ours (or of the database) while writing this one message: tried again later
            # like a deferral, and failed for good when it keeps happening.
            log.exception("a message could not be sent", extra={"message_id": row["message_id"]})
            return Deferred(type(exc).__name__)
        # The moment of the 250 OK, which is when the invitation was sent.
        return Delivered(await self.clock.now(), sequence)

    async def _record(self, row: dict[str, Any], outcome: Outcome) -> None:
        if isinstance(outcome, Deferred):
            retry_at = await self.clock.now() + retry_delay(row["attempts"], random.random())
            await self.pool.execute(MARK_DEFERRED, row["message_id"], retry_at, outcome.reason)
            return
        invitation = _invitation(row)
        if invitation is None and isinstance(outcome, Delivered):
            # A plain message changes nothing else: one statement, not a transaction of three round trips.
            await self.pool.execute(MARK_SENT, row["message_id"], outcome.at)
            return
        async with self.pool.acquire() as connection, connection.transaction():
            if isinstance(outcome, Delivered):
                await connection.execute(MARK_SENT, row["message_id"], outcome.at)
                if invitation is not None:
                    carried = replace(invitation, sequence=outcome.sequence)
                    await self.outcomes.delivered(connection, carried, outcome.at)
                return
            await connection.execute(MARK_FAILED, row["message_id"], outcome.reason)
            if invitation is not None:
                await self.outcomes.undeliverable(connection, invitation, await self.clock.now())

    async def _send(self, row: dict[str, Any], now: datetime) -> int | None:
        """Write the message from the case as it is now and hand it over; return the meeting sequence
        whose time it carried, if it is about a meeting."""
        case = None
        if row["case_id"] is not None:
            async with self.pool.acquire() as connection:
                case = await store.load_case(connection, row["case_id"])
        if row["kind"] in MEETING_KINDS:
            return await self._send_meeting_message(case, row, now)
        await self._send_notice(case, row, now)
        return None

    async def _send_meeting_message(self, case: Case | None, row: dict[str, Any], now: datetime) -> int:
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
            await self._queue_letter(case, meeting, row, pdf, now)
            return meeting.sequence
        recipient = _wire(row["recipient"])
        async with self.pool.acquire() as connection:
            uid = await invitation_uid(
                connection,
                case.case_id,
                meeting.meeting_id,
                participant.participant_id,
                self.sender.domain,
                now,
            )
        message = _written(
            lambda: meeting_email(
                case,
                meeting,
                participant.model_copy(update={"email": recipient}),
                row["kind"],
                sequence,
                row["message_id"],
                self.sender,
                now,
                uid,
                reply_links,
            )
        )
        await self.transport.send(self.sender.mail_from, recipient, message, row["message_id"])
        return meeting.sequence

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
        recipient = _wire(row["recipient"])
        message = _written(
            lambda: notice_email(
                notice, recipient, row["message_id"], self.sender, now, notice_reply_to(subject)
            )
        )
        await self.transport.send(self.sender.mail_from, recipient, message, row["message_id"])

    async def _reply_token(
        self, case: Case, meeting: Meeting, row: dict[str, Any], now: datetime
    ) -> str | None:
        """The invitation's reply token, for messages that ask for an answer."""
        if self.reply_tokens is None or row["kind"] not in INVITING_KINDS:
            return None
        invitee = Invitee(case.case_id, meeting.meeting_id, row["participant_id"])
        async with self.pool.acquire() as connection:
            return await self.reply_tokens.issue(connection, invitee, now)

    async def _queue_letter(
        self, case: Case, meeting: Meeting, row: dict[str, Any], pdf: bytes, now: datetime
    ) -> None:
        await self.pool.execute(
            "insert into letters (letter_id, case_id, region, organisations, meeting_id, participant_id,"
            " kind, pdf, created_at, sequence) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
            meeting.sequence,
        )

    async def requeue_abandoned(self) -> int:
        """Put back messages whose sender is gone (or has made no progress for a whole lease)."""
        rows = await self.pool.fetch(REQUEUE_ABANDONED)
        for row in rows:
            log.warning("message put back in the queue", extra={"message_id": row["message_id"]})
        self.metrics.deliveries.labels("reclaimed").inc(len(rows))
        return len(rows)

    async def run(self, stopping: asyncio.Event) -> None:
        presence = Presence(self.pool, self.owner)
        holding = asyncio.create_task(presence.hold(stopping), name="delivery-liveness")
        try:
            while not stopping.is_set():
                self.wake.clear()
                try:
                    # Claims are made only while this process shows as alive: others would take them back.
                    if presence.ready.is_set():
                        await self.requeue_abandoned()
                        await self.deliver_due(stopping)
                except Exception as error:
                    log_failure(log, "delivering messages failed; retrying", error)
                await wait_for_any(self.wake, stopping, seconds=POLL_SECONDS)
        finally:
            await holding


def _invitation(row: dict[str, Any]) -> InvitationMessage | None:
    """The invitation an e-mail of a case's meeting is, with the sequence it was queued under."""
    if row["case_id"] is None or row["participant_id"] is None or row["channel"] != "email":
        return None
    return InvitationMessage(
        row["case_id"],
        row["meeting_id"],
        row["participant_id"],
        row["kind"],
        int(row["payload"].get("sequence", 0)),
    )


def _by_case(claimed: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The claimed messages in groups that may go at the same time: one case's messages together, in
    the order they fell due; a message of no case alone."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in sorted(claimed, key=lambda row: row["next_attempt_at"]):
        key = ("message", row["message_id"]) if row["case_id"] is None else ("case", row["case_id"])
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _wire(address: str) -> str:
    try:
        return wire_address(address).address
    except UnsendableAddress as exc:
        raise PermanentFailure(str(exc)) from None


def _written(write: Callable[[], bytes]) -> bytes:
    """The message's bytes; a value that cannot be written into a message (an address the calendar or a
    header cannot hold) fails that message for good, since writing it again gives the same result."""
    try:
        return write()
    except ValueError:
        # Not the error's text: it quotes the address, and reasons go to logs and the outbox row.
        raise PermanentFailure("the message cannot be written for this address") from None


def letter_id(message_id: str) -> str:
    """A letter's public id: opaque and safe in a URL path, unlike the outbox key it comes from."""
    return "ltr_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
