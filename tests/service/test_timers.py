"""Durable timers on a real PostgreSQL: fired once across workers and processes, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from scheduler.clock import FixedClock
from scheduler.effects import CancelTimers, SetTimer
from scheduler.planning import DeadlinePlanner
from scheduler.timers import DueTimer
from service.metrics import Metrics
from service.storage import store
from service.storage.database import Pool, create_pool
from service.storage.store import Connection
from service.workers.periodic import PeriodicJobs
from service.workers.timer_handlers import case_timer_handlers
from service.workers.timers import RetryPolicy, TimerHandler, TimerWorker, reap_expired_leases
from tests import samples
from tests.scheduler.builders import make_case
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.processes import ServiceProcess

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PLANNER = DeadlinePlanner(load_rulebook(Path(__file__).resolve().parents[2] / "config"), WorkingCalendar())


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url)
    await pool.execute(
        "insert into integrations (integration_id, name, created_at) values ('test', 'test', $1)", NOW
    )
    # What the probe handler below writes: one row per firing, in the order they happened.
    await pool.execute(
        "create table firings (seq serial primary key, timer_id bigint not null, key text not null)"
    )
    yield pool
    await pool.close()


async def probe(connection: Connection, timer: DueTimer, now: datetime) -> None:
    await connection.execute("insert into firings (timer_id, key) values ($1, $2)", timer.timer_id, timer.key)


async def broken(connection: Connection, timer: DueTimer, now: datetime) -> None:
    raise RuntimeError("the handler broke")


def worker(pool: Pool, clock: FixedClock, **options: Any) -> TimerWorker:
    handlers: dict[str, TimerHandler] = {**case_timer_handlers(PLANNER), "probe": probe, "broken": broken}
    return TimerWorker(pool, clock, handlers, Metrics(), **options)


async def add_case(pool: Pool, case_id: str = "test-0001", region: str = "blekinge") -> None:
    case = make_case(region, date(2026, 11, 20)).model_copy(update={"case_id": case_id})
    async with pool.acquire() as connection:
        await store.save_case(connection, case, NOW)


async def add_timer(
    pool: Pool, key: str, due_at: datetime, kind: str = "probe", case_id: str = "test-0001"
) -> int:
    timer_id: int = await pool.fetchval(
        "insert into timers (case_id, key, kind, due_at, created_at, updated_at)"
        " values ($1, $2, $3, $4, $5, $5) returning timer_id",
        case_id,
        key,
        kind,
        due_at,
        NOW,
    )
    return timer_id


async def timer_row(pool: Pool, timer_id: int) -> asyncpg.Record:
    row = await pool.fetchrow("select * from timers where timer_id = $1", timer_id)
    assert row is not None
    return row


async def fired_keys(pool: Pool) -> list[str]:
    return [row["key"] for row in await pool.fetch("select key from firings order by seq")]


def connection_warnings() -> list[str]:
    """What asyncpg reports to the event loop from here on, such as a connection handed back to the pool
    in the middle of a transaction (which it then rolls back itself)."""
    reported: list[str] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context["message"]))
    return reported


async def in_case_transaction(pool: Pool, case_id: str, *effects: SetTimer | CancelTimers) -> None:
    """Carry out effects as the event processor does: in a transaction holding the case's lock."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("select pg_advisory_xact_lock(hashtextextended('case:' || $1, 0))", case_id)
        case = await store.load_case(connection, case_id, for_update=True)
        assert case is not None
        await store.carry_out(connection, case, list(effects), NOW)


async def test_overdue_timers_fire_once_oldest_first(pool: Pool) -> None:
    await add_case(pool)
    due_times = [NOW - timedelta(hours=hours) for hours in (3, 50, 1, 7, 26, 2, 12)]
    for number, due_at in enumerate(due_times):
        await add_timer(pool, f"probe:{number}", due_at)
    await add_timer(pool, "probe:later", NOW + timedelta(seconds=1))
    # Small batches, so that the order across claims shows as well as the order within one.
    assert await worker(pool, FixedClock(NOW), batch_size=3).drain() == 7
    assert await worker(pool, FixedClock(NOW)).drain() == 0
    expected = sorted(range(len(due_times)), key=lambda number: due_times[number])
    assert await fired_keys(pool) == [f"probe:{number}" for number in expected]


