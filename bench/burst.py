"""The morning burst: 5,000 reminders due at 08:00 Stockholm time on one working day, and how long until
the last one has been handed to SMTP.

The cases (5,000; --quick: 500) are opened and given consent on the Monday afternoon before, with consent
ending so that each case's consent-expiry reminder to its coordinator falls due at the opening of the
send window, 08:00 on Tuesday 9 March 2027 (no public holiday that week). They are written through the
service's own decision and store code (`decide`, `store.save_case`, `store.carry_out`), four connections
at a time, which is the state the event processor would leave, in seconds instead of minutes. Then every
worker of `sipvakt serve` runs in this process on the test clock, sending over the SMTP connection pool to
a local aiosmtpd in its own thread; the clock is moved to 08:00 and the time runs from that move until
the last reminder's 250 OK. The timer worker fires the reminders' timers (each case read, recomputed and
written, its reminder queued) while the delivery worker words and hands over the messages.

The baseline, in the same run: the very bytes the sink received, sent again to the same aiosmtpd one at
a time over a kept session, as the delivery worker sends them: the SMTP ceiling (the median of three
rounds right after the burst). Each reminder must arrive
exactly once and its outbox row be `sent`.

    .venv/bin/python bench/burst.py [--reminders 5000] [--quick] [--profile 30]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import statistics
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from common import (
    MAIL_FROM,
    REGIONS,
    data_dir,
    fresh_database,
    kept_session_rate,
    profile_summary,
    quantile,
    result,
    server_url,
    smtp_sink,
)

from calendars.stockholm import STOCKHOLM
from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from config.settings import Settings, load_settings
from scheduler.case import Case
from scheduler.decide import Applied, Context, decide
from scheduler.effects import Effect
from scheduler.events import parse_event
from scheduler.planning import DeadlinePlanner
from service import access
from service.http import testclock
from service.server import running
from service.storage import store
from service.storage.database import Pool
from service.storage.secrets import new_webhook_secret

DAY = date(2027, 3, 9)  # a Tuesday
DUE = datetime.combine(DAY, clock_time(8, 0), STOCKHOLM)
SET_UP_AT = datetime.combine(DAY - timedelta(days=1), clock_time(16, 0), STOCKHOLM)
OPENED = (DAY - timedelta(days=8)).isoformat()
QUICK = 500
# Every reminder handed over within five minutes of the window's opening: a coordinator who starts the
# day at eight finds it by the first coffee, far ahead of 09:00 (README, "Benchmarks"). Fewer reminders
# are held to the same rate.
GOAL_SECONDS_5000 = 300.0
GOAL_RATIO = 0.50
WRITERS = 4
CASES_PER_TRANSACTION = 50
WAIT_SECONDS = 1800.0
# The machine is shared: the ceiling is taken a few times after the burst, and the median kept.
CEILING_ROUNDS = 3


def coordinator(number: int) -> str:
    return f"koordinator.{number}@example.org"


def events(number: int, valid_to: date) -> list[dict[str, Any]]:
    """A case opened the week before and consent given until `valid_to`; fake people only."""
    case_id = f"burst-{number:05d}"
    at = f"{OPENED}T09:00:00+01:00"
    return [
        {
            "type": "case.opened",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "region": REGIONS[number % len(REGIONS)],
                "person": {"reference": f"person-{number}"},
                "detected_at": OPENED,
                "detected_by": "skola",
                "urgent": False,
                "coordinator": {
                    "name": "Kim Koordinator",
                    "email": coordinator(number),
                    "organisation": "Testkommun socialtjänst",
                },
            },
        },
        {
            "type": "consent.given",
            "case_id": case_id,
            "occurred_at": at,
            "data": {"given_by": "guardian", "valid_from": OPENED, "valid_to": valid_to.isoformat()},
        },
    ]


def decided(number: int, valid_to: date, planner: DeadlinePlanner) -> tuple[Case, list[Effect]]:
    """The case and the effects the event processor would write for its two events."""
    case: Case | None = None
    effects: list[Effect] = []
    context = Context(now=SET_UP_AT, integration_id="default", planner=planner)
    for body in events(number, valid_to):
        decision = decide(case, parse_event(body), context)
        assert isinstance(decision, Applied), decision
        case = decision.case
        effects.extend(decision.effects)
    assert case is not None
    return case, effects


def consent_ends(planner: DeadlinePlanner) -> dict[str, date]:
    """For each region, the consent end whose reminder falls due at 08:00 on DAY (the regions' leads
    differ)."""
    ends = {}
    for number, region in enumerate(REGIONS):
        for days in range(1, 90):
            valid_to = DAY + timedelta(days=days)
            case, _ = decided(number, valid_to, planner)
            due = [r.due_at for r in case.reminders if r.kind == "consent_expiry" and r.status == "scheduled"]
            if due == [DUE]:
                ends[region] = valid_to
                break
        else:
            raise AssertionError(f"no consent end gives a reminder at {DUE} in {region}")
    return ends


async def write_cases(pool: Pool, count: int, planner: DeadlinePlanner) -> None:
    ends = consent_ends(planner)
    async with pool.acquire() as connection:
        await access.ensure_default_integration(connection, SET_UP_AT)
    numbers = list(range(count))

    async def writer() -> None:
        while numbers:
            batch = [numbers.pop() for _ in range(min(CASES_PER_TRANSACTION, len(numbers)))]
            async with pool.acquire() as connection, connection.transaction():
                for number in batch:
                    case, effects = decided(number, ends[REGIONS[number % len(REGIONS)]], planner)
                    # A fresh database, written by these writers alone: each case's owner is simply set.
                    await connection.execute(
                        "insert into case_owners (case_id, integration_id, claimed_at) values ($1, $2, $3)",
                        case.case_id,
                        case.integration_id,
                        SET_UP_AT,
                    )
                    await store.save_case(connection, case, SET_UP_AT)
                    await store.carry_out(connection, case, effects, SET_UP_AT)

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    due = await pool.fetchval(
        "select count(*) from timers where kind = 'reminder' and state = 'scheduled' and due_at = $1", DUE
    )
    assert due == count, (due, count)


def settings_for(url: str, smtp_port: int) -> Settings:
    return load_settings(
        {
            "SIPVAKT_DATABASE_URL": url,
            "SIPVAKT_DATA_DIR": str(data_dir("burst")),
            "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret(),
            "SIPVAKT_TEST_CLOCK": SET_UP_AT.isoformat(),
            "SIPVAKT_SMTP_HOST": "127.0.0.1",
            "SIPVAKT_SMTP_PORT": str(smtp_port),
            "SIPVAKT_MAIL_FROM": MAIL_FROM,
        }
    )


REMINDER_TIMERS_DONE = (
    "select count(*) from timers where kind = 'reminder' and due_at = $1 and state = 'done'"
)
REMINDERS_SENT = "select count(*) from outbox where kind = 'reminder' and state = 'sent'"
OTHER_MESSAGES = "select kind, count(*) from outbox where kind <> 'reminder' group by kind"


async def main(count: int, profile_lines: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"morning burst: {count} reminders due at {DUE:%Y-%m-%d %H:%M} Stockholm; {os.cpu_count()} CPUs,")
    print(f"load average {os.getloadavg()[0]:.1f} at the start\n")
    profile = cProfile.Profile() if profile_lines else None
    async with fresh_database(server_url()) as (url, setup_pool), smtp_sink(keep=True) as (port, sink):
        settings = settings_for(url, port)
        planner = DeadlinePlanner(load_rulebook(settings.config_dir), WorkingCalendar())
        started = time.perf_counter()
        await write_cases(setup_pool, count, planner)
        print(f"{count} cases written in {time.perf_counter() - started:.1f} s")
        addresses = {coordinator(number) for number in range(count)}
        async with running(settings) as (runtime, _):
            pool = runtime.pool
            left = await testclock.settle(pool, SET_UP_AT, 60.0)
            assert left.empty, left
            assert not sink.arrivals, "nothing is due before 08:00"
            if profile is not None:
                profile.enable()
            moved = time.time()
            started = time.perf_counter()
            await testclock.move_test_clock(pool, DUE)
            timers_done_at, delivered_by_then = None, 0
            deadline = started + WAIT_SECONDS
            # The sink runs in a thread of its own: polled, it cannot set this loop's events.
            looks = 0
            while len(sink.arrivals) < count and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                looks += 1
                # Every half second: the count reads the whole timers table.
                done = timers_done_at is not None or looks % 10
                if not done and await pool.fetchval(REMINDER_TIMERS_DONE, DUE) == count:
                    timers_done_at = time.perf_counter() - started
                    delivered_by_then = len(sink.arrivals)
            if profile is not None:
                profile.disable()
            left = await testclock.settle(pool, DUE, 60.0)
            sent = await pool.fetchval(REMINDERS_SENT)
            other = await pool.fetch(OTHER_MESSAGES)
            sessions = getattr(runtime.transport, "opened", None)
        ours = [(to, at) for to, at in sink.arrivals if to in addresses]
        seconds = max(at for _, at in ours) - moved
        lateness = [at - moved for _, at in ours]
        per_address = Counter(to for to, _ in ours)
        assert len(ours) == count and set(per_address) == addresses, (len(ours), count)
        assert max(per_address.values()) == 1, "a reminder arrived twice"
        assert sent == count, (sent, count)
        assert left.empty, left
        # The baseline: the same bytes over a kept session, one at a time, to the same server.
        contents = dict(zip((to for to, _ in sink.arrivals), sink.contents, strict=True))
        again = [(to, contents[to]) for to in sorted(addresses)]
        ceilings = [await kept_session_rate(port, again) for _ in range(CEILING_ROUNDS)]
    ceiling = statistics.median(ceilings)
    rate = count / seconds
    ratio = rate / ceiling
    size = sum(len(contents[to]) for to in addresses) // count
    print(f"other messages sent with them: {', '.join(f'{r[0]} {r[1]}' for r in other) or 'none'}")
    print(f"SMTP sessions the service opened: {sessions}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print(f"08:00 to the last 250 OK:                 {seconds:8.1f} s    {rate:8.1f} reminders/s")
    if timers_done_at is not None:
        fired = f"08:00 to the last reminder timer fired:   {timers_done_at:8.1f} s"
        print(f"{fired}    {delivered_by_then} handed over by then")
    print(f"ceiling, the same {size}-byte messages over a kept session: {ceiling:8.1f} messages/s")
    print(f"  (median of {CEILING_ROUNDS} rounds: {', '.join(f'{c:.0f}' for c in ceilings)})")
    print(f"ratio to the ceiling:                     {ratio:8.1%}")
    p50, p99 = quantile(lateness, 0.5), quantile(lateness, 0.99)
    print(f"lateness, due to 250 OK: p50 {p50:.1f} s, p99 {p99:.1f} s")
    if profile is not None:
        print("\nwhere the burst's time goes (cProfile, this process; not the SMTP server's thread):")
        print(profile_summary(profile, profile_lines))
    goal = GOAL_SECONDS_5000 * count / 5000
    name = "burst_seconds" if count == 5000 else f"burst_{count}_seconds"
    result(name, seconds, f"<={goal:g}", seconds <= goal)
    result("burst_ratio", ratio, f">={GOAL_RATIO:.2f}", ratio >= GOAL_RATIO)
    result("burst_p50_lateness_seconds", p50, "report", True)
    result("burst_p99_lateness_seconds", p99, "report", True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} reminders instead")
    parser.add_argument("--profile", type=int, default=0, help="cProfile the burst, print this many lines")
    arguments = parser.parse_args()
    asyncio.run(main(QUICK if arguments.quick else arguments.reminders, arguments.profile))
