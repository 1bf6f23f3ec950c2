"""The timer worker: fires each due timer once, whichever of the processes on one database gets to it.

A timer is a row. A process claims a batch of due rows with `FOR UPDATE SKIP LOCKED` and marks them running
under a lease: its own id, an expiry on the database's clock (leases are about a process being alive, not
about business time). It then fires the batch in one transaction: it takes each case's advisory lock (the
one the event processor takes), marks done the timers it still holds (an event may have cancelled or moved
one since the claim: `store.carry_out` cancels running timers too, and moving one clears its lease), and
runs their handlers. Effects and `done` commit together: a crash repeats a firing at worst and never loses
one, and handlers are written to be repeated. A process that dies leaves its timers running until the lease
reaper (`service.periodic`) hands them back.

Whether a timer is due is judged by the business clock, so the test clock drives timers like everything else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from scheduler.clock import Clock
from scheduler.timers import DueTimer
from service import tracing
from service.metrics import Metrics
from service.storage.database import Pool
from service.storage.store import Connection
from service.workers.database_watch import log_failure
from service.workers.wakeup import wait_for_any

log = logging.getLogger(__name__)

# A timer added by another process that falls due sooner than this is announced by NOTIFY; anything
# later is found by the next look at the table, which never waits longer than this.
LONGEST_SLEEP_SECONDS = 1.0
BATCH_SIZE = 100
# How long one reading of the business clock serves the batches fired after it (on the event loop's
# clock, which says how old the reading is, not what time it is in business terms): a timer falling due
# meanwhile waits at most this long for the next reading, and handlers see a `now` this much behind.
READING_KEPT_SECONDS = 0.25
LEASE = timedelta(seconds=30)
ERROR_TEXT_LIMIT = 2000


class TimerHandler(Protocol):
    """Does a timer's work inside the transaction that marks it done, under its case's lock."""

    def __call__(self, connection: Connection, timer: DueTimer, now: datetime) -> Awaitable[None]: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter for a failing handler, then parking the timer as dead."""

    first_delay: timedelta = timedelta(seconds=10)
    longest_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempts: int, spread: float) -> timedelta:
        """The wait after the `attempts`-th failure; `spread` in [0, 1) scatters retries of many timers
        that failed together (same outage) over half to one and a half of the nominal wait."""
        nominal = min(self.first_delay * 2.0 ** (attempts - 1), self.longest_delay)
        return nominal * (0.5 + spread)


@dataclass(frozen=True)
class Fired:
    """What one firing transaction did: the timers it fired, and the next batch it claimed (committed
    with them)."""

    fired: list[DueTimer]
    claimed: list[DueTimer]


def due_timers(rows: Sequence[asyncpg.Record]) -> list[DueTimer]:
    """Claimed rows as timers, oldest first."""
    timers = [
        DueTimer(
            timer_id=row["timer_id"],
            case_id=row["case_id"],
            key=row["key"],
            kind=row["kind"],
            due_at=row["due_at"],
            payload=row["payload"],
            attempts=row["attempts"],
            trace_context=row["trace_context"],
        )
        for row in rows
    ]
    return sorted(timers, key=lambda timer: (timer.due_at, timer.timer_id))


def process_id() -> str:
    """Who holds a lease: host and pid for people reading the table, and a random part so that a pid
    reused after a restart is not mistaken for the process that held the lease before."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


CLAIM = """
with due as (
    select timer_id from timers
    where state = 'scheduled' and due_at <= $1
    order by due_at
    limit $2
    for update skip locked
)
update timers set state = 'running', lease_owner = $3, lease_until = clock_timestamp() + $4::interval,
    attempts = timers.attempts + 1, updated_at = $1
from due where timers.timer_id = due.timer_id
returning timers.timer_id, timers.case_id, timers.key, timers.kind, timers.due_at, timers.payload,
    timers.attempts, timers.trace_context