class ClockMovingOnRead(FixedClock):
    """Reads its moment, then moves on by `step`: business time passing between readings."""

    def __init__(self, moment: datetime, step: timedelta) -> None:
        super().__init__(moment)
        self.step = step
        self.readings: list[datetime] = []

    async def now(self) -> datetime:
        moment = self.moment
        self.readings.append(moment)
        self.moment += self.step
        return moment


async def test_a_drain_fires_what_falls_due_while_it_runs_and_handlers_see_a_reading_of_the_clock(
    pool: Pool,
) -> None:
    await add_case(pool)
    for number in range(5):
        await add_timer(pool, f"probe:{number}", NOW - timedelta(minutes=number))
    await add_timer(pool, "probe:soon", NOW + timedelta(minutes=30))
    seen: list[datetime] = []

    async def watched(connection: Connection, timer: DueTimer, now: datetime) -> None:
        seen.append(now)
        await probe(connection, timer, now)

    clock = ClockMovingOnRead(NOW, timedelta(hours=1))
    drained = TimerWorker(pool, clock, {"probe": watched}, Metrics(), batch_size=2)
    # Several batches under the first reading; the one due half an hour on fires under a later one, and the
    # drain ends only when a reading finds nothing due.
    assert await drained.drain() == 6
    assert (await fired_keys(pool))[-1] == "probe:soon"
    assert set(seen) <= set(clock.readings)
    assert seen[0] == NOW and seen[-1] > NOW


async def test_timers_left_running_by_a_dead_process_fire_once_when_the_service_comes_back(
    pool: Pool,
) -> None:
    await add_case(pool)
    left = await add_timer(pool, "probe:left-running", NOW - timedelta(hours=2))
    await add_timer(pool, "probe:overdue", NOW - timedelta(hours=1))
    dead_process = worker(pool, FixedClock(NOW), owner="gone:1:abc", lease=timedelta(seconds=-1))
    assert [timer.timer_id for timer in await dead_process.claim()] == [left, left + 1]
    restarted = worker(pool, FixedClock(NOW))
    jobs = PeriodicJobs(pool, FixedClock(NOW), restarted)
    await jobs.start()  # hands back expired leases at once
    try:
        assert await restarted.drain() == 2
    finally:
        jobs.stop()
    assert await fired_keys(pool) == ["probe:left-running", "probe:overdue"]
    assert (await timer_row(pool, left))["attempts"] == 2


async def test_a_claim_of_an_earlier_attempt_fires_nothing_even_under_the_same_owner(pool: Pool) -> None:
    """The lease's owner is not enough: a batch is fired only for the attempt each of its timers was
    claimed at, judged timer by timer within the batch."""
    await add_case(pool)
    for number in range(3):
        await add_timer(pool, f"probe:{number}", NOW - timedelta(minutes=3 - number))
    # Retried before, each a different number of times: each row's attempt is checked against its own.
    await pool.execute("update timers set attempts = 4 where key = 'probe:0'")
    await pool.execute("update timers set attempts = 2 where key = 'probe:2'")
    same = worker(pool, FixedClock(NOW), owner="same")
    claimed = await same.claim()
    assert [timer.attempts for timer in claimed] == [5, 1, 3]
    # The middle one lost its lease and was claimed again by this owner meanwhile: attempt 2 is running.
    await pool.execute("update timers set attempts = 2 where key = 'probe:1'")
    assert await same.fire(claimed) == 2
    assert await fired_keys(pool) == ["probe:0", "probe:2"]
    rows = await pool.fetch("select key, state from timers order by key")
    assert [(row["key"], row["state"]) for row in rows] == [
        ("probe:0", "done"),
        ("probe:1", "running"),
        ("probe:2", "done"),
    ]


