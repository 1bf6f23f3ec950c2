"""Applies stored events to their cases: one event, one transaction, in order of receipt per case.

Any number of processes may run this against one database. A process claims the oldest pending event
with `FOR UPDATE SKIP LOCKED`, then takes the case's advisory lock, so two processes never apply events of
the same case at once, and within a case the lowest `seq` always goes first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from config.settings import DEFAULT_RETENTION_DAYS
from scheduler.clock import Clock
from scheduler.decide import FOREIGN_CASE, Applied, Context, Planner, Rejected, Waiting, decide
from scheduler.events import Event, parse_event
from service import tracing
from service.metrics import Metrics
from service.storage import policies, store
from service.storage.database import Pool
from service.workers import retention
from service.workers.database_watch import log_failure
from service.workers.wakeup import wait_for_any

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# How many of the oldest pending events to look among for a case no other process holds.
CANDIDATES = 32
# Under the case's lock, the case's own oldest pending event goes first.
NEXT_OF_CASE = (
    "select event_id, integration_id, payload, received_at, trace_context from events"
    " where case_id = $1 and state = 'pending' order by seq limit 1 for update"
)
CASE_LOCK = "hashtextextended('case:' || $1, 0)"


@dataclass(frozen=True)
class Outcome:
    event_id: str
    case_id: str
    state: str


class EventProcessor:
    def __init__(
        self,
        pool: Pool,
        clock: Clock,
        planner: Planner,
        metrics: Metrics,
        retention_period: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS),
    ) -> None:
        self.pool = pool
        self.retention_period = retention_period
        self.clock = clock
        self.planner = planner
        self.metrics = metrics
        self.wake = asyncio.Event()

    async def apply_next(self) -> Outcome | None:
        """Apply the oldest pending event whose case no other process holds; None if there is none."""
        async with self.pool.acquire() as connection, connection.transaction():
            candidates = await connection.fetch(
                "select distinct on (case_id) case_id, seq from events where state = 'pending'"
                " and seq in (select seq from events where state = 'pending' order by seq limit $1)"
                " order by case_id, seq",
                CANDIDATES,
            )
            event_row = None
            for candidate in sorted(candidates, key=lambda row: row["seq"]):
                if not await connection.fetchval(
                    f"select pg_try_advisory_xact_lock({CASE_LOCK})",
                    candidate["case_id"],
                ):
                    continue  # another process is applying this case's events
                # Under the case's lock, the case's own oldest pending event goes first.
                event_row = await connection.fetchrow(NEXT_OF_CASE, candidate["case_id"])
                if event_row is not None:
                    break
            if event_row is None:
                return None
            return await self.apply_claimed(connection, event_row, await self.clock.now())

    async def apply_claimed(
        self, connection: store.Connection, event_row: asyncpg.Record, now: datetime
    ) -> Outcome:
        """Apply one event whose case lock the caller holds in its transaction (`NEXT_OF_CASE`'s row), in
        a span that continues the trace of the request that stored it."""
        event = parse_event(event_row["payload"])
        attributes = {tracing.EVENT_ID: event_row["event_id"], tracing.EVENT_TYPE: event.type}
        with tracing.continued("apply event", event_row["trace_context"], attributes) as span:
            outcome = await self._apply(connection, event_row, event, now)
            span.set_attribute(tracing.OUTCOME, outcome.state)
            return outcome

    async def _apply(
        self, connection: store.Connection, event_row: asyncpg.Record, event: Event, now: datetime
    ) -> Outcome:
        case, overrides, owner = await policies.case_for_event(connection, event)
        context = Context(
            now=now,
            integration_id=event_row["integration_id"],
            planner=self.planner.with_overrides(overrides),
        )
        # Intake refuses an event for another integration's case; this holds even for one that got
        # in some other way (stored before owners were recorded), whatever the order of arrival.
        foreign = owner is not None and owner != event_row["integration_id"]
        decision = Rejected(FOREIGN_CASE) if foreign else decide(case, event, context)
        state = await self._record(connection, event_row["event_id"], event, decision, now)
        if case is not None and case.erased_at is not None:
            # Refused, since the case is closed; what it says about the case must not stay either.
            await retention.erase_events(connection, case.case_id)
        self.metrics.observe_applied(state, now - event_row["received_at"])
        log.info("event %s", state, extra={"event_id": event_row["event_id"], "event_type": event.type})
        return Outcome(event_row["event_id"], event.case_id, state)

    async def _record(
        self,
        connection: store.Connection,
        event_id: str,
        event: Event,
        decision: Applied | Waiting | Rejected,
        now: datetime,
    ) -> str:
        if isinstance(decision, Applied):
            await store.save_case(connection, decision.case, now)
            await store.carry_out(connection, decision.case, decision.effects, now)
            await retention.arm(connection, decision.case, self.retention_period, now)
            # Marked applied, and whatever waited for this case pending again (it may now find what it
            # needed), in one statement: the two updates touch different rows.
            await connection.execute(
                "with applied as (update events set state = 'applied', applied_at = $2, detail = null,"
                " attempts = attempts + 1 where event_id = $1)"
                " update events set state = 'pending' where case_id = $3 and state = 'waiting'",
                event_id,
                now,
                event.case_id,
            )
            return "applied"
        state = "waiting" if isinstance(decision, Waiting) else "rejected"
        await connection.execute(
            "update events set state = $2, detail = $3, attempts = attempts + 1 where event_id = $1",
            event_id,
            state,
            decision.reason,
        )
        return state

    async def drain(self, stopping: asyncio.Event | None = None) -> int:
        """Apply pending events until none is left that this process can take, or until `stopping`."""
        count = 0
        while not (stopping and stopping.is_set()) and await self.apply_next() is not None:
            count += 1
        return count

    async def run(self, stopping: asyncio.Event) -> None:
        """Apply events as they come, woken by NOTIFY and polling as a safety net."""
        while not stopping.is_set():
            # Cleared before draining, so that a notice arriving during the drain is not lost.
            self.wake.clear()
            try:
                await self.drain(stopping)
            except Exception as error:
                log_failure(log, "applying events failed; retrying", error)
            await wait_for_any(self.wake, stopping, seconds=POLL_SECONDS)
