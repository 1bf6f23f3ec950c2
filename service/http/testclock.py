"""The test clock: a time stored in the database, shared by every process on it, moved only forward.

Only on with SIPVAKT_TEST_CLOCK. A move is time passing: the clock goes to each moment on the way at which
something falls due (a timer, a message's or a webhook's next attempt), waits there until every process
has done the work due then (events applied, timers fired, messages handed to SMTP or the outbox folder,
webhooks attempted), and only then goes on. Every worker reads the time from the database each time it
looks, so none of them, in any process, sees a moment the clock has not reached, and none of them is
left behind at an earlier one: the clock does not leave a moment while work due at it is unfinished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from service.storage.database import Pool, session_changed
from service.storage.store import EVENTS_CHANNEL, OUTBOX_CHANNEL, TIMERS_CHANNEL

# Most moments' work is done in a few milliseconds; looking again soon at first keeps a move over many
# moments fast, and backing off keeps a long wait from loading the database.
FIRST_POLL_SECONDS = 0.001
LONGEST_POLL_SECONDS = 0.02
CLOCK_CHANNEL = "sipvakt_clock"
# Two moves at once, from two processes, would each step the clock past work the other waits for.
MOVE_LOCK = "sipvakt:test-clock:move"


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


class ClockNotSettled(Exception):
    """The work due at `at` was not done in time; `moved` says whether the clock had left its start."""

    def __init__(self, left: Backlog, at: datetime, *, moved: bool) -> None:
        super().__init__("the work due at the test clock's time is still pending")
        self.left = left
        self.at = at
        self.moved = moved


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
    """Set the shared time to `to` in one jump and wake every process's workers; raise ClockMovedBack if
    that is before the current time. Whatever fell due on the way is found at `to`, as after downtime."""
    row = await pool.fetchrow(MOVE, to, list(WOKEN))
    assert row is not None
    if not row["notified"]:
        if row["current"] is None:
            raise RuntimeError("the test clock has not been started")
        raise ClockMovedBack(row["current"])
    return to


WOKEN = (CLOCK_CHANNEL, EVENTS_CHANNEL, TIMERS_CHANNEL, OUTBOX_CHANNEL)
# One statement, so one round trip per moment of a move: the update takes the row's lock (a concurrent
# move waits, then sees the other's time) and the notices go out at its commit, only if it moved.
MOVE = """
with moved as (update test_clock set now = $1 where now <= $1 returning now),
notified as (select pg_notify(channel, '') from moved, unnest($2::text[]) as channel)
select (select now from test_clock) as current, (select count(*) from notified) as notified
"""


async def pass_time(pool: Pool, to: datetime, seconds_per_moment: float) -> datetime:
    """Move the shared time forward to `to` as time passes: to each moment on the way at which something
    falls due, in turn, settling there, then to `to`. Raise ClockMovedBack if `to` is before the current
    time, ClockNotSettled if the work of one moment takes longer than `seconds_per_moment`."""
    async with one_move_at_a_time(pool):
        current = await DatabaseClock(pool).now()
        if to < current:
            raise ClockMovedBack(current)
        # Work accepted before the move happens at the time it was accepted: an event pushed just before
        # is applied at the old time, not at a later one.
        await _settle_or_raise(pool, current, seconds_per_moment, moved=False)
        while True:
            due = await next_due(pool, current)
            current = await move_test_clock(pool, to if due is None or due > to else due)
            await _settle_or_raise(pool, current, seconds_per_moment, moved=True)
            if current >= to:
                return current


@asynccontextmanager
async def one_move_at_a_time(pool: Pool) -> AsyncIterator[None]:
    """Hold the move lock for the block: a second move, from any process, starts where this one ends."""
    async with pool.acquire() as connection:
        session_changed(connection)
        await connection.execute("select pg_advisory_lock(hashtextextended($1, 0))", MOVE_LOCK)
        try:
            yield
        finally:
            await connection.execute("select pg_advisory_unlock(hashtextextended($1, 0))", MOVE_LOCK)


# A disabled subscription's deliveries wait for it to be enabled, not for the clock.
NEXT_DUE = """
select least(
    (select min(due_at) from timers where state = 'scheduled' and due_at > $1),
    (select min(next_attempt_at) from outbox where state = 'queued' and next_attempt_at > $1),
    (select min(d.next_attempt_at) from webhook_deliveries d
        join webhook_subscriptions s using (subscription_id)
        where d.state = 'pending' and d.next_attempt_at > $1 and s.disabled_at is null)
)
"""


async def next_due(pool: Pool, after: datetime) -> datetime | None:
    """The first moment after `after` at which a timer, a message or a webhook delivery falls due."""
    moment: datetime | None = await pool.fetchval(NEXT_DUE, after)
    return moment


async def backlog(pool: Pool, now: datetime) -> Backlog:
    """The work due by `now` that no process has finished yet."""
    row = await pool.fetchrow(
        "select (select count(*) from events where state = 'pending') as events,"
        # Each state on its own, so that each is counted from its partial index: `state in (…)` matches
        # neither index and reads the whole table, done timers and all, at every look of every moment.
        " (select count(*) from timers where (state = 'scheduled' and due_at <= $1)"
        " or (state = 'running' and due_at <= $1)) as timers,"
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
    pause = FIRST_POLL_SECONDS
    while True:
        left = await backlog(pool, now)
        if left.empty or loop.time() >= deadline:
            return left
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_POLL_SECONDS)


async def _settle_or_raise(pool: Pool, now: datetime, seconds: float, *, moved: bool) -> None:
    left = await settle(pool, now, seconds)
    if not left.empty:
        raise ClockNotSettled(left, now, moved=moved)
