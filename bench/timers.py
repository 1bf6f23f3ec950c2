"""Benchmark of the durable timers, against a ceiling and against procrastinate, in one run.

    .venv/bin/python bench/timers.py            # an embedded PostgreSQL in a temporary folder
    .venv/bin/python bench/timers.py --profile  # only (b), under cProfile, with its top costs
    SIPVAKT_DATABASE_URL=postgresql://… .venv/bin/python bench/timers.py

Every number is compared with a baseline measured in the same run, because the machine it runs on is
shared and its speed varies from minute to minute. Each part gets a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from common import result, spread

from scheduler.clock import SystemClock
from scheduler.timers import DueTimer
from service.metrics import Metrics
from service.storage.database import Pool, create_pool, migrate, start_temporary_postgres, with_database
from service.storage.store import Connection
from service.workers.timers import BATCH_SIZE, CLAIM, TimerHandler, TimerWorker

DUE = 20_000  # timers fired in (a), (b) and (c)
# procrastinate runs one job per fetch and is far slower: fewer jobs keep the run short.
PROCRASTINATE_DUE = 4_000
PROCRASTINATE_CONCURRENCY = 10
SPIKE = 10_000  # due timers in (d)
PENDING: tuple[int, ...] = (10_000, 100_000, 1_000_000)
STEADY_SECONDS = 10  # length of the arrival stream in (e)
WORKERS = 3
# Paired rounds of (a) and (b): the figure is the median of the rounds' ratios, each round's two runs taken
# back to back (in turn first), so that a burst of load elsewhere weighs on both halves of a ratio alike.
ROUNDS = 9
# Inserting a million timers (or procrastinate's jobs) on a busy machine takes longer than the service's
# command timeout.
SETUP_TIMEOUT_SECONDS = 600.0


# The database.


def server_url() -> str:
    configured = os.environ.get("SIPVAKT_DATABASE_URL")
    if configured:
        return configured
    return start_temporary_postgres("svb-")


@asynccontextmanager
async def fresh_database(server: str, *, schema: bool = True) -> AsyncIterator[tuple[str, Pool]]:
    name = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    url = with_database(server, name)
    pool = await create_pool(url, max_size=4)
    try:
        if schema:
            await migrate(pool)
        yield url, pool
    finally:
        await pool.close()
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


async def add_timers(
    pool: Pool, count: int, due_at: datetime, *, step: timedelta = timedelta(0), tag: str
) -> None:
    """`count` timers of kind noop on 1000 cases, due from `due_at` on, `step` apart, inserted in one go."""
    await pool.execute(
        "insert into timers (case_id, key, kind, due_at, created_at, updated_at)"
        " select 'case-' || (g % 1000), $4 || g, 'noop', $2::timestamptz + $3::interval * g, $2, $2"
        " from generate_series(0, $1 - 1) as g",
        count,
        due_at,
        step,
        tag,
        timeout=SETUP_TIMEOUT_SECONDS,
    )
    await pool.execute("vacuum analyze timers", timeout=SETUP_TIMEOUT_SECONDS)


async def noop(connection: Connection, timer: DueTimer, now: datetime) -> None:
    """A handler that does nothing: what is measured is the worker."""


def worker(pool: Pool, handler: TimerHandler = noop) -> TimerWorker:
    return TimerWorker(pool, SystemClock(), {"noop": handler}, Metrics())


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


def now() -> datetime:
    return datetime.now(UTC)


# The parts.


async def raw_ceiling(server: str) -> float:
    """(a) The claim statement and a bulk `done`, with nothing in between: timers per second."""
    async with fresh_database(server) as (_, pool):
        await add_timers(pool, DUE, now() - timedelta(hours=1), tag="a")

        async def claim_and_finish() -> None:
            async with pool.acquire() as connection:
                while rows := await connection.fetch(CLAIM, now(), BATCH_SIZE, "raw", timedelta(seconds=30)):
                    await connection.execute(
                        "update timers set state = 'done' where timer_id = any($1)",
                        [r["timer_id"] for r in rows],
                    )

        return DUE / await timed(claim_and_finish)


async def one_worker(server: str) -> float:
    """(b) The service's worker, firing every due timer with a handler that does nothing."""
    async with fresh_database(server) as (_, pool):
        await add_timers(pool, DUE, now() - timedelta(hours=1), tag="b")
        fired = worker(pool)
        seconds = await timed(fired.drain)
        assert await pool.fetchval("select count(*) from timers where state <> 'done'") == 0
        return DUE / seconds