async def test_a_lost_lease_goes_to_another_worker_and_the_first_cannot_fire_it(pool: Pool) -> None:
    await add_case(pool)
    timer_id = await add_timer(pool, "probe:1", NOW)
    slow = worker(pool, FixedClock(NOW), owner="slow", lease=timedelta(seconds=-1))
    claimed = await slow.claim()
    async with pool.acquire() as connection:
        assert await reap_expired_leases(connection, max_attempts=8) == 1
    other = worker(pool, FixedClock(NOW), owner="other")
    taken = await other.claim()
    assert [timer.attempts for timer in taken] == [2]
    assert await slow.fire(claimed) == 0  # too late: the lease is someone else's now
    assert await other.fire(taken) == 1
    assert await fired_keys(pool) == ["probe:1"]
    row = await timer_row(pool, timer_id)
    assert (row["state"], row["lease_owner"]) == ("done", None)


async def test_two_workers_claiming_at_once_share_the_timers_without_overlap(pool: Pool) -> None:
    await add_case(pool)
    for number in range(40):
        await add_timer(pool, f"probe:{number}", NOW - timedelta(minutes=number))
    workers = [worker(pool, FixedClock(NOW), batch_size=4, owner=f"w{n}") for n in range(3)]
    await asyncio.gather(*(w.drain() for w in workers))
    keys = await fired_keys(pool)
    assert sorted(keys) == sorted(f"probe:{number}" for number in range(40))
    assert await pool.fetchval("select count(*) from timers where state <> 'done' or attempts <> 1") == 0


async def test_a_cancel_after_the_claim_wins_and_the_handler_never_runs(pool: Pool) -> None:
    await add_case(pool)
    timer_id = await add_timer(pool, "meeting:m1:rsvp:p1", NOW)
    claimer = worker(pool, FixedClock(NOW))
    claimed = await claimer.claim()
    await in_case_transaction(pool, "test-0001", CancelTimers(prefix="meeting:m1:"))
    assert await claimer.fire(claimed) == 0
    assert await fired_keys(pool) == []
    assert (await timer_row(pool, timer_id))["state"] == "cancelled"


async def test_a_handler_cancelling_a_timer_claimed_with_its_batch_wins(pool: Pool) -> None:
    """The next batch is claimed in the transaction of the batch before it, before that batch's handlers
    run: a handler cancelling one of its case's timers then finds it claimed, and the cancel still wins."""
    await add_case(pool)

    async def cancelling(connection: Connection, timer: DueTimer, now: datetime) -> None:
        await probe(connection, timer, now)
        case = await store.load_case(connection, timer.case_id, for_update=True)
        assert case is not None
        await store.carry_out(connection, case, [CancelTimers(prefix="meeting:m1:")], now)

    await add_timer(pool, "cancel:first", NOW - timedelta(minutes=2), kind="cancelling")
    later = await add_timer(pool, "meeting:m1:rsvp:p1", NOW - timedelta(minutes=1))
    handlers: dict[str, TimerHandler] = {"cancelling": cancelling, "probe": probe}
    assert await TimerWorker(pool, FixedClock(NOW), handlers, Metrics(), batch_size=1).drain() == 2
    assert await fired_keys(pool) == ["cancel:first"]
    assert (await timer_row(pool, later))["state"] == "cancelled"


