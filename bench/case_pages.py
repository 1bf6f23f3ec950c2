"""Benchmark of the web app's case lists (Att göra, Avvikelser) with thousands of cases in scope.

    .venv/bin/python bench/case_pages.py            # an embedded PostgreSQL in a temporary folder
    SIPVAKT_DATABASE_URL=postgresql://… .venv/bin/python bench/case_pages.py

The baseline, measured in the same run on the same cases, is what the list would cost without the
columns of migration 0015: reading every case document in scope and ranking in Python. Each size gets a
database of its own, and every case in it is in the coordinator's scope; every figure is the median of
several rounds. The goal is the web app's: each page under 200 ms with 10,000 cases in scope.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import asyncpg
from common import result

from scheduler.case import (
    Case,
    ContactInfo,
    Deadline,
    Invitation,
    Meeting,
    ParticipantInfo,
    PersonInfo,
    Warning,
)
from service.access import Principal
from service.storage.database import (
    DatabaseTimeouts,
    Pool,
    create_pool,
    migrate,
    start_temporary_postgres,
    with_database,
)
from service.storage.where import Where
from service.web.todo import todo_list

SIZES = (1_000, 10_000)
GOAL_MS = 200
ROUNDS = 5
TODAY = date(2026, 11, 23)
REGIONS = ("halland", "blekinge")
COORDINATOR = Principal("bench", "coordinator", frozenset(REGIONS), frozenset({"*"}))
NO_FILTERS: dict[str, str | None] = {"region": None, "organisation": None, "kind": None}


def server_url() -> str:
    return os.environ.get("SIPVAKT_DATABASE_URL") or start_temporary_postgres("svc-")


@asynccontextmanager
async def fresh_database(server: str) -> AsyncIterator[Pool]:
    name = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    pool = await create_pool(
        with_database(server, name), max_size=4, timeouts=DatabaseTimeouts(command=300.0)
    )
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


def sample_case(number: int) -> Case:
    """A case with a meeting whose invitation waits for an answer, deadlines spread around today, and now
    and then a warning. Fictitious people and example addresses only."""
    region = REGIONS[number % 2]
    coordinator = ContactInfo(
        name="Samordnare Exempel", email="samordnare@example.org", organisation=f"Exempelkommun {number % 40}"
    )
    opened_at = datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(minutes=number)
    starts_at = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=number % 200)
    meeting = Meeting(
        meeting_id="m1",
        kind="initial",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        location="Exempelskolan",
        organizer=coordinator,
        purpose="Samordna insatser",
        scheduled_at=opened_at,
        participants={
            "p1": ParticipantInfo(
                participant_id="p1",
                name="Deltagare Exempel",
                email="deltagare@example.org",
                role="professional",
                channel="email",
            )
        },
        invitations={
            "p1": Invitation(
                participant_id="p1", channel="email", status="sent" if number % 3 else "accepted"
            )
        },
    )
    offset = number % 60 - 20
    return Case(
        case_id=f"bench-{number:06d}",
        integration_id="default",
        region=region,
        urgent=False,
        person=PersonInfo(reference=f"exempel-{number}"),
        detected_at=TODAY - timedelta(days=number % 90),
        detected_by="skola",
        coordinator=coordinator,
        opened_at=opened_at,
        meetings={"m1": meeting},
        deadlines=[
            Deadline(
                kind="meeting_due", due=TODAY + timedelta(days=offset), status="pending", rule="halland.x"
            ),
            Deadline(kind="turns_18", due=TODAY + timedelta(days=2000), status="pending", rule="default.y"),
        ],
        warnings=[Warning(kind="notice_too_short", message="Kallelsetiden är för kort.")]
        if number % 7 == 0
        else [],
    )


async def add_cases(pool: Pool, count: int) -> None:
    rows = []
    for number in range(count):
        case = sample_case(number)
        rows.append(
            (
                case.case_id,
                "default",
                case.region,
                sorted(case.organisations()),
                case.status,
                case.model_dump(mode="json"),
                1,
                case.opened_at,
                case.opened_at,
            )
        )
    async with pool.acquire() as connection:
        await connection.execute(
            "insert into integrations (integration_id, name, created_at) values ('default', 'default', now())"
            " on conflict do nothing"
        )
        # In chunks: the pool's statement timeout is made for requests, not for bulk loads.
        for start in range(0, len(rows), 500):
            await connection.executemany(
                "insert into cases (case_id, integration_id, region, organisations, status, state, version,"
                " opened_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                rows[start : start + 500],
            )
        # A deviation in every third case, half of them acknowledged.
        await connection.execute(
            "insert into deviations (deviation_id, case_id, integration_id, region, organisations, kind,"
            " detected_at, rule, acknowledged_at)"
            " select 'dev_' || md5(case_id), case_id, integration_id, region, organisations, 'late',"
            " opened_at, 'default.escalation', case when random() < 0.5 then now() end"
            " from cases where right(case_id, 6)::int % 3 = 0"
        )
        await connection.execute("analyze")


async def median(work: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def documents_baseline(pool: Pool) -> None:
    """Every case document in scope read and ranked in Python: what the columns save."""
    where = Where()
    where.scope(COORDINATOR)
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"select c.state from cases c where c.status = 'open' and {where.sql()}", *where.args
        )
    cases = [Case.model_validate(row["state"]) for row in rows]
    ranked = sorted(
        (min((d.due for d in case.deadlines if d.status != "met"), default=date.max), case.case_id)
        for case in cases
    )
    assert len(ranked) == len(cases)


async def deviations_page(pool: Pool) -> None:
    where = Where()
    where.scope(COORDINATOR)
    where.add("d.acknowledged_at is null")
    async with pool.acquire() as connection:
        await connection.fetch(
            "select d.deviation_id from deviations d join cases c using (case_id)"
            f" where {where.sql()} order by d.detected_at desc, d.deviation_id desc limit 51",
            *where.args,
        )


async def main() -> None:
    server = server_url()
    columns = ("cases", "documents (ms)", "Att göra p.1", "p.last", "Avvikelser", "ratio")
    print(" ".join(f"{name:>{width}}" for name, width in zip(columns, (8, 15, 13, 8, 11, 6), strict=True)))
    for size in SIZES:
        async with fresh_database(server) as pool:
            await add_cases(pool, size)
            await measure(pool, size)


async def measure(pool: Pool, size: int) -> None:
    """One line of the table: the baseline and each list, with the baseline's ratio to Att göra."""
    last_page = max(1, size // 2 // 50)

    async def todo_page(page: int) -> None:
        async with pool.acquire() as connection:
            await todo_list(connection, COORDINATOR, TODAY, NO_FILTERS, page)

    baseline = await median(lambda: documents_baseline(pool))
    first = await median(lambda: todo_page(1))
    last = await median(lambda: todo_page(last_page))
    listing = await median(lambda: deviations_page(pool))
    print(
        f"{size:>8} {baseline * 1000:>15.1f} {first * 1000:>13.1f} {last * 1000:>8.1f}"
        f" {listing * 1000:>11.1f} {baseline / first:>6.1f}"
    )
    if size == max(SIZES):
        slowest = max(first, last, listing) * 1000
        result(f"case_lists_slowest_ms_{size}", slowest, str(GOAL_MS), slowest < GOAL_MS)


if __name__ == "__main__":
    asyncio.run(main())
