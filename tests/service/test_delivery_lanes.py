"""The delivery worker hands messages of different cases over several kept SMTP sessions at once, while
each case's messages still go one after the other, in the order they fell due (an invitation before its
update), against a real aiosmtpd that takes its time over each message."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from notifiers.compose import Sender
from notifiers.smtp_pool import SmtpPool
from scheduler.case import Case
from scheduler.clock import FixedClock
from scheduler.decide import Context
from scheduler.effects import Effect
from scheduler.planning import DeadlinePlanner
from service import access
from service.storage import store
from service.storage.database import Pool, create_pool
from service.workers.delivery import DeliveryWorker
from service.workers.outcomes import DeliveryOutcomes
from tests import samples
from tests.scheduler.builders import applied
from tests.service.mail import MAIL_DOMAIN, MAIL_FROM, MailSink, smtp_server

NOW = datetime.fromisoformat("2026-11-23T12:00:00+01:00")
CONFIG = Path(__file__).resolve().parents[2] / "config"
CASES = 4
PER_CASE = 3
LANES = 3
# Long enough that messages handed over at once overlap at the server, short enough for a quick test.
DATA_SECONDS = 0.05


class SlowSink(MailSink):
    """Takes a while over each message and notes, per recipient, when its DATA began and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0
        self.spans: dict[str, tuple[float, float]] = {}
        self.peers: set[Any] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        loop = asyncio.get_running_loop()
        began = loop.time()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(DATA_SECONDS)
        self.in_flight -= 1
        self.peers.add(session.peer)
        [recipient] = envelope.rcpt_tos
        self.spans[recipient] = (began, loop.time())
        return await super().handle_DATA(server, session, envelope)


def address(case: int, participant: int) -> str:
    return f"deltagare.{case}.{participant}@example.org"


def opened_case(number: int) -> tuple[Case, list[Effect]]:
    """A case whose meeting invites PER_CASE participants by e-mail, and the effects that queue it."""
    case_id = f"lane-{number}"
    planner = DeadlinePlanner(load_rulebook(CONFIG), WorkingCalendar())
    context = Context(now=NOW, integration_id=access.DEFAULT_INTEGRATION, planner=planner)
    meeting = samples.meeting_scheduled(case_id)
    meeting["data"]["participants"] = [
        {
            "participant_id": f"p-{i}",
            "name": f"Deltagare {i}",
            "email": address(number, i),
            "role": "other",
            "channel": "email",
        }
        for i in range(PER_CASE)
    ]
    case, effects = applied((samples.case_opened(case_id), samples.consent_given(case_id), meeting), context)
    return case, effects


async def queue(pool: Pool) -> None:
    """Every case's invitations queued, falling due a minute apart: the first case's in turn, then the
    second's, and so on, so that lanes taking the next message due, whatever its case, would send one
    case's messages at once."""
    async with pool.acquire() as connection, connection.transaction():
        await access.ensure_default_integration(connection, NOW)
        for number in range(CASES):
            case, effects = opened_case(number)
            await store.save_case(connection, case, NOW)
            await store.carry_out(connection, case, effects, NOW)
    for number in range(CASES):
        for i in range(PER_CASE):
            await pool.execute(
                "update outbox set next_attempt_at = $2 where lower(recipient) = $1",
                address(number, i),
                NOW - timedelta(minutes=CASES * PER_CASE - number * PER_CASE - i),
            )


async def test_cases_go_over_several_sessions_at_once_and_each_case_in_its_order(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=LANES + 1)
    sink = SlowSink()
    try:
        async with smtp_server(sink) as port:
            transport = SmtpPool("127.0.0.1", port, "none", timeout=5.0, size=LANES)
            worker = DeliveryWorker(
                pool=pool,
                clock=FixedClock(NOW),
                transport=transport,
                sender=Sender(MAIL_FROM, MAIL_FROM, MAIL_DOMAIN, b"test message key"),
                return_address="Testkommun\nBox 1\n111 11 Teststad",
                wake=asyncio.Event(),
                outcomes=DeliveryOutcomes(DeadlinePlanner(load_rulebook(CONFIG), WorkingCalendar())),
                lanes=LANES,
            )
            await queue(pool)
            await worker.deliver_due()
            await transport.close()
        states = await pool.fetch("select lower(recipient) as recipient, state from outbox")
    finally:
        await pool.close()

    invited = {address(number, i) for number in range(CASES) for i in range(PER_CASE)}
    assert {row["recipient"]: row["state"] for row in states if row["recipient"] in invited} == dict.fromkeys(
        invited, "sent"
    )
    # Different cases at once, over more than one session, never more than the lanes.
    assert 1 < sink.most_in_flight <= LANES
    assert 1 < len(sink.peers) <= LANES and transport.opened == len(sink.peers)
    # Each case's messages one at a time, in the order they fell due: each begins after the one before
    # it was taken.
    for number in range(CASES):
        spans = [sink.spans[address(number, i)] for i in range(PER_CASE)]
        assert all(before[1] <= after[0] for before, after in pairwise(spans)), (number, spans)