async def test_a_failing_batch_gives_back_the_batch_claimed_with_it(pool: Pool) -> None:
    await add_case(pool)
    for number in range(4):
        kind = "broken" if number == 1 else "probe"
        await add_timer(pool, f"{kind}:{number}", NOW - timedelta(minutes=10 - number), kind=kind)
    failing = worker(pool, FixedClock(NOW), batch_size=2, spread=lambda: 0.5)
    warnings = connection_warnings()
    # The first batch (0 and 1) fails together and falls back to one by one; the batch claimed in its
    # transaction (2 and 3) was rolled back with it and is scheduled as if never claimed.
    assert await failing.run_once() == 2
    assert await fired_keys(pool) == ["probe:0"]
    rows = await pool.fetch("select state, attempts from timers where key in ('probe:2', 'probe:3')")
    assert [(row["state"], row["attempts"]) for row in rows] == [("scheduled", 0)] * 2
    assert await failing.drain() == 2
    assert await fired_keys(pool) == ["probe:0", "probe:2", "probe:3"]
    assert warnings == []


async def test_a_batch_whose_commit_fails_is_fired_again_one_by_one(pool: Pool) -> None:
    """Batches are committed with the next one's BEGIN sent along: a COMMIT that fails (a deferred
    constraint, checked only then) must undo the batch and the next claim with it, and leave the
    connection out of any transaction, as a failing handler does."""
    await add_case(pool)
    await pool.execute("create table once (k int unique deferrable initially deferred)")

    async def clashing(connection: Connection, timer: DueTimer, now: datetime) -> None:
        await probe(connection, timer, now)
        await connection.execute("insert into once (k) values (1)")

    for number in range(4):
        await add_timer(pool, f"clash:{number}", NOW - timedelta(minutes=10 - number), kind="clashing")
    warnings = connection_warnings()
    handlers: dict[str, TimerHandler] = {"clashing": clashing}
    failing = TimerWorker(pool, FixedClock(NOW), handlers, Metrics(), batch_size=2, spread=lambda: 0.5)
    # Both of the first batch insert k = 1, so its COMMIT fails; one by one, the first commits and the
    # second fails alone and waits for its retry. The batch claimed with the first is scheduled again.
    assert await failing.run_once() == 2
    assert await fired_keys(pool) == ["clash:0"]
    rows = await pool.fetch("select key, state, attempts from timers order by key")
    assert [(row["key"], row["state"], row["attempts"]) for row in rows] == [
        ("clash:0", "done", 1),
        ("clash:1", "scheduled", 1),
        ("clash:2", "scheduled", 0),
        ("clash:3", "scheduled", 0),
    ]
    assert "UniqueViolationError" in (
        await pool.fetchval("select last_error from timers where key = 'clash:1'")
    )
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()
    assert warnings == []


async def test_a_cancel_after_the_firing_changes_nothing(pool: Pool) -> None:
    await add_case(pool)
    timer_id = await add_timer(pool, "meeting:m1:rsvp:p1", NOW)
    assert await worker(pool, FixedClock(NOW)).drain() == 1
    await in_case_transaction(pool, "test-0001", CancelTimers(prefix="meeting:m1:"))
    assert (await timer_row(pool, timer_id))["state"] == "done"
    assert await fired_keys(pool) == ["meeting:m1:rsvp:p1"]


async def test_cancels_in_a_row_cancel_each_prefix_and_a_timer_set_after_them_stays(pool: Pool) -> None:
    await add_case(pool)
    for key in ("reminder:rsvp:m1:p1", "deadline:notice:m1", "escalation:m1", "probe:kept"):
        await add_timer(pool, key, NOW + timedelta(days=1))
    later = NOW + timedelta(days=2)
    await in_case_transaction(
        pool,
        "test-0001",
        CancelTimers(prefix="escalation:"),
        CancelTimers(prefix="reminder:"),
        CancelTimers(prefix="deadline:"),
        SetTimer(key="deadline:notice:m1", kind="probe", due_at=later),
    )
    rows = await pool.fetch("select key, state, due_at from timers order by key")
    assert [(row["key"], row["state"]) for row in rows] == [
        ("deadline:notice:m1", "scheduled"),
        ("escalation:m1", "cancelled"),
        ("probe:kept", "scheduled"),
        ("reminder:rsvp:m1:p1", "cancelled"),
    ]
    assert rows[0]["due_at"] == later


