"""Periodic jobs of every process, run by APScheduler: the timers' safety poll, lease reaper and housekeeping,
and the check that the next daily digest has its timer.

Every process schedules every job; a job that should run in one process at a time takes a PostgreSQL
advisory lock for its transaction and skips its turn when another process holds it. Intervals are wall
time (they are about keeping the machinery going); what a job compares against timers is business time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler.clock import Clock
from scheduler.digest import DigestSchedule
from service.storage.database import Pool, is_unavailable
from service.storage.store import Connection
from service.workers import digest, timers
from service.workers.timers import TimerWorker

log = logging.getLogger(__name__)

HOUSEKEEPING_CHUNK = 10_000


@dataclass(frozen=True)
class Intervals:
    safety_poll: timedelta = timedelta(seconds=15)
    # Often enough that a dead process's timers wait little longer than its lease.
    lease_reaper: timedelta = timedelta(seconds=5)
    housekeeping: timedelta = timedelta(hours=1)
    # How long done and cancelled timers are kept for people looking into a case's history.
    keep_finished: timedelta = timedelta(days=30)
    # A timer overdue by more than this means no process keeps up (or all are stuck): worth a warning.
    overdue_grace: timedelta = timedelta(minutes=1)
    # The digest's timers arm each other; this only heals a fresh database or a broken chain.
    digest_check: timedelta = timedelta(hours=1)


def quiet_when_database_away(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """The job, but a round missed because the database is away is not a traceback (APScheduler would log
    one per round): the next round runs when it is back, and the database watch tells the outage."""

    @functools.wraps(job)
    async def guarded() -> None:
        try:
            await job()
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.debug("periodic job skipped: database unreachable", extra={"reason": job.__name__})

    return guarded


@asynccontextmanager
async def only_one(pool: Pool, job: str) -> AsyncIterator[Connection | None]:
    """A transaction holding the job's advisory lock, or None if another process is running the job."""
    async with pool.acquire() as connection, connection.transaction():
        locked = await connection.fetchval(
            "select pg_try_advisory_xact_lock(hashtextextended('sipvakt:job:' || $1, 0))", job
        )
        yield connection if locked else None


class PeriodicJobs:
    def __init__(
        self,
        pool: Pool,
        clock: Clock,
        worker: TimerWorker,
        intervals: Intervals = Intervals(),
        digests: DigestSchedule | None = None,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.worker = worker
        self.intervals = intervals
        self.digests = digests
        self.scheduler = AsyncIOScheduler()

    async def start(self) -> None:
        # APScheduler logs every run of every job at INFO: a line every few seconds that says nothing.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # Timers left running by a process that died while this one was down are handed back at once.
        await self.reap_leases()
        jobs = [
            (self.safety_poll, self.intervals.safety_poll),
            (self.reap_leases, self.intervals.lease_reaper),
            (self.housekeeping, self.intervals.housekeeping),
        ]
        if self.digests is not None:
            # At once as well, so that a process started on a fresh database arms the first digest.
            await self.ensure_digest()
            jobs.append((self.ensure_digest, self.intervals.digest_check))
        for job, every in jobs:
            self.scheduler.add_job(
                quiet_when_database_away(job),
                "interval",
                seconds=every.total_seconds(),
                id=job.__name__,
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def safety_poll(self) -> None:
        """Wake the timer worker, and say so when timers wait far past their time."""
        self.worker.wake.set()
        async with only_one(self.pool, "timers.safety_poll") as connection:
            if connection is None:
                return
            now = await self.clock.now()
            overdue = await timers.overdue_count(connection, now, self.intervals.overdue_grace)
        if overdue:
            log.warning("timers overdue", extra={"overdue": overdue})

    async def reap_leases(self) -> None:
        async with only_one(self.pool, "timers.lease_reaper") as connection:
            if connection is None:
                return
            reaped = await timers.reap_expired_leases(connection, self.worker.retry.max_attempts)
        if reaped:
            self.worker.wake.set()

    async def ensure_digest(self) -> None:
        """Arm the next daily digest's timer if it is missing; its firing is the timer table's business."""
        if self.digests is None:
            return
        async with only_one(self.pool, "digest.ensure") as connection:
            if connection is not None:
                await digest.ensure_next(connection, self.digests, await self.clock.now())

    async def housekeeping(self) -> None:
        """Delete old done and cancelled timers, a chunk per transaction so that no lock is held long."""
        before = await self.clock.now() - self.intervals.keep_finished
        deleted = chunk = HOUSEKEEPING_CHUNK
        while chunk == HOUSEKEEPING_CHUNK:
            async with only_one(self.pool, "timers.housekeeping") as connection:
                if connection is None:
                    return
                chunk = await timers.delete_finished(connection, before, HOUSEKEEPING_CHUNK)
                deleted += chunk
        deleted -= HOUSEKEEPING_CHUNK
        if deleted:
            log.info("finished timers deleted", extra={"deleted": deleted})
