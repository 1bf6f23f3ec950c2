"""The deadline engine: a case's facts, its region's rules and the working-day calendar give its deadlines.

Pure: no clock, no I/O. Every date is a day in Europe/Stockholm; every instant in the case is converted with
`calendars.stockholm.local_date`, so the UTC offset a timestamp was written with never changes a result.

Status of a deadline against `now` (a deadline "by day D" is missed from the first moment after D):
- `met`: the fact that satisfies it happened on or before D;
- `missed`: it happened after D, or D has passed without it;
- `pending`: neither yet.

Date-like deadlines (`consent_expires`, `turns_18`) mark a day on which something the case rests on ends:
the consent, or the guardian's right to consent. They are met when the case has adapted by that day (for
`turns_18`: consent given by the young person or a representative; for both: the case closed on or before
the day) and missed when the day passes with the case still open and unadapted.

On a closed case, a deadline that was still open on the closing day no longer binds and is left out; what
was met or missed before the closing stays, as history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from calendars.ages import age_on, birthday
from calendars.stockholm import local_date
from calendars.workdays import WorkingCalendar
from config.region_rules import RegionRules, ResolvedRule
from config.rule_schema import ComingOfAgeRule, DateRule, DayRule, RuleBase, TargetGroupRule
from scheduler.case import Case, Deadline, DeadlineStatus, Invitation, Meeting
from scheduler.consent import invitation_hold
from scheduler.deadline_report import DeadlineReport, MeetingTimes
from scheduler.deadline_warnings import case_warnings
from scheduler.notice import NoticeCalculator, count_backward, count_forward

ANSWERED = frozenset({"accepted", "declined", "tentative", "delegated"})
_OWN_CONSENT = frozenset({"child", "adult", "representative"})


def compute_deadlines(
    case: Case, rules: RegionRules, calendar: WorkingCalendar, now: datetime
) -> DeadlineReport:
    today = local_date(now)
    notice = NoticeCalculator(rules, calendar)
    meetings = {
        meeting_id: _meeting_times(case, meeting, rules, calendar, notice, today)
        for meeting_id, meeting in case.meetings.items()
    }
    deadlines = [
        *_meeting_due(case, rules, calendar, today),
        *_invitation_due(case, rules, calendar, today),
        *_notice(case, notice, today),
        *_rsvp_due(case, rules, meetings, today),
        *_followup_due(case, rules, today),
        *_consent_expires(case, rules, today),
        *_turns_adult(case, rules, today),
        *_action_due(case, rules, today),
    ]
    deadlines = _drop_released_by_closing(case, deadlines)
    deadlines.sort(key=lambda d: (d.due, d.kind, d.meeting_id or "", d.action_id or ""))
    consent_lead = rules.find("consent_expiry_lead", DayRule)
    consent = case.consent
    consent_reminder_on = (
        count_backward(calendar, consent.valid_to, consent_lead.rule)
        if consent_lead and consent and consent.valid_to and consent.withdrawn_at is None
        else None
    )
    return DeadlineReport(
        deadlines=deadlines,
        warnings=case_warnings(case, rules, calendar, meetings, deadlines, today),
        meetings=meetings,
        consent_reminder_on=consent_reminder_on,
        leaves_target_group_on=_leaves_target_group_on(case, rules),
    )


def status_of(due: date, done_on: date | None, today: date) -> DeadlineStatus:
    if done_on is not None:
        return "met" if done_on <= due else "missed"
    return "missed" if today > due else "pending"


def _deadline(
    kind: str,
    due: date,
    status: DeadlineStatus,
    rule: ResolvedRule[RuleBase],
    meeting_id: str | None = None,
    action_id: str | None = None,
) -> Deadline:
    return Deadline(
        kind=kind,
        due=due,
        status=status,
        rule=rule.qualified_name,
        meeting_id=meeting_id,
        action_id=action_id,
        must=rule.must,
    )


def _held_days(case: Case, after: datetime | None = None) -> list[date]:
    return sorted(
        local_date(meeting.starts_at)
        for meeting in case.meetings.values()
        if meeting.status == "held" and (after is None or meeting.starts_at > after)
    )


def _meeting_due(case: Case, rules: RegionRules, calendar: WorkingCalendar, today: date) -> list[Deadline]:
    rule = rules.find("urgent_meeting_within" if case.urgent else "meeting_within", DayRule)
    if rule is None:
        return []
    due = count_forward(calendar, case.detected_at, rule.rule)
    held = _held_days(case)
    return [_deadline("meeting_due", due, status_of(due, held[0] if held else None, today), rule)]


def _invitation_due(case: Case, rules: RegionRules, calendar: WorkingCalendar, today: date) -> list[Deadline]:
    rule = rules.find("invitation_after_discharge", DayRule)
    if rule is None or case.discharge_notice_at is None:
        return []
    due = count_forward(calendar, local_date(case.discharge_notice_at), rule.rule)
    sent = sorted(
        local_date(invitation.first_sent_at)
        for meeting in case.meetings.values()
        for invitation in meeting.invitations.values()
        if invitation.first_sent_at is not None
    )
    return [_deadline("invitation_due", due, status_of(due, sent[0] if sent else None, today), rule)]


def _minimum_notice_applies(case: Case, meeting: Meeting, notice: NoticeCalculator) -> bool:
    if notice.notice is None or case.urgent:
        return False
    return not (meeting.notice_agreed and notice.notice.rule.agreement_overrides)


def _first_round(meeting: Meeting) -> list[str]:
    """The participants invited with the meeting; a substitute joins late and brings no notice of its own."""
    return [pid for pid, participant in meeting.participants.items() if participant.delegate_of is None]


def _telling(meeting: Meeting, pid: str) -> Invitation | None:
    """The invitation that tells a first-round participant the meeting's current time: their own, or,
    once they have sent a substitute and the meeting has moved since, the substitute's."""
    invitation = meeting.invitations.get(pid)
    while invitation is not None and invitation.sent_at is None and invitation.status == "delegated":
        invitation = meeting.invitations.get(invitation.delegated_to or "")
    return invitation


