"""The test clock: a time stored in the database, shared by every process on it, moved only forward.

Only on with SIPVAKT_TEST_CLOCK. Moving it waits until the work that the new time makes due is done in
every process: events applied, timers fired, messages handed to SMTP (or the outbox folder), webhooks
attempted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from service.database import Pool
from service.store import EVENTS_CHANNEL, OUTBOX_CHANNEL, TIMERS_CHANNEL

SETTLE_POLL_SECONDS = 0.02
CLOCK_CHANNEL = "sipvakt_clock"


class ClockMovedBack(Exception):
    def __init__(self, current: datetime) -> None:
        super().__init__("the test clock never moves back")
        self.current = current


@dataclass(frozen=True)
class Backlog:
    events: int
    timers: int
    messages: int
    webhooks: int = 0

    @property
    def empty(self) -> bool:
        return not (self.events or self.timers or self.messages or self.webhooks)


class DatabaseClock:
    """Reads the shared test time from the database on every call."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def now(self) -> datetime:
        moment: datetime | None = await self.pool.fetchval("select now from test_clock")
        if moment is None:
            raise RuntimeError("the test clock has not been started")
        return moment


async def start_test_clock(pool: Pool, start: datetime) -> datetime:
    """Create the clock at `start`, or move a clock kept from an earlier run forward to it."""
    async with pool.acquire() as connection:
        moment: datetime = await connection.fetchval(
            "insert into test_clock (now) values ($1)"
            " on conflict (singleton) do update set now = greatest(test_clock.now, excluded.now)"
            " returning now",
            start,
        )
    return moment


async def move_test_clock(pool: Pool, to: datetime) -> datetime:
    """Set the shared time to `to`; raise ClockMovedBack if that is before the current time."""
    async with pool.acquire() as connection, connection.transaction():
        current: datetime = await connection.fetchval("select now from test_clock for update")
        if to < current:
            raise ClockMovedBack(current)
        await connection.execute("update test_clock set now = $1", to)
        for channel in (CLOCK_CHANNEL, EVENTS_CHANNEL, TIMERS_CHANNEL, OUTBOX_CHANNEL):
            await connection.execute("select pg_notify($1, '')", channel)
    return to


async def backlog(pool: Pool, now: datetime) -> Backlog:
    """The work due by `now` that no process has finished yet."""
    row = await pool.fetchrow(
        "select (select count(*) from events where state = 'pending') as events,"
        " (select count(*) from timers where state in ('scheduled', 'running') and due_at <= $1) as timers,"
        " (select count(*) from outbox where state = 'sending'"
        " or (state = 'queued' and next_attempt_at <= $1)) as messages,"
        # A disabled subscription's deliveries wait for it to be enabled, not for the clock.
        " (select count(*) from webhook_deliveries d join webhook_subscriptions s using (subscription_id)"
        " where d.state = 'sending' or (d.state = 'pending' and d.next_attempt_at <= $1"
        " and s.disabled_at is null)) as webhooks",
        now,
    )
    assert row is not None
    return Backlog(row["events"], row["timers"], row["messages"], row["webhooks"])


async def settle(pool: Pool, now: datetime, seconds: float) -> Backlog:
    """Wait until nothing is due by `now`; return what is still left if `seconds` run out first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        left = await backlog(pool, now)
        if left.empty or loop.time() >= deadline:
            return left
        await asyncio.sleep(SETTLE_POLL_SECONDS)
