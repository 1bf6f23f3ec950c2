"""Silence becomes a deviation: an invitation still unanswered when its meeting's escalation moment comes
is marked `unanswered` and recorded as a `no_response` deviation (the coordinator is then reminded of the
deviation like of any other), an absence from a held meeting as `no_show`, and an agreed action past its
day without `action.completed` as `action_not_done`. Each names the region's rule that makes it a
deviation (`RegionRules.deviation_rule`): the guideline's reportable one, or sipvakt's escalation.
Deviation ids come from what they are about, so noticing one again records nothing."""

from __future__ import annotations

from datetime import datetime

from config.region_rules import RegionRules
from scheduler.case import Case, Meeting
from scheduler.deadline_report import DeadlineReport
from scheduler.deviations import record_under
from scheduler.effects import CancelTimers, Effect, SetTimer
from scheduler.reminders import escalation_moment
from scheduler.send_times import SendTimes

ESCALATION_TIMER_PREFIX = "escalation:"


def escalate_unanswered(
    case: Case, rules: RegionRules, report: DeadlineReport, send: SendTimes, now: datetime
) -> list[Effect]:
    """Escalate what is due now; arm a timer for each meeting whose escalation moment is still ahead.

    Only invitations sent before the escalation moment are escalated: one sent later (a meeting called at
    short notice, a substitute named late) had no time to be answered, and its lateness is the notice
    deadline's business, not the participant's."""
    effects: list[Effect] = [CancelTimers(prefix=ESCALATION_TIMER_PREFIX)]
    rule = rules.deviation_rule("no_response")
    for meeting in case.meetings.values():
        times = report.meetings.get(meeting.meeting_id)
        if meeting.status != "scheduled" or times is None:
            continue
        at = escalation_moment(times, send)
        if at >= meeting.starts_at:
            continue
        silent = [
            invitation
            for invitation in meeting.invitations.values()
            if invitation.status == "sent" and invitation.sent_at is not None and invitation.sent_at < at
        ]
        if not silent:
            continue
        if now < at:
            effects.append(
                SetTimer(key=f"{ESCALATION_TIMER_PREFIX}{meeting.meeting_id}", kind="escalation", due_at=at)
            )
            continue
        for invitation in silent:
            invitation.status = "unanswered"
            if rule is None:
                continue
            effects.append(
                record_under(
                    case,
                    rule,
                    "no_response",
                    now,
                    meeting_id=meeting.meeting_id,
                    participant_id=invitation.participant_id,
                )
            )
    return effects


def no_shows(case: Case, meeting: Meeting, rules: RegionRules, now: datetime) -> list[Effect]:
    """The absences from a meeting just recorded held that its region's rule counts: of those who had
    accepted (sipvakt's escalation), or of everyone invited (a guideline's "trots kallelse"). One who
    named a substitute was represented, and one never sent an invitation was not called."""
    rule = rules.deviation_rule("no_show")
    if rule is None:
        return []
    counted: list[Effect] = []
    for participant_id in meeting.absent:
        invitation = meeting.invitations[participant_id]
        if rule.rule.absent == "invited":
            counts = invitation.sent_at is not None and invitation.status != "delegated"
        else:
            counts = invitation.status == "accepted"
        if counts:
            counted.append(
                record_under(
                    case, rule, "no_show", now, meeting_id=meeting.meeting_id, participant_id=participant_id
                )
            )
    return counted


def actions_not_done(case: Case, rules: RegionRules, report: DeadlineReport, now: datetime) -> list[Effect]:
    """An action whose `action_due` deadline is missed; its deviation is this, not `late`."""
    rule = rules.deviation_rule("action_not_done")
    if rule is None:
        return []
    return [
        record_under(case, rule, "action_not_done", now, meeting_id=d.meeting_id, action_id=d.action_id)
        for d in report.deadlines
        if d.kind == "action_due" and d.status == "missed"
    ]