"""

# The case locks, then marking done the claimed timers still held, then (when $6 > 0) claiming the next
# batch as CLAIM does, all in one round trip (migrations 0021, 0022). Rows with `fired` are this batch's
# timers marked done; the others are the next batch.
FIRE_AND_CLAIM = """
select * from fire_claimed_timers_and_claim($1::text[], $2::bigint[], $3::int[], $4, $5, $6, $7::interval)
"""

# The claim is still ours if the row is running under our lease for this very attempt; anything else
# means an event cancelled or moved it, or our lease ran out and another process took it.
STILL_HELD = """
update timers set state = $4, lease_owner = null, lease_until = null, updated_at = $5,
    last_error = coalesce($6, timers.last_error)
from unnest($1::bigint[], $2::int[]) as claimed (timer_id, attempts)
where timers.timer_id = claimed.timer_id and timers.attempts = claimed.attempts
    and timers.state = 'running' and timers.lease_owner = $3
returning timers.timer_id
"""

FAILED = """
update timers set state = $4, due_at = $5, last_error = $6, lease_owner = null, lease_until = null,
    updated_at = $7
where timer_id = $1 and attempts = $2 and state = 'running' and lease_owner = $3
"""


class TransactionChain:
    """Transactions run one after another on one connection, each COMMIT sent with the next BEGIN.

    asyncpg's `Connection.transaction()` sends BEGIN and COMMIT as a round trip each; a worker firing
    batch after batch pays both for every batch, a fifth of its time with handlers that do little. Here
    "commit; begin" goes as one simple query: PostgreSQL runs its statements in turn, and when the COMMIT
    fails the BEGIN is not run, so a failed commit leaves the connection out of any transaction, as it
    would be after `transaction()`. Whatever runs inside must not open `Connection.transaction()` itself
    (asyncpg refuses it in a transaction it did not start); the timer handlers do not."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def begin(self) -> None:
        await self.connection.execute("begin")

    async def commit(self, *, begin_next: bool) -> None:
        await self.connection.execute("commit; begin" if begin_next else "commit")

    async def roll_back(self) -> None:
        """Undo the open transaction, if one is open (a failed COMMIT has already ended it)."""
        if self.connection.is_closed() or not self.connection.is_in_transaction():
            return
        try:
            await self.connection.execute("rollback")
        except Exception:
            # A connection that cannot roll back is broken: the pool closes it when it is released, and
            # the server rolls back a transaction whose connection is gone. The error that led here is
            # what the caller reports.
            log.debug("rollback after a failed batch failed too", exc_info=True)


