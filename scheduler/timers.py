"""What a timer does when it fires, as pure functions: `(case, timer, context) -> Fired`.

The worker (`service.timers`) fires a timer under its case's lock, in the transaction that marks it done:
it reads the case, calls the handler registered for the timer's kind, stores the case the handler returns
and carries out its effects. A timer may fire more than once if a process dies between firing and commit
(at least once), so a handler works out what is due from the case as it is now, and records what it finds
under ids derived from what it is about.

Deadlines, reminders and escalations all fire the same recompute; a new kind of work is one more entry in
`HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.case import Case
from scheduler.consent import HELD_INVITATIONS_KIND
from scheduler.decide import Planner, release_held_invitations
from scheduler.effects import Effect

DEADLINE_KIND = "deadline"


@dataclass(frozen=True)
class DueTimer:
    """A timer as its worker claimed it; `attempts` counts this claim."""

    timer_id: int
    case_id: str
    key: str
    kind: str
    due_at: datetime
    payload: Mapping[str, Any]
    attempts: int
    # The W3C traceparent of the work that armed the timer, which its firing continues.
    trace_context: str | None = None


@dataclass(frozen=True)
class TimerContext:
    now: datetime
    planner: Planner


@dataclass(frozen=True)
class Fired:
    """The case to store (None: leave it as it is) and the effects to carry out with it."""

    case: Case | None = None
    effects: list[Effect] = field(default_factory=list)


TimerHandler = Callable[[Case | None, DueTimer, TimerContext], Fired]


def bring_up_to_date(case: Case | None, timer: DueTimer, ctx: TimerContext) -> Fired:
    """Something the case waits for is due: recompute the case at this moment. An unmet deadline turns
    `missed` (a must: a `late` deviation), silent invitations are escalated, due reminders are sent. What
    is due is worked out from the case, not from the timer, so a repeated firing finds nothing more to do."""
    if case is None or case.status == "closed":
        return Fired()
    changed = case.model_copy(deep=True)
    return Fired(changed, ctx.planner.refresh(changed, ctx.now))


def send_held_invitations(case: Case | None, timer: DueTimer, ctx: TimerContext) -> Fired:
    """A hold on the invitations may have ended (the consent's first day has opened, or the person has
    come of age): send what consent now allows, then recompute the case. What consent still holds stays
    pending, so a repeated firing sends nothing twice."""
    if case is None or case.status == "closed":
        return Fired()
    changed = case.model_copy(deep=True)
    effects = release_held_invitations(changed, ctx.now)
    effects.extend(ctx.planner.refresh(changed, ctx.now))
    return Fired(changed, effects)


# Every kind but the held invitations recomputes the whole case; the kinds tell the timers apart in the
# table and in metrics. `replan` is armed for every open case of a region whose reminder policy changed.
HANDLERS: Mapping[str, TimerHandler] = {
    **dict.fromkeys((DEADLINE_KIND, "reminder", "escalation", "replan"), bring_up_to_date),
    HELD_INVITATIONS_KIND: send_held_invitations,
}
