"""Benchmark of one test-clock move over a year of open cases: time passing against one jump, in one run.

    .venv/bin/python bench/testclock.py            # an embedded PostgreSQL in a temporary folder
    .venv/bin/python bench/testclock.py --cases 200 --profile 25
    SIPVAKT_DATABASE_URL=postgresql://… .venv/bin/python bench/testclock.py

A thousand cases are opened, given consent and sent to a meeting whose invitations nobody answers, so
that reminders, escalations, deviations, deadlines and daily digests fall due over the year. The database
is then copied twice. On one copy the clock jumps a year at once (every timer fires at the end, as after
downtime: the baseline); on the other `POST /v1/test-clock`'s own move passes the year, stopping at every
moment something falls due. Both run in this process with every worker of `sipvakt serve`, so the profile
of the move covers the service's own work; messages go to the outbox folder.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from calendars.stockholm import STOCKHOLM
from config.settings import Settings, load_settings
from scheduler.events import parse_event
from service import store
from service.database import Pool, create_pool, migrate, start_temporary_postgres, with_database
from service.secrets import new_webhook_secret
from service.server import running
from service.testclock import move_test_clock, pass_time, settle

START = datetime(2026, 11, 23, 9, 0, tzinfo=STOCKHOLM)
YEAR = timedelta(days=365)
REGIONS = ("blekinge", "halland", "jonkoping", "dalarna", "vastra_gotaland")
COORDINATORS = 20
SETTLE_SECONDS = 600.0
# Time passing does more work than the jump (the reminders the jump calls off, a digest every working day
# instead of one), so the goal is per unit of work (a timer fired, a message sent): each may cost at most
# this many times what it costs in the jump, which fires its timers in full batches.
GOAL_PER_WORK_RATIO = 3.0
# The stepping itself (finding the next moment, setting the clock, looking at the backlog) may take at
# most this share of the move.
GOAL_STEPPING_SHARE = 0.10


def server_url() -> str:
    configured = os.environ.get("SIPVAKT_DATABASE_URL")
    if configured:
        return configured
    return start_temporary_postgres("svc-")


# The cases.


def working_day(offset: int) -> date:
    """The `offset`-th day after the start, moved off weekends."""
    day = START.date() + timedelta(days=offset)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def case_events(number: int) -> list[dict[str, Any]]:
    """One case's events, pushed at the start: its meeting, consent's end and coordinator vary with
    `number`, so that due moments spread over the year as they would in a region's real caseload."""
    case_id = f"bench-{number:04d}"
    coordinator = {
        "name": "Kim Koordinator",
        "email": f"koordinator{number % COORDINATORS}@example.se",
        "organisation": "Testkommun socialtjänst",
    }
    meeting_day = working_day(25 + number % 70)
    starts = datetime.combine(meeting_day, datetime.min.time(), STOCKHOLM) + timedelta(hours=9 + number % 6)
    people = [
        ("p-guardian", "guardian", "email", "Åsa Öberg (test)"),
        ("p-school", "professional", "email", "Sam Skolsköterska"),
        ("p-social", "professional", "email", "Sara Socialsekreterare"),
        ("p-bup", "professional", "letter", "Bo Behandlare"),
    ]
    participants = [
        {
            "participant_id": pid,
            "name": name,
            "role": role,
            "channel": channel,
            **(
                {"email": f"{pid}.{number}@example.org"}
                if channel == "email"
                else {"postal_address": "Box 1\n111 11 Teststad"}
            ),
        }
        for pid, role, channel, name in people
    ]
    at = START.isoformat()
    return [
        {
            "type": "case.opened",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "region": REGIONS[number % len(REGIONS)],
                "person": {"reference": f"person-{number}"},
                "detected_at": (START.date() - timedelta(days=3)).isoformat(),
                "detected_by": "skola",
                "urgent": False,
                "coordinator": coordinator,
            },
        },
        {
            "type": "consent.given",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "given_by": "guardian",
                "valid_from": START.date().isoformat(),
                "valid_to": (START.date() + timedelta(days=60 + number % 300)).isoformat(),
            },
        },
        {
            "type": "meeting.scheduled",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "meeting_id": "m1",
                "kind": "initial",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "location": "Testskolan, rum 3",
                "organizer": coordinator,
                "participants": participants,
                "purpose": "Samordna insatser i skola och hem",
            },
        },
    ]


# The service, in this process.


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return load_settings(
        {
            "SIPVAKT_DATABASE_URL": database_url,
            "SIPVAKT_DATA_DIR": str(data_dir),
            "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret(),
            "SIPVAKT_TEST_CLOCK": START.isoformat(),
        }
    )


@asynccontextmanager
async def service(database_url: str) -> AsyncIterator[Pool]:
    """Every worker of `sipvakt serve` on the database, in this process; messages go to a folder."""
    with tempfile.TemporaryDirectory(prefix="svc-data-") as data_dir:
        async with running(settings_for(database_url, Path(data_dir))) as (runtime, _):
            yield runtime.pool


async def open_cases(database_url: str, count: int) -> None:
    """Store every case's events as the intake does, and let the service apply them."""
    async with service(database_url) as pool:
        integration = await pool.fetchval("select integration_id from integrations limit 1")
        async with pool.acquire() as connection, connection.transaction():
            for number in range(count):
                for seq, body in enumerate(case_events(number)):
                    await store.store_event(
                        connection,
                        integration_id=integration,
                        webhook_id=f"bench-{number}-{seq}",
                        body=json.dumps(body).encode(),
                        event=parse_event(body),
                        received_at=START,
                    )
        left = await settle(pool, START, SETTLE_SECONDS)
        assert left.empty, left