async def test_a_timer_moved_after_its_claim_fires_once_at_its_new_time(pool: Pool) -> None:
    await add_case(pool)
    timer_id = await add_timer(pool, "probe:moved", NOW)
    clock = FixedClock(NOW)
    claimer = worker(pool, clock)
    claimed = await claimer.claim()
    later = NOW + timedelta(days=1)
    await in_case_transaction(pool, "test-0001", SetTimer(key="probe:moved", kind="probe", due_at=later))
    assert await claimer.fire(claimed) == 0
    row = await timer_row(pool, timer_id)
    assert (row["state"], row["due_at"], row["lease_owner"]) == ("scheduled", later, None)
    clock.moment = later
    assert await claimer.drain() == 1
    assert await fired_keys(pool) == ["probe:moved"]


async def test_a_failing_handler_backs_off_then_parks_the_timer_as_dead(pool: Pool) -> None:
    await add_case(pool)
    good = await add_timer(pool, "probe:good", NOW - timedelta(minutes=1))
    bad = await add_timer(pool, "broken:1", NOW, kind="broken")
    clock = FixedClock(NOW)
    metrics = Metrics()
    retry = RetryPolicy(first_delay=timedelta(seconds=10), max_attempts=3)
    handlers: dict[str, TimerHandler] = {"probe": probe, "broken": broken}
    failing = TimerWorker(pool, clock, handlers, metrics, retry=retry, spread=lambda: 0.5)

    assert await failing.drain() == 2
    assert await fired_keys(pool) == ["probe:good"]  # the batch fell back to one by one
    row = await timer_row(pool, bad)
    assert (row["state"], row["attempts"], row["due_at"]) == ("scheduled", 1, NOW + timedelta(seconds=10))
    assert row["last_error"] == "RuntimeError: the handler broke"
    assert await failing.drain() == 0  # not before its back-off is over

    clock.moment = NOW + timedelta(seconds=10)
    await failing.drain()
    assert (await timer_row(pool, bad))["due_at"] == clock.moment + timedelta(seconds=20)
    clock.moment += timedelta(seconds=20)
    await failing.drain()
    row = await timer_row(pool, bad)
    assert (row["state"], row["attempts"]) == ("dead", 3)
    assert (await timer_row(pool, good))["state"] == "done"
    exposition = (await metrics.render(pool)).decode()
    assert 'sipvakt_timers{state="dead"} 1.0' in exposition
    assert 'sipvakt_timer_failures_total{kind="broken",outcome="retry"} 2.0' in exposition
    assert 'sipvakt_timer_failures_total{kind="broken",outcome="dead"} 1.0' in exposition


def test_back_off_doubles_up_to_its_limit_and_scatters() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=10), longest_delay=timedelta(minutes=1))
    assert [policy.delay(attempts, 0.5) for attempts in (1, 2, 3, 4, 5)] == [
        timedelta(seconds=s) for s in (10, 20, 40, 60, 60)
    ]
    assert (policy.delay(2, 0.0), policy.delay(2, 0.999)) == (timedelta(seconds=10), timedelta(seconds=29.98))


# Through the whole service, under the test clock.