def _undelivered(invitation: Invitation | None) -> bool:
    """Failed for good: this invitation gives no notice at all, and never meets one."""
    return invitation is not None and invitation.status == "failed" and invitation.sent_at is None


def _notice(case: Case, notice: NoticeCalculator, today: date) -> list[Deadline]:
    found: list[Deadline] = []
    for meeting in case.meetings.values():
        if meeting.status == "cancelled" or not _minimum_notice_applies(case, meeting, notice):
            continue
        assert notice.notice is not None
        meeting_day = local_date(meeting.starts_at)
        limits: list[date] = []
        statuses: list[DeadlineStatus] = []
        for pid in _first_round(meeting):
            channel = meeting.participants[pid].channel
            limit = notice.latest_send(meeting_day, channel)
            assert limit is not None
            invitation = _telling(meeting, pid)
            sent_on = local_date(invitation.sent_at) if invitation and invitation.sent_at else None
            limits.append(limit)
            statuses.append("missed" if _undelivered(invitation) else status_of(limit, sent_on, today))
        if not limits:
            continue
        found.append(_deadline("notice", min(limits), _combined(statuses), notice.notice, meeting.meeting_id))
    return found


def _combined(statuses: Iterable[DeadlineStatus]) -> DeadlineStatus:
    """All met is met; any missed is missed; otherwise still pending."""
    seen = set(statuses)
    if "missed" in seen:
        return "missed"
    return "met" if seen == {"met"} else "pending"


def _meeting_times(
    case: Case,
    meeting: Meeting,
    rules: RegionRules,
    calendar: WorkingCalendar,
    notice: NoticeCalculator,
    today: date,
) -> MeetingTimes:
    meeting_day = local_date(meeting.starts_at)
    applies = _minimum_notice_applies(case, meeting, notice)
    required = notice.notice.rule.days if applies and notice.notice else 0
    first_round = _first_round(meeting)
    notice_days = None
    if first_round:
        unsent_on = _earliest_send_day(case, meeting, today)
        notice_days = min(
            (meeting_day - _receipt(meeting, pid, notice, unsent_on)).days for pid in first_round
        )
    sends = [notice.latest_send(meeting_day, meeting.participants[pid].channel) for pid in first_round]
    latest_send = min((day for day in sends if day is not None), default=None) if applies else None
    escalation = rules.find(
        "urgent_escalation_before_meeting" if case.urgent else "escalation_before_meeting", DayRule
    )
    escalation_on = count_backward(calendar, meeting_day, escalation.rule) if escalation else meeting_day
    return MeetingTimes(
        meeting_id=meeting.meeting_id,
        notice_days=notice_days,
        required_notice_days=required,
        notice_ok=None if notice_days is None else notice_days >= required,
        latest_send_on=latest_send,
        escalation_on=escalation_on,
        rsvp_due_by_participant=_rsvp_days(case, meeting, rules, calendar, notice, escalation_on),
        followup_call_by=_followup_call_by(case, meeting, rules, calendar, notice),
    )


def _earliest_send_day(case: Case, meeting: Meeting, today: date) -> date:
    """An invitation not sent yet counts as leaving today, or on the consent's first day if that is later."""
    hold = invitation_hold(case, meeting, today)
    return hold.until if hold is not None and hold.until is not None else today


def _receipt(meeting: Meeting, pid: str, notice: NoticeCalculator, unsent_on: date) -> date:
    """The day the participant has the invitation; one still queued counts as leaving on `unsent_on`, and
    one that failed as arriving on the meeting day (no notice at all)."""
    invitation = _telling(meeting, pid)
    if _undelivered(invitation):
        return local_date(meeting.starts_at)
    sent_on = local_date(invitation.sent_at) if invitation and invitation.sent_at else unsent_on
    return notice.received_on(sent_on, meeting.participants[pid].channel)