class TimerWorker:
    def __init__(
        self,
        pool: Pool,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        metrics: Metrics,
        *,
        owner: str | None = None,
        lease: timedelta = LEASE,
        batch_size: int = BATCH_SIZE,
        retry: RetryPolicy = RetryPolicy(),
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.handlers = handlers
        self.metrics = metrics
        self.owner = owner or process_id()
        self.lease = lease
        self.batch_size = batch_size
        self.retry = retry
        self.spread = spread
        self.wake = asyncio.Event()

    async def claim(self) -> list[DueTimer]:
        """Take up to a batch of the oldest due timers no other process holds, oldest first."""
        now = await self.clock.now()
        async with self.pool.acquire() as connection:
            return await self._claim(connection, now)

    async def _claim(self, connection: Connection, now: datetime) -> list[DueTimer]:
        return due_timers(await connection.fetch(CLAIM, now, self.batch_size, self.owner, self.lease))

    async def fire(self, timers: Sequence[DueTimer]) -> int:
        """Fire claimed timers, all in one transaction; if a handler fails, again one by one, so that
        only the failing timer is retried. Return how many fired."""
        if not timers:
            return 0
        now = await self.clock.now()
        async with self.pool.acquire() as connection:
            together = await self._try_together(connection, timers, now)
        return await self._settle(timers, together, now)

    async def _try_together(
        self, connection: Connection, timers: Sequence[DueTimer], now: datetime
    ) -> Fired | Exception:
        """The timers fired in one transaction, or what made it fail (and roll back)."""
        try:
            return await self._fire_together(connection, timers, now)
        except Exception as error:
            return error

    async def _settle(self, timers: Sequence[DueTimer], together: Fired | Exception, now: datetime) -> int:
        """Count what fired together, or fire a failed batch again one by one, each on a connection of its
        own (the failure may have been the connection's)."""
        if isinstance(together, Fired):
            fired = together.fired
        elif len(timers) == 1:
            await self._failed(timers[0], together, now)
            return 0
        else:
            log.warning("a timer of a batch failed; firing them one by one", exc_info=together)
            fired = []
            for timer in timers:
                try:
                    async with self.pool.acquire() as connection:
                        fired += (await self._fire_together(connection, [timer], now)).fired
                except Exception as alone:
                    await self._failed(timer, alone, now)
        self._count(fired)
        return len(fired)

    def _count(self, fired: Sequence[DueTimer]) -> None:
        for kind, count in Counter(timer.kind for timer in fired).items():
            self.metrics.timers_fired.labels(kind).inc(count)

    async def _fire_together(
        self, connection: Connection, timers: Sequence[DueTimer], now: datetime
    ) -> Fired:
        async with connection.transaction():
            return await self._fire_in_transaction(connection, timers, now, claim_next=False)

    async def _fire_in_transaction(
        self, connection: Connection, timers: Sequence[DueTimer], now: datetime, *, claim_next: bool
    ) -> Fired:
        """Fire the timers in the caller's transaction (and claim the next batch in it when `claim_next`)."""
        known = [timer for timer in timers if timer.kind in self.handlers]
        unknown = [timer for timer in timers if timer.kind not in self.handlers]
        rows = await connection.fetch(
            FIRE_AND_CLAIM,
            # Sorted, so that two workers locking overlapping sets of cases cannot deadlock.
            sorted({timer.case_id for timer in timers}),
            [timer.timer_id for timer in known],
            [timer.attempts for timer in known],
            self.owner,
            now,
            self.batch_size if claim_next else 0,
            self.lease,
        )
        held = {row["timer_id"] for row in rows if row["fired"]}
        fired = [timer for timer in known if timer.timer_id in held]
        traced = tracing.recording()
        for timer in fired:
            handler = self.handlers[timer.kind]
            if not traced:
                await handler(connection, timer, now)
                continue
            with tracing.continued("fire timer", timer.trace_context, {tracing.TIMER_KIND: timer.kind}):
                await handler(connection, timer, now)
        for timer in unknown:
            error = f"no handler for timer kind {timer.kind!r}"
            if await self._mark(connection, [timer], "dead", now, error):
                log.error("timer dead", extra={"timer_id": timer.timer_id, "error": error})
                self.metrics.timer_failures.labels(timer.kind, "dead").inc()
        return Fired(fired, due_timers([row for row in rows if not row["fired"]]))

    async def _mark(
        self, connection: Connection, timers: Sequence[DueTimer], state: str, now: datetime, error: str | None
    ) -> set[int]:
        if not timers:
            return set()
        rows = await connection.fetch(
            STILL_HELD,
            [timer.timer_id for timer in timers],
            [timer.attempts for timer in timers],
            self.owner,
            state,
            now,
            error,
        )
        return {row["timer_id"] for row in rows}

    async def _failed(self, timer: DueTimer, error: Exception, now: datetime) -> None:
        """Retry later with back-off, or park the timer as dead when its attempts are used up."""
        text = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
        dead = timer.attempts >= self.retry.max_attempts
        due_at = timer.due_at if dead else now + self.retry.delay(timer.attempts, self.spread())
        state = "dead" if dead else "scheduled"
        async with self.pool.acquire() as connection:
            await connection.execute(
                FAILED, timer.timer_id, timer.attempts, self.owner, state, due_at, text, now
            )
        outcome = "dead" if dead else "retry"
        self.metrics.timer_failures.labels(timer.kind, outcome).inc()
        log.log(
            logging.ERROR if dead else logging.WARNING,
            "timer %s",
            "dead" if dead else "failed; retrying",
            exc_info=error,
            extra={"timer_id": timer.timer_id, "timer_kind": timer.kind, "attempts": timer.attempts},
        )

    async def run_once(self, stopping: asyncio.Event | None = None) -> int:
        """Claim and fire batches on one connection under one reading of the clock; return how many timers
        were claimed.

        Each claim commits before its batch's firing transaction begins: the first on its own, each next
        one in the transaction that fires the batch before it, after that batch's case locks are taken
        (`FIRE_AND_CLAIM`), which spares a round trip per batch. The claim's row locks must not be held
        while waiting for a case's lock, which the event processor holds while it changes that case's
        timers; here they never are, for the next batch's locks are taken only after its claim committed.
        The firing transactions follow each other as a `TransactionChain`, which spares another. The clock
        is read before the connection is taken, because a database clock takes a connection of its own;
        the connection is then kept for the next batches, whose transactions chain on it, for as long as
        the reading is fresh (READING_KEPT_SECONDS). A batch claimed is always fired, so stopping waits for
        at most the batch claimed last."""
        now = await self.clock.now()
        loop = asyncio.get_running_loop()
        read_at = loop.time()
        claimed = 0
        failed: tuple[list[DueTimer], Exception] | None = None
        async with self.pool.acquire() as connection:
            timers = await self._claim(connection, now)
            if not timers:
                return 0
            chain = TransactionChain(connection)
            try:
                await chain.begin()
                while timers:
                    claimed += len(timers)
                    fresh = loop.time() - read_at <= READING_KEPT_SECONDS
                    claim_next = fresh and not (stopping and stopping.is_set())
                    together = await self._fire_in_transaction(connection, timers, now, claim_next=claim_next)
                    await chain.commit(begin_next=bool(together.claimed))
                    self._count(together.fired)
                    timers = together.claimed
            except Exception as error:
                await chain.roll_back()
                failed = (timers, error)
            except BaseException:
                # Cancelled (a shutdown past its grace): nothing of the open batch is kept, as
                # `transaction()` would not keep it, and the pool gets the connection back idle.
                await chain.roll_back()
                raise
        if failed:
            await self._settle(*failed, now)
        return claimed

    async def drain(self, stopping: asyncio.Event | None = None) -> int:
        """Fire batches until no due timer is left that this process can take, or until `stopping`."""
        claimed = 0
        while not (stopping and stopping.is_set()) and (batch := await self.run_once(stopping)):
            claimed += batch
        return claimed

    async def seconds_to_next(self) -> float:
        """How long to sleep: until the nearest scheduled timer falls due, but never longer than a second."""
        nearest: datetime | None = await self.pool.fetchval(
            "select min(due_at) from timers where state = 'scheduled'"
        )
        if nearest is None:
            return LONGEST_SLEEP_SECONDS
        wait = (nearest - await self.clock.now()).total_seconds()
        return min(max(wait, 0.0), LONGEST_SLEEP_SECONDS)

    async def run(self, stopping: asyncio.Event) -> None:
        """Fire timers as they fall due, woken early by NOTIFY (a timer due soon, the test clock moved)."""
        while not stopping.is_set():
            # Cleared before draining, so that a notice arriving during the drain is not lost.
            self.wake.clear()
            try:
                await self.drain(stopping)
                sleep = await self.seconds_to_next()
            except Exception as error:
                log_failure(log, "firing timers failed; retrying", error)
                sleep = LONGEST_SLEEP_SECONDS
            await wait_for_any(self.wake, stopping, seconds=sleep)


async def reap_expired_leases(connection: Connection, max_attempts: int) -> int:
    """Hand back the timers of processes whose lease ran out; park those that have used up their attempts
    (a handler that kills its process each time would otherwise take every process down in turn)."""
    reaped = await connection.fetch(
        "update timers set state = case when attempts >= $1 then 'dead' else 'scheduled' end,"
        " last_error = 'the lease of ' || lease_owner || ' ran out (attempt ' || attempts || ')',"
        " lease_owner = null, lease_until = null"
        " where state = 'running' and lease_until < clock_timestamp() returning timer_id, state",
        max_attempts,
    )
    for row in reaped:
        log.warning("timer lease ran out", extra={"timer_id": row["timer_id"], "state": row["state"]})
    return len(reaped)


async def delete_finished(connection: Connection, before: datetime, limit: int = 10_000) -> int:
    """Delete up to `limit` done or cancelled timers last changed before `before`; dead ones stay."""
    result = await connection.execute(
        "delete from timers where timer_id in (select timer_id from timers"
        " where state in ('done', 'cancelled') and updated_at < $1 limit $2)",
        before,
        limit,
    )
    return int(result.split()[-1])


async def overdue_count(connection: Connection, now: datetime, grace: timedelta) -> int:
    count: int = await connection.fetchval(
        "select count(*) from timers where state = 'scheduled' and due_at < $1", now - grace
    )
    return count
