"""Folding a list of events into a case without a database, exactly as the service applies them:
in order of receipt, an event that waits for a predecessor offered again after every change, and every
timer the case arms fired at its own due time between the events (invitations held for a consent that
starts later leave when its first day opens, as they would in the service)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.case import Case
from scheduler.decide import Applied, Context, Planner, Rejected, decide
from scheduler.delivered import delivered_at_once
from scheduler.effects import CancelTimers, Effect, SetTimer
from scheduler.events import Event
from scheduler.timers import HANDLERS, DueTimer, TimerContext


@dataclass
class Replay:
    case: Case | None
    rejected: dict[int, str] = field(default_factory=dict)
    waiting: dict[int, str] = field(default_factory=dict)


@dataclass
class _Timers:
    """The case's timers as the service keeps them: a timer that fired is armed again only for a new due
    time (see `service.store.set_timer`)."""

    scheduled: dict[str, SetTimer] = field(default_factory=dict)
    fired: dict[str, datetime] = field(default_factory=dict)

    def carry_out(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, CancelTimers):
                for key in [key for key in self.scheduled if key.startswith(effect.prefix)]:
                    del self.scheduled[key]
            elif isinstance(effect, SetTimer) and self.fired.get(effect.key) != effect.due_at:
                self.scheduled[effect.key] = effect

    def next_due(self, until: datetime) -> SetTimer | None:
        due = [timer for timer in self.scheduled.values() if timer.due_at <= until]
        if not due:
            return None
        timer = min(due, key=lambda t: (t.due_at, t.key))
        del self.scheduled[timer.key]
        self.fired[timer.key] = timer.due_at
        return timer


def replay(events: Sequence[Event], planner: Planner, now: datetime, integration_id: str = "local") -> Replay:
    """Apply the events (listed in order of receipt) and read the deadlines at `now`.

    Each event is applied at the time it says it occurred (no later than `now`): offline, that is the best
    knowledge of when, say, an invitation left, so every invitation it queues counts as delivered then.
    """
    result = Replay(case=None)
    timers = _Timers()
    pending = list(range(len(events)))
    while pending:
        position = pending.pop(0)
        applied_at = min(events[position].occurred_at, now)
        result.case = _fire_timers(result.case, timers, planner, applied_at)
        context = Context(now=applied_at, integration_id=integration_id, planner=planner)
        decision = decide(result.case, events[position], context)
        if isinstance(decision, Applied):
            result.case = _delivered(decision.case, decision.effects, timers, planner, applied_at)
            pending = sorted(pending + list(result.waiting))
            result.waiting.clear()
        elif isinstance(decision, Rejected):
            result.rejected[position] = decision.reason
        else:
            result.waiting[position] = decision.reason
    result.case = _fire_timers(result.case, timers, planner, now)
    if result.case is not None:
        planner.refresh(result.case, now)
    return result


def _fire_timers(case: Case | None, timers: _Timers, planner: Planner, until: datetime) -> Case | None:
    """Fire every timer due by `until`, in due order, each with the clock at its own due time."""
    while case is not None and (timer := timers.next_due(until)) is not None:
        due = DueTimer(
            timer_id=0,
            case_id=case.case_id,
            key=timer.key,
            kind=timer.kind,
            due_at=timer.due_at,
            payload=timer.payload,
            attempts=1,
        )
        fired = HANDLERS[timer.kind](case, due, TimerContext(now=timer.due_at, planner=planner))
        if fired.case is not None:
            case = _delivered(fired.case, fired.effects, timers, planner, timer.due_at)
    return case


def _delivered(
    case: Case, effects: Sequence[Effect], timers: _Timers, planner: Planner, at: datetime
) -> Case:
    """The case after `effects`, with what they queued delivered at once and the case planned again, as
    the service plans it when the mail server takes a message."""
    timers.carry_out(effects)
    delivered = delivered_at_once(case, at)
    timers.carry_out(planner.refresh(delivered, at))
    return delivered