async def profile_one_worker(server: str) -> None:
    """(b) under cProfile, the top costs printed: where a fired timer costs more than its claim."""
    import cProfile
    import pstats

    async with fresh_database(server) as (_, pool):
        await add_timers(pool, DUE, now() - timedelta(hours=1), tag="p")
        fired = worker(pool)
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = await timed(fired.drain)
        profiler.disable()
        print(f"(b) under cProfile: {DUE / seconds:.0f} timers/s\n")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


async def worker_processes(server: str) -> float:
    """(c) The same with three worker processes started before the timers fall due."""
    async with fresh_database(server) as (url, pool):
        await add_timers(pool, DUE, now() + timedelta(days=1), tag="c")
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--worker", url, stdout=subprocess.PIPE
            )
            for _ in range(WORKERS)
        ]
        for process in processes:
            assert process.stdout is not None
            assert (await process.stdout.readline()).strip() == b"ready"
        start = time.perf_counter()
        await pool.execute("update timers set due_at = $1", now() - timedelta(hours=1))
        await pool.execute("notify bench_go")
        for process in processes:
            await process.wait()
        seconds = time.perf_counter() - start
        assert await pool.fetchval("select count(*) from timers where state <> 'done'") == 0
        return DUE / seconds


async def worker_process_main(url: str) -> None:
    pool = await create_pool(url, max_size=2)
    go = asyncio.Event()
    listener = await asyncpg.connect(url)
    await listener.add_listener("bench_go", lambda *_: go.set())
    print("ready", flush=True)
    await go.wait()
    await worker(pool).drain()
    await listener.close()
    await pool.close()


async def spike_among_pending(server: str, pending: int) -> float:
    """(d) Seconds to fire SPIKE due timers with `pending` timers due later (days to months ahead)."""
    async with fresh_database(server) as (_, pool):
        await add_timers(pool, pending, now() + timedelta(days=1), step=timedelta(seconds=5), tag="future-")
        await add_timers(
            pool, SPIKE, now() - timedelta(hours=1), step=timedelta(microseconds=100), tag="due-"
        )
        seconds = await timed(worker(pool).drain)
        assert await pool.fetchval("select count(*) from timers where state = 'done'") == SPIKE
        return seconds


@dataclass(frozen=True)
class Lateness:
    rate: float
    fired: int
    p50: float
    p99: float
    worst: float


async def steady_stream(server: str, capacity: float, pending: int) -> Lateness:
    """(e) Timers falling due one after another at half the worker's capacity, among `pending` future ones;
    lateness is the time from a timer's due moment to its handler running."""
    rate = capacity / 2
    count = int(rate * STEADY_SECONDS)
    late: list[float] = []

    async def measure(connection: Connection, timer: DueTimer, now: datetime) -> None:
        late.append((datetime.now(UTC) - timer.due_at).total_seconds())

    async with fresh_database(server) as (_, pool):
        await add_timers(pool, pending, now() + timedelta(days=1), step=timedelta(seconds=5), tag="future-")
        start = now() + timedelta(seconds=2)
        await add_timers(pool, count, start, step=timedelta(seconds=1 / rate), tag="stream-")
        stopping = asyncio.Event()
        running = asyncio.create_task(worker(pool, measure).run(stopping))
        await asyncio.sleep((start - now()).total_seconds() + STEADY_SECONDS + 1.5)
        stopping.set()
        await running
    quantiles = statistics.quantiles(late, n=100)
    return Lateness(rate, len(late), quantiles[49], quantiles[98], max(late))


async def procrastinate_run(server: str, pending: int) -> float:
    """(f) procrastinate's worker on the same work: seconds to run PROCRASTINATE_DUE due no-op jobs (one
    worker, jobs kept), with `pending` jobs scheduled for later and created before them."""
    import procrastinate

    async with fresh_database(server, schema=False) as (url, pool):
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

        @app.task(name="noop")
        async def nothing() -> None:
            """Does nothing, like the no-op timer handler."""

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            if pending:
                await pool.execute(
                    "insert into procrastinate_jobs (queue_name, task_name, scheduled_at)"
                    " select 'default', 'noop', $2::timestamptz + g * interval '5 seconds'"
                    " from generate_series(1, $1) as g",
                    pending,
                    now() + timedelta(days=1),
                    timeout=SETUP_TIMEOUT_SECONDS,
                )
            await pool.execute(
                "insert into procrastinate_jobs (queue_name, task_name, scheduled_at)"
                " select 'default', 'noop', $2 from generate_series(1, $1)",
                PROCRASTINATE_DUE,
                now() - timedelta(hours=1),
                timeout=SETUP_TIMEOUT_SECONDS,
            )
            await pool.execute("vacuum analyze procrastinate_jobs", timeout=SETUP_TIMEOUT_SECONDS)
            seconds = await timed(
                lambda: app.run_worker_async(
                    wait=False, concurrency=PROCRASTINATE_CONCURRENCY, install_signal_handlers=False
                )
            )
            left = await pool.fetchval(
                "select count(*) from procrastinate_jobs where status = 'todo' and scheduled_at <= now()"
            )
            assert left == 0, left
            return seconds