def _rsvp_days(
    case: Case,
    meeting: Meeting,
    rules: RegionRules,
    calendar: WorkingCalendar,
    notice: NoticeCalculator,
    escalation_on: date,
) -> dict[str, date]:
    rule = rules.find("urgent_rsvp_after" if case.urgent else "rsvp_after", DayRule)
    if rule is None:
        return {}
    days: dict[str, date] = {}
    for pid, invitation in meeting.invitations.items():
        if invitation.sent_at is None:
            continue
        received = notice.received_on(local_date(invitation.sent_at), invitation.channel)
        # An answer is only useful before the escalation day, but never asked for before it can arrive.
        days[pid] = max(received, min(count_forward(calendar, received, rule.rule), escalation_on))
    return days


def _rsvp_due(
    case: Case, rules: RegionRules, meetings: dict[str, MeetingTimes], today: date
) -> list[Deadline]:
    rule = rules.find("urgent_rsvp_after" if case.urgent else "rsvp_after", DayRule)
    if rule is None:
        return []
    found = []
    for meeting in case.meetings.values():
        by_participant = meetings[meeting.meeting_id].rsvp_due_by_participant
        if meeting.status == "cancelled" or not by_participant:
            continue
        statuses = []
        for pid, due in by_participant.items():
            invitation = meeting.invitations[pid]
            answered_on = None
            if invitation.status in ANSWERED:
                answered_on = local_date(invitation.responded_at) if invitation.responded_at else due
            statuses.append(status_of(due, answered_on, today))
        found.append(
            _deadline("rsvp_due", max(by_participant.values()), _combined(statuses), rule, meeting.meeting_id)
        )
    return found


def _followup_call_by(
    case: Case, meeting: Meeting, rules: RegionRules, calendar: WorkingCalendar, notice: NoticeCalculator
) -> date | None:
    lead = rules.find("followup_call_lead", DayRule)
    if meeting.status != "held" or meeting.followup_on is None or lead is None:
        return None
    last_send = meeting.followup_on
    if notice.notice is not None and not case.urgent:
        channels = {meeting.participants[pid].channel for pid in _first_round(meeting)} or {"email"}
        sends = [notice.latest_send(meeting.followup_on, channel) for channel in sorted(channels)]
        last_send = min(day for day in sends if day is not None)
    return count_backward(calendar, last_send, lead.rule)


def _followup_due(case: Case, rules: RegionRules, today: date) -> list[Deadline]:
    rule = rules.find("followup_date", DateRule)
    if rule is None:
        return []
    found = []
    for meeting in case.meetings.values():
        if meeting.status != "held" or meeting.followup_on is None:
            continue
        later = _held_days(case, after=meeting.starts_at)
        status = status_of(meeting.followup_on, later[0] if later else None, today)
        found.append(_deadline("followup_due", meeting.followup_on, status, rule, meeting.meeting_id))
    return found


def _consent_expires(case: Case, rules: RegionRules, today: date) -> list[Deadline]:
    rule = rules.find("consent_validity", DateRule)
    consent = case.consent
    if rule is None or consent is None or consent.valid_to is None or consent.withdrawn_at is not None:
        return []
    closed_on = local_date(case.closed_at) if case.closed_at else None
    return [
        _deadline("consent_expires", consent.valid_to, status_of(consent.valid_to, closed_on, today), rule)
    ]


def _turns_adult(case: Case, rules: RegionRules, today: date) -> list[Deadline]:
    rule = rules.find("coming_of_age", ComingOfAgeRule)
    born = case.person.birth_date
    if rule is None or born is None or age_on(born, case.detected_at) >= rule.rule.age:
        return []
    due = birthday(born, rule.rule.age)
    adapted = [local_date(case.closed_at)] if case.closed_at else []
    consent = case.consent
    if consent is not None and consent.withdrawn_at is None and consent.given_by in _OWN_CONSENT:
        adapted.append(local_date(consent.given_at))
    return [_deadline("turns_18", due, status_of(due, min(adapted, default=None), today), rule)]


def _action_due(case: Case, rules: RegionRules, today: date) -> list[Deadline]:
    rule = rules.find("action_date", DateRule)
    if rule is None:
        return []
    return [
        _deadline(
            "action_due",
            action.due_on,
            status_of(action.due_on, local_date(action.completed_at) if action.completed_at else None, today),
            rule,
            meeting_id=action.meeting_id,
            action_id=action.action_id,
        )
        for action in case.actions.values()
    ]


def _drop_released_by_closing(case: Case, deadlines: list[Deadline]) -> list[Deadline]:
    if case.status != "closed" or case.closed_at is None:
        return deadlines
    closed_on = local_date(case.closed_at)
    return [d for d in deadlines if not (d.status != "met" and d.due >= closed_on)]


def _leaves_target_group_on(case: Case, rules: RegionRules) -> date | None:
    rule = rules.find("target_group", TargetGroupRule)
    born = case.person.birth_date
    if rule is None or born is None:
        return None
    return birthday(born, rule.rule.max_age + 1)