async def push_all(service: Service, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = await service.push(body)
        assert response.status == 202, await response.text()


async def move_clock(service: Service, to: str) -> None:
    response = await service.client.post("/v1/test-clock", json={"now": to})
    assert response.status == 200, await response.text()


def followed_up(case_id: str, region: str) -> list[dict[str, Any]]:
    """A case whose first meeting is held with every invitation accepted and a follow-up due 2027-03-15."""
    scheduled = samples.meeting_scheduled(case_id)
    participants = [p["participant_id"] for p in scheduled["data"]["participants"]]
    return [
        samples.case_opened(case_id, region),
        samples.consent_given(case_id),
        scheduled,
        *(samples.responded(pid, "accepted", case_id) for pid in participants),
    ]


def held(case_id: str) -> dict[str, Any]:
    return samples.event(
        "meeting.held",
        case_id,
        occurred_at="2026-12-17T15:00:00+01:00",
        meeting_id="m1",
        absent=[],
        responsible={"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"},
        followup_on="2027-03-15",
        actions=[],
    )


async def test_a_missed_must_deadline_is_one_late_deviation_and_a_should_deadline_none(
    database_url: str, tmp_path: Path
) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        await push_all(service, *followed_up("blek-1", "blekinge"), *followed_up("hall-1", "halland"))
        await move_clock(service, "2026-12-17T16:00:00+01:00")
        await push_all(service, held("blek-1"), held("hall-1"))
        await move_clock(service, "2027-03-15T23:59:00+01:00")
        before = await (await service.case("blek-1")).json()
        assert [d["status"] for d in before["deadlines"] if d["kind"] == "followup_due"] == ["pending"]

        await move_clock(service, "2027-03-16T00:00:00+01:00")  # the follow-up day is over
        await move_clock(service, "2027-03-17T09:00:00+01:00")  # and nothing more happens later
        for case_id, rule, late in (
            ("blek-1", "blekinge.followup_date", 1),
            ("hall-1", "default.followup_date", 0),
        ):
            case = await (await service.case(case_id)).json()
            assert [d["status"] for d in case["deadlines"] if d["kind"] == "followup_due"] == ["missed"]
            recorded = await service.runtime.pool.fetch(
                "select deviation_id from deviations where case_id = $1 and kind = 'late' and rule = $2",
                case_id,
                rule,
            )
            assert len(recorded) == late
            in_case = [d["deviation_id"] for d in case["deviations"] if d["kind"] == "late"]
            assert {row["deviation_id"] for row in recorded} <= set(in_case)
            assert len(in_case) == len(set(in_case))


async def test_a_timer_at_half_past_two_on_the_night_the_hour_repeats_fires_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, SIPVAKT_TEST_CLOCK="2026-10-24T12:00:00+02:00")
    async with started(settings) as service:
        opened = samples.case_opened("blek-dst", detected_at="2026-10-20")
        opened["occurred_at"] = "2026-10-24T12:00:00+02:00"
        await push_all(service, opened)
        await move_clock(service, "2026-10-24T12:00:01+02:00")
        pool = service.runtime.pool
        # 02:30 happens twice: first in summer time (00:30 UTC), an hour later in winter time (01:30 UTC).
        first = await add_timer(
            pool, "dst:first", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "deadline", "blek-dst"
        )
        second = await add_timer(
            pool, "dst:second", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "deadline", "blek-dst"
        )
        start = await pool.fetchval("select version from cases where case_id = 'blek-dst'")

        async def firings() -> tuple[int, list[tuple[str, int]]]:
            rows = await pool.fetch(
                "select state, attempts from timers where timer_id = any($1) order by timer_id",
                [first, second],
            )
            version = await pool.fetchval("select version from cases where case_id = 'blek-dst'")
            return version - start, [(row["state"], row["attempts"]) for row in rows]

        steps = [
            ("2026-10-25T02:15:00+02:00", (0, [("scheduled", 0), ("scheduled", 0)])),
            ("2026-10-25T02:45:00+02:00", (1, [("done", 1), ("scheduled", 0)])),
            ("2026-10-25T02:15:00+01:00", (1, [("done", 1), ("scheduled", 0)])),  # wall clock 02:30 again
            ("2026-10-25T02:45:00+01:00", (2, [("done", 1), ("done", 1)])),
            ("2026-10-25T09:00:00+01:00", (2, [("done", 1), ("done", 1)])),
        ]
        for moment, expected in steps:
            await move_clock(service, moment)
            assert await firings() == expected, moment


