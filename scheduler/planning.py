"""Keeping a case's deadlines current: recompute them after every change and arm a timer for each one
still pending, so that a deadline passing unmet is noticed when it passes, not at the next event."""

from __future__ import annotations

from datetime import datetime

from calendars.stockholm import end_of_day
from calendars.workdays import WorkingCalendar
from config.rules import RuleBook
from scheduler.case import Case, Deadline
from scheduler.deadline_report import DeadlineReport
from scheduler.deadlines import compute_deadlines
from scheduler.deviations import record_deviation
from scheduler.effects import CancelTimers, Effect, SetTimer

DEADLINE_TIMER_PREFIX = "deadline:"


def deadline_timer_key(deadline: Deadline) -> str:
    return f"{DEADLINE_TIMER_PREFIX}{deadline.kind}:{deadline.meeting_id or deadline.action_id or ''}"


class DeadlinePlanner:
    def __init__(self, rulebook: RuleBook, calendar: WorkingCalendar) -> None:
        self.rulebook = rulebook
        self.calendar = calendar

    def report(self, case: Case, now: datetime) -> DeadlineReport:
        return compute_deadlines(case, self.rulebook.region(case.region), self.calendar, now)

    def refresh(self, case: Case, now: datetime) -> list[Effect]:
        """Write the case's current deadlines, warnings and notices into it; return the timers they need."""
        report = self.report(case, now)
        case.deadlines = list(report.deadlines)
        case.warnings = list(report.warnings)
        for meeting_id, times in report.meetings.items():
            meeting = case.meetings.get(meeting_id)
            if meeting is not None:
                meeting.notice_days = times.notice_days
                meeting.notice_ok = times.notice_ok
        if case.status == "closed":
            return []
        # A missed must is a deviation whenever it is noticed: when its timer fires, or when an event
        # arrives first (after downtime, or because the thing was done late). Its id makes it once.
        effects: list[Effect] = [
            record_deviation(
                case,
                "late",
                now,
                meeting_id=deadline.meeting_id,
                action_id=deadline.action_id,
                rule=deadline.rule,
            )
            for deadline in case.deadlines
            if deadline.status == "missed" and deadline.must
        ]
        # Re-arming every pending deadline after cancelling all of them drops the ones that went away.
        effects.append(CancelTimers(prefix=DEADLINE_TIMER_PREFIX))
        for deadline in case.deadlines:
            if deadline.status == "pending":
                effects.append(
                    SetTimer(
                        key=deadline_timer_key(deadline),
                        kind="deadline",
                        due_at=end_of_day(deadline.due),
                        payload={"deadline": deadline.kind},
                    )
                )
        return effects
