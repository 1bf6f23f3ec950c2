"""Keeping a case current after every change: its deadlines, warnings, escalations, deviations and
reminders, and a timer for each moment ahead at which something will be due, so that a deadline passing
unmet or a reminder falling due is acted on at that moment, not at the next event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calendars.stockholm import end_of_day
from calendars.workdays import WorkingCalendar
from config.region_rules import RegionRules
from config.reminder_policy import NO_OVERRIDES, PolicyOverrides, ReminderPolicy, apply_to_rules, resolve
from config.rules import RuleBook
from scheduler.case import Case, Deadline, Warning
from scheduler.consent import held_invitation_timers
from scheduler.deadline_report import DeadlineReport
from scheduler.deadlines import compute_deadlines
from scheduler.delivered import delivery_warnings
from scheduler.deviations import record_deviation
from scheduler.effects import CancelTimers, Effect, QueueMessage, SetTimer
from scheduler.escalation import actions_not_done, escalate_unanswered
from scheduler.reminders import plan_reminders, schedule_reminders
from scheduler.send_times import SendTimes
from scheduler.survey import survey_messages

DEADLINE_TIMER_PREFIX = "deadline:"


def deadline_timer_key(deadline: Deadline) -> str:
    return f"{DEADLINE_TIMER_PREFIX}{deadline.kind}:{deadline.meeting_id or deadline.action_id or ''}"


@dataclass(frozen=True)
class CaseRules:
    """A case's region rules with its reminder policy applied, and the policy itself."""

    rules: RegionRules
    policy: ReminderPolicy
    warnings: tuple[Warning, ...]


class DeadlinePlanner:
    def __init__(
        self,
        rulebook: RuleBook,
        calendar: WorkingCalendar,
        overrides: PolicyOverrides = NO_OVERRIDES,
        region_defaults: dict[str, CaseRules] | None = None,
    ) -> None:
        self.rulebook = rulebook
        self.calendar = calendar
        self.overrides = overrides
        # Most cases have no override: their rules depend on the region alone, so each region's are
        # resolved once, not at every event and timer. Shared by the planners `with_overrides` makes.
        self._region_defaults = {} if region_defaults is None else region_defaults

    def with_overrides(self, overrides: PolicyOverrides) -> DeadlinePlanner:
        """The same planner under the reminder policy overrides of one case and its region."""
        return DeadlinePlanner(self.rulebook, self.calendar, overrides, self._region_defaults)

    def case_rules(self, case: Case) -> CaseRules:
        if self.overrides.region or self.overrides.case:
            return self._resolve(case.region)
        found = self._region_defaults.get(case.region)
        if found is None:
            found = self._region_defaults[case.region] = self._resolve(case.region)
        return found

    def _resolve(self, region_name: str) -> CaseRules:
        region = self.rulebook.region(region_name)
        resolved = resolve(region, self.overrides)
        warnings = tuple(
            Warning(
                kind="reminder_policy_ignored",
                message=f"The {layer} reminder policy no longer fits the policy under it and is not"
                " applied; set it again.",
            )
            for layer in resolved.ignored
        )
        return CaseRules(apply_to_rules(region, resolved.policy), resolved.policy, warnings)

    def report(self, case: Case, now: datetime) -> DeadlineReport:
        return compute_deadlines(case, self.case_rules(case).rules, self.calendar, now)

    def refresh(self, case: Case, now: datetime) -> list[Effect]:
        """Bring the case up to date at `now`; return what must be written and sent with it."""
        case_rules = self.case_rules(case)
        report = compute_deadlines(case, case_rules.rules, self.calendar, now)
        case.deadlines = list(report.deadlines)
        case.warnings = [*report.warnings, *case_rules.warnings]
        for meeting_id, times in report.meetings.items():
            meeting = case.meetings.get(meeting_id)
            if meeting is not None:
                meeting.notice_days = times.notice_days
                meeting.notice_ok = times.notice_ok
        if case.status == "closed":
            return []
        hours = case_rules.policy.working_hours
        send = SendTimes(self.calendar, hours.start, hours.end, case.urgent)
        effects = escalate_unanswered(case, case_rules.rules, report, send, now)
        effects.extend(actions_not_done(case, case_rules.rules, report, now))
        effects.extend(self._late(case, case_rules.rules, now))
        effects.extend(survey_messages(case, case_rules.rules, now))
        effects.extend(self._reminders(case, report, case_rules.policy, send, now))
        effects.extend(self._deadline_timers(case))
        effects.extend(held_invitation_timers(case, send, now))
        # After the reminders: they say which were called off for an unreachable address.
        case.warnings.extend(delivery_warnings(case))
        return effects

    def _reminders(
        self, case: Case, report: DeadlineReport, policy: ReminderPolicy, send: SendTimes, now: datetime
    ) -> list[Effect]:
        effects: list[Effect] = []
        # Sending one reminder of a series makes the next one plannable: plan again until nothing more
        # leaves now (a series is at most a handful long, so this ends after a few rounds).
        while True:
            planned = plan_reminders(case, report, policy, send, self.calendar, now)
            scheduled = schedule_reminders(case, planned, send, now)
            effects.extend(scheduled)
            if not any(isinstance(effect, QueueMessage) for effect in scheduled):
                return effects

    def _late(self, case: Case, rules: RegionRules, now: datetime) -> list[Effect]:
        # A missed must is a deviation whenever it is noticed: when its timer fires, or when an event
        # arrives first (after downtime, or because the thing was done late). Its id makes it once. An
        # action's missed day is `action_not_done` instead; a missed should is only a warning.
        reporting = rules.deviation_rule("late")
        return [
            record_deviation(
                case,
                "late",
                now,
                meeting_id=deadline.meeting_id,
                action_id=deadline.action_id,
                rule=deadline.rule,
                # Reportable where the guideline names its own rules not followed an avvikelse.
                reportable=reporting is not None
                and reporting.rule.reportable
                and deadline.rule.startswith(f"{rules.name}."),
            )
            for deadline in case.deadlines
            if deadline.status == "missed" and deadline.must and deadline.kind != "action_due"
        ]

    def rules(self, case: Case) -> RegionRules:
        """The case's region rules under its reminder policy, as the deadlines read them."""
        return self.case_rules(case).rules

    def _deadline_timers(self, case: Case) -> list[Effect]:
        # Re-arming every pending deadline after cancelling all of them drops the ones that went away.
        effects: list[Effect] = [CancelTimers(prefix=DEADLINE_TIMER_PREFIX)]
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