async def test_a_parked_timer_shows_in_the_case_and_in_the_metrics(database_url: str, tmp_path: Path) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        await push_all(service, samples.case_opened("blek-9"))
        await move_clock(service, "2026-11-23T09:30:00+01:00")
        await add_timer(service.runtime.pool, "escalate:x", NOW, kind="no-such-kind", case_id="blek-9")
        await move_clock(service, "2026-11-23T09:31:00+01:00")
        row = await service.runtime.pool.fetchrow(
            "select state, last_error from timers where key = 'escalate:x'"
        )
        assert row is not None
        assert dict(row) == {"state": "dead", "last_error": "no handler for timer kind 'no-such-kind'"}
        case = await (await service.case("blek-9")).json()
        assert [w["kind"] for w in case["warnings"] if w["kind"] == "timer_stopped"] == ["timer_stopped"]
        metrics = await (
            await service.client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        ).text()
        assert 'sipvakt_timers{state="dead"} 1.0' in metrics
        assert 'sipvakt_timer_failures_total{kind="no-such-kind",outcome="dead"} 1.0' in metrics


# Real processes.

CASES = 240


@pytest.mark.slow
async def test_three_processes_fire_every_timer_once_when_one_is_killed_mid_run(
    database_url: str, tmp_path: Path
) -> None:
    environment = {
        "SIPVAKT_DATABASE_URL": database_url,
        "SIPVAKT_DATA_DIR": str(tmp_path),
        "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
    }
    services = [ServiceProcess(environment) for _ in range(3)]
    await asyncio.gather(*(service.start() for service in services))
    observer = await asyncpg.connect(database_url)
    pool = await create_pool(database_url)
    try:
        await pool.execute(
            "insert into integrations (integration_id, name, created_at) values ('test', 'test', $1)", NOW
        )
        case_ids = [f"kill-{number:03}" for number in range(CASES)]
        for case_id in case_ids:
            await add_case(pool, case_id)
        # Every case held, as a slow transaction would: the workers claim, then wait at the case lock.
        await observer.execute(
            "select pg_advisory_lock(hashtextextended('case:' || c, 0)) from unnest($1::text[]) as c",
            case_ids,
        )
        await pool.executemany(
            "insert into timers (case_id, key, kind, due_at, created_at, updated_at)"
            " values ($1, 'probe:kill', 'deadline', $2, $2, $2)",
            [(case_id, NOW - timedelta(minutes=1)) for case_id in case_ids],
        )
        victim = services[0]
        assert victim.process is not None
        marker = f":{victim.process.pid}:"
        for _ in range(300):
            held_by_victim = await observer.fetchval(
                "select count(*) from timers where state = 'running' and position($1 in lease_owner) > 0",
                marker,
            )
            if held_by_victim:
                break
            await asyncio.sleep(0.05)
        assert held_by_victim
        victim.kill()
        # Its leases would run out in their own time; let them run out now rather than wait for it.
        await observer.execute(
            "update timers set lease_until = clock_timestamp() where position($1 in lease_owner) > 0", marker
        )
        await observer.execute("select pg_advisory_unlock_all()")
        for _ in range(600):
            if (
                await observer.fetchval(
                    "select count(*) from timers where key = 'probe:kill' and state <> 'done'"
                )
                == 0
            ):
                break
            await asyncio.sleep(0.05)
        states = await observer.fetch(
            "select state, count(*) as n from timers where key = 'probe:kill' group by state"
        )
        assert {row["state"]: row["n"] for row in states} == {"done": CASES}
        versions = await observer.fetch("select version, count(*) as n from cases group by version")
        assert {row["version"]: row["n"] for row in versions} == {2: CASES}  # saved once, fired once
        retried = await observer.fetchval(
            "select count(*) from timers where key = 'probe:kill' and attempts = 2"
        )
        assert retried >= held_by_victim
    finally:
        await pool.close()
        await observer.close()
        for service in services[1:]:
            assert service.stop() == 0
