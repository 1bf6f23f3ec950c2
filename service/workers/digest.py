"""The daily digest in the database: its durable timers, and the firing that queues one message per
coordinator.

Each working day's digest is a timer row (`timers`, case id `DIGEST_TIMERS`, key `digest:<day>`), due at
the default region's send-window start. The timer worker fires it once across every process on the
database; its handler queues the messages, records the run and arms the next working day's timer, all in
the transaction that marks the timer done. A periodic job (`service.periodic`) arms the next one as well,
so that a fresh database, or a chain broken by a timer parked as dead, heals by itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from calendars.workdays import WorkingCalendar
from config.rules import RuleBook
from scheduler.digest import DigestSchedule, NewDeviation, collect
from scheduler.effects import QueueMessage
from scheduler.timers import DueTimer
from service.storage import store
from service.storage.store import OUTBOX_CHANNEL, TIMER_NOTICE_HORIZON, TIMERS_CHANNEL, Connection
from service.workers.open_cases import OpenCases
from service.workers.timers import TimerHandler

# The timers' case id. A case id cannot hold "/" (the intake refuses it), so no case's events can move or
# cancel these timers, and the worker's lock on 'case:' || this id is nobody else's.
DIGEST_TIMERS = "sipvakt/digest"
DIGEST_KIND = "digest"
# The first digest ever lists the deviations of the day before it; every later one what no digest has
# listed yet.
FIRST_LOOKBACK = timedelta(hours=24)
# Used only if the default rule file sets no send window.
FALLBACK_SEND_AT = time(8, 0)

ARM = (
    "insert into timers (case_id, key, kind, due_at, payload, created_at, updated_at)"
    " values ($1, $2, $3, $4, $5, $6, $6) on conflict (case_id, key) do nothing"
)

# Deviations of open cases that no digest has listed, detected since the lookback before the first digest.
# Marking what was listed, rather than comparing with the previous run's time, also catches a deviation
# whose transaction read the clock before that run and committed after it.
NEW_DEVIATIONS = """
select d.deviation_id, d.case_id, d.kind, d.detected_at from deviations d
join cases c on c.case_id = d.case_id and c.status = 'open'
where d.detected_at > $1
    and not exists (select 1 from digest_deviations r where r.deviation_id = d.deviation_id)
"""


def digest_schedule(rulebook: RuleBook, calendar: WorkingCalendar) -> DigestSchedule:
    """Digests go out when the default region's send window opens, on Swedish working days."""
    window = rulebook.region("default").send_window()
    return DigestSchedule(calendar, window[0] if window else FALLBACK_SEND_AT)


def timer_key(day: date) -> str:
    return f"digest:{day.isoformat()}"


def message_key(day: date, address: str) -> str:
    """Stable per day and coordinator, so a repeated firing queues nothing new. The address is hashed:
    the key shows in Message-IDs and log lines, which carry ids and no addresses."""
    return f"digest/{day.isoformat()}/{hashlib.sha256(address.encode()).hexdigest()[:16]}"


async def arm(connection: Connection, schedule: DigestSchedule, day: date, now: datetime) -> None:
    """Create the timer of `day`'s digest unless it exists (whatever its state: a day fires once)."""
    due_at = schedule.due_at(day)
    await connection.execute(
        ARM, DIGEST_TIMERS, timer_key(day), DIGEST_KIND, due_at, {"day": day.isoformat()}, now
    )
    if due_at <= now + TIMER_NOTICE_HORIZON:
        await connection.execute("select pg_notify($1, '')", TIMERS_CHANNEL)


async def ensure_next(connection: Connection, schedule: DigestSchedule, now: datetime) -> date:
    """Make sure the next digest has its timer; return its day."""
    day = schedule.next_day(now)
    await arm(connection, schedule, day, now)
    return day


async def send(connection: Connection, day: date, now: datetime, cases: OpenCases | None = None) -> int:
    """Queue `day`'s digests, mark their deviations listed and record the run; return how many were
    queued. A day that has run already queues nothing. `cases` keeps the open cases read by earlier days."""
    if await connection.fetchval("select true from digests where day = $1", day):
        return 0
    first: datetime | None = await connection.fetchval("select min(ran_at) from digests")
    since = (first or now) - FIRST_LOOKBACK
    deviations = [
        NewDeviation(row["deviation_id"], row["case_id"], row["kind"], row["detected_at"])
        for row in await connection.fetch(NEW_DEVIATIONS, since)
    ]
    digests = collect(day, now, await (cases or OpenCases()).read(connection), deviations)
    await store.queue_messages(
        connection,
        None,
        [
            QueueMessage(
                key=message_key(day, address),
                kind="digest",
                channel="email",
                meeting_id=None,
                participant_id=None,
                recipient=address,
                payload=digest.payload(),
            )
            for address, digest in digests.items()
        ],
        now,
    )
    await connection.execute(
        "insert into digests (day, ran_at, messages) values ($1, $2, $3)", day, now, len(digests)
    )
    # Every new deviation belongs to an open case, so each is in a digest above.
    await connection.execute(
        "insert into digest_deviations (deviation_id, day) select unnest($1::text[]), $2"
        " on conflict do nothing",
        [deviation.deviation_id for deviation in deviations],
        day,
    )
    if digests:
        await connection.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    return len(digests)


class DigestTimerHandler:
    """Fires a day's digest timer: sends that day's digests if it is still that day, and arms the next."""

    def __init__(self, schedule: DigestSchedule) -> None:
        self.schedule = schedule
        # Kept from day to day: each digest validates again only the cases changed since the last one.
        self.cases = OpenCases()

    async def __call__(self, connection: Connection, timer: DueTimer, now: datetime) -> None:
        day = date.fromisoformat(str(timer.payload["day"]))
        if not self.schedule.sends_on(day, now):
            # Fired after its day (the service was down): nothing is sent for a day that is over. The
            # digest owed today, or on the next working day, picks up what this one would have said,
            # since new deviations stay new until a digest lists them.
            await arm(connection, self.schedule, self.schedule.catch_up_day(now), now)
            return
        await send(connection, day, now, self.cases)
        await arm(connection, self.schedule, self.schedule.calendar.working_day_after(day), now)


def digest_timer_handlers(schedule: DigestSchedule) -> Mapping[str, TimerHandler]:
    return {DIGEST_KIND: DigestTimerHandler(schedule)}
