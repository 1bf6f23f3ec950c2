"""The handlers the timer worker runs: each pure handler of `scheduler.timers`, applied to its case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from scheduler import timers
from scheduler.decide import Planner
from scheduler.timers import DueTimer, TimerContext
from service.storage import policies, store
from service.storage.store import Connection
from service.workers.timers import TimerHandler


class CaseTimerHandler:
    """Reads the timer's case (the worker holds the case's lock), lets the pure handler decide, and writes
    the case and the effects in the worker's transaction."""

    def __init__(self, handle: timers.TimerHandler, planner: Planner) -> None:
        self.handle = handle
        self.planner = planner

    async def __call__(self, connection: Connection, timer: DueTimer, now: datetime) -> None:
        case, overrides = await policies.case_for_update(connection, timer.case_id)
        planner = self.planner.with_overrides(overrides) if case is not None else self.planner
        fired = self.handle(case, timer, TimerContext(now=now, planner=planner))
        if fired.case is not None:
            await store.save_case(connection, fired.case, now)
            await store.carry_out(connection, fired.case, fired.effects, now)


def case_timer_handlers(planner: Planner) -> Mapping[str, TimerHandler]:
    return {kind: CaseTimerHandler(handle, planner) for kind, handle in timers.HANDLERS.items()}
