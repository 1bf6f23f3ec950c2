"""Folding a list of events into a case without a database, exactly as the service applies them:
in order of receipt, an event that waits for a predecessor offered again after every change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.case import Case
from scheduler.decide import Applied, Context, Planner, Rejected, decide
from scheduler.delivered import delivered_at_once
from scheduler.events import Event


@dataclass
class Replay:
    case: Case | None
    rejected: dict[int, str] = field(default_factory=dict)
    waiting: dict[int, str] = field(default_factory=dict)


def replay(events: Sequence[Event], planner: Planner, now: datetime, integration_id: str = "local") -> Replay:
    """Apply the events (listed in order of receipt) and read the deadlines at `now`.

    Each event is applied at the time it says it occurred (no later than `now`): offline, that is the best
    knowledge of when, say, an invitation left, so every invitation it queues counts as delivered then.
    """
    result = Replay(case=None)
    pending = list(range(len(events)))
    while pending:
        position = pending.pop(0)
        applied_at = min(events[position].occurred_at, now)
        context = Context(now=applied_at, integration_id=integration_id, planner=planner)
        decision = decide(result.case, events[position], context)
        if isinstance(decision, Applied):
            result.case = delivered_at_once(decision.case, applied_at)
            planner.refresh(result.case, applied_at)
            pending = sorted(pending + list(result.waiting))
            result.waiting.clear()
        elif isinstance(decision, Rejected):
            result.rejected[position] = decision.reason
        else:
            result.waiting[position] = decision.reason
    if result.case is not None:
        planner.refresh(result.case, now)
    return result