# The report.


async def main(quick: bool) -> None:
    import logging

    global DUE, PENDING, ROUNDS
    if quick:
        # Under a minute: fewer timers, no million pending, no procrastinate.
        DUE, PENDING, ROUNDS = 4_000, (10_000, 100_000), 5

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    server = server_url()
    print(f"sipvakt timers benchmark, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")

    ceilings, singles, ratios = [], [], []
    for round_number in range(ROUNDS):
        if round_number % 2:
            single = await one_worker(server)
            ceiling = await raw_ceiling(server)
        else:
            ceiling = await raw_ceiling(server)
            single = await one_worker(server)
        ceilings.append(ceiling)
        singles.append(single)
        ratios.append(single / ceiling)
    ceiling, single, ratio = (
        statistics.median(ceilings),
        statistics.median(singles),
        statistics.median(ratios),
    )
    print(f"(a) raw ceiling, claim + bulk done      {ceiling:9.0f} timers/s   (baseline, median of {ROUNDS})")
    print(f"(b) one worker, no-op handler           {single:9.0f} timers/s   {ratio:6.0%} of (a)")
    print(f"    (b) ÷ (a) in each paired round: {spread(ratios)}")
    result("timers_one_worker_of_ceiling", ratio, ">=0.70", ratio >= 0.70)
    if quick:
        spikes = {pending: await spike_among_pending(server, pending) for pending in PENDING}
        growth = spikes[PENDING[-1]] / spikes[PENDING[0]]
        print(f"(d) {SPIKE} due among {PENDING[-1]:,} pending: {growth:.2f}x the cost at {PENDING[0]:,}")
        result("timers_spike_growth", growth, "<=1.3", growth <= 1.3)
        return
    several = await worker_processes(server)
    print(
        f"(c) {WORKERS} worker processes                  {several:9.0f} timers/s   "
        f"{several / ceiling:6.0%} of (a), {several / single:.2f}x (b)"
    )
    spikes = {pending: await spike_among_pending(server, pending) for pending in PENDING}
    base = spikes[PENDING[0]]
    for pending, seconds in spikes.items():
        print(
            f"(d) {SPIKE} due among {pending:>9,} pending  {seconds * 1e6 / SPIKE:9.0f} µs/timer   "
            f"{seconds / base:5.2f}x the cost at {PENDING[0]:,}"
        )
    stream = await steady_stream(server, single, PENDING[-1])
    print(
        f"(e) {stream.rate:.0f}/s falling due, {PENDING[-1]:,} pending: lateness"
        f" p50 {stream.p50 * 1000:.0f} ms, p99 {stream.p99 * 1000:.0f} ms,"
        f" worst {stream.worst * 1000:.0f} ms ({stream.fired} timers)"
    )
    growth = spikes[PENDING[-1]] / base
    result("timers_spike_growth", growth, "<=1.3", growth <= 1.3)
    result("timers_stream_p99_ms", stream.p99 * 1000, "<1000", stream.p99 < 1.0)
    procrastinate_alone = await procrastinate_run(server, 0)
    procrastinate_pending = await procrastinate_run(server, PENDING[1])
    rate_alone = PROCRASTINATE_DUE / procrastinate_alone
    rate_pending = PROCRASTINATE_DUE / procrastinate_pending
    print(
        f"(f) procrastinate, {PROCRASTINATE_DUE} due jobs          {rate_alone:9.0f} jobs/s     "
        f"sipvakt (b) is {single / rate_alone:.1f}x (concurrency {PROCRASTINATE_CONCURRENCY})"
    )
    print(
        f"(f) procrastinate, with {PENDING[1]:,} pending  {rate_pending:9.0f} jobs/s     "
        f"{procrastinate_pending / procrastinate_alone:.2f}x its cost without; sipvakt (d) at"
        f" {PENDING[1]:,}: {spikes[PENDING[1]] / base:.2f}x"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        asyncio.run(worker_process_main(sys.argv[2]))
    elif "--profile" in sys.argv[1:]:
        asyncio.run(profile_one_worker(server_url()))
    else:
        asyncio.run(main("--quick" in sys.argv[1:]))