async def copy_database(admin: asyncpg.Connection[asyncpg.Record], source: str) -> str:
    """A copy of `source` (which nobody may be connected to), for one of the two moves."""
    name = "bench_" + secrets.token_hex(4)
    await admin.execute(f'create database "{name}" template "{source}"')
    return name


# The two moves.


@dataclass(frozen=True)
class Moved:
    seconds: float
    timers: int
    messages: int
    deviations: int
    moments: int

    @property
    def work(self) -> int:
        return self.timers + self.messages


async def counted(pool: Pool, seconds: float) -> Moved:
    row = await pool.fetchrow(
        "select (select count(*) from timers where state = 'done') as timers,"
        " (select count(*) from outbox where state = 'sent') as messages,"
        " (select count(*) from deviations) as deviations,"
        " (select count(distinct due_at) from timers where state = 'done') as moments"
    )
    assert row is not None
    return Moved(seconds, row["timers"], row["messages"], row["deviations"], row["moments"])


async def jump(database_url: str, profile: cProfile.Profile) -> Moved:
    """The baseline: the clock set a year on at once, and everything due fired at that moment."""
    async with service(database_url) as pool:
        started = time.perf_counter()
        profile.enable()
        await move_test_clock(pool, START + YEAR)
        left = await settle(pool, START + YEAR, SETTLE_SECONDS)
        profile.disable()
        seconds = time.perf_counter() - started
        assert left.empty, left
        return await counted(pool, seconds)


async def pass_a_year(database_url: str, profile: cProfile.Profile) -> Moved:
    """The move `POST /v1/test-clock` makes: through every moment on the way, each settled in turn."""
    async with service(database_url) as pool:
        started = time.perf_counter()
        profile.enable()
        await pass_time(pool, START + YEAR, SETTLE_SECONDS)
        profile.disable()
        return await counted(pool, time.perf_counter() - started)


STEPPING = ("next_due", "move_test_clock", "backlog")


def stepping_seconds(profile: cProfile.Profile) -> float:
    """Time spent finding, setting and checking moments: the stepping itself, not the work done at them
    (the pauses between looks at the backlog are waiting, and not counted)."""
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return sum(
        entry[3]
        for (filename, _, function), entry in stats.items()
        if filename.endswith("service/testclock.py") and function in STEPPING
    )


def profile_summary(profile: cProfile.Profile, lines: int) -> str:
    """The functions that take the most time themselves, then sipvakt's own by time including callees."""
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(r"/(service|scheduler|notifiers|calendars)/", lines)
    return text.getvalue()


async def main(cases: int, profile_lines: int) -> None:
    print(f"sipvakt test-clock benchmark, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"{cases} open cases, one move of a year\n")
    server = server_url()
    source = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{source}"')
    pool = await create_pool(with_database(server, source), max_size=2)
    await migrate(pool)
    await pool.close()
    databases = [source]
    try:
        started = time.perf_counter()
        await open_cases(with_database(server, source), cases)
        print(f"opened {cases} cases in {time.perf_counter() - started:.1f} s")
        jumped_db = await copy_database(admin, source)
        passed_db = await copy_database(admin, source)
        databases += [jumped_db, passed_db]
        # Both moves run under the profiler, so that its cost weighs on each alike.
        jumped = await jump(with_database(server, jumped_db), cProfile.Profile())
        profile = cProfile.Profile()
        passed = await pass_a_year(with_database(server, passed_db), profile)
    finally:
        for name in databases:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()

    print()
    print(f"{'':24} {'seconds':>9} {'timers':>8} {'messages':>9} {'deviations':>11} {'moments':>8}")
    for label, moved in (("one jump (baseline)", jumped), ("time passing", passed)):
        print(
            f"{label:24} {moved.seconds:9.1f} {moved.timers:8} {moved.messages:9}"
            f" {moved.deviations:11} {moved.moments:8}"
        )
    ratio = passed.seconds / jumped.seconds
    per_work = (passed.seconds / passed.work) / (jumped.seconds / jumped.work)
    stepping = stepping_seconds(profile) / passed.seconds
    print(f"\ntime passing takes {ratio:.2f} × the jump; per timer fired and message sent, {per_work:.2f} ×;")
    per_moment = passed.seconds / max(passed.moments, 1) * 1000
    print(f"{per_moment:.1f} ms per moment on the way, {stepping:.1%} of it stepping")
    if profile_lines:
        print("\nwhere the move's time goes (this process; PostgreSQL's own work shows as waiting):\n")
        print(profile_summary(profile, profile_lines))
    result("testclock_year_per_work_ratio", per_work, GOAL_PER_WORK_RATIO)
    result("testclock_stepping_share", stepping, GOAL_STEPPING_SHARE)


def result(name: str, value: float, goal: float) -> None:
    """One RESULT line: lower is better for every number here."""
    print(f"RESULT {name} {value:.2f} goal {goal:g} {'PASS' if value <= goal else 'FAIL'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--profile", type=int, default=20, help="profile lines to print (0: none)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.profile))
