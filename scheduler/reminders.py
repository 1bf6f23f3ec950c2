"""Which reminders a case needs, to whom and when: a pure function of the case, its deadline report and
its reminder policy. `schedule_reminders` then writes them into the case, sends those that are due and
arms a timer for the rest.

Planning is repeated after every change, so a reminder follows what it is about: an answer removes the
participant's RSVP reminder, a new meeting time moves it, a completed action cancels its reminder. A sent
reminder stays sent. A reminder whose moment has passed (the case changed late, or the service was down)
leaves at the next moment it may, never twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from calendars.stockholm import STOCKHOLM, local_date
from calendars.workdays import WorkingCalendar
from config.reminder_policy import DayCount, ReminderPolicy
from scheduler.case import Case, Meeting, Reminder, ReminderKind
from scheduler.deadline_report import DeadlineReport, MeetingTimes
from scheduler.effects import CancelTimers, Effect, QueueMessage, SetTimer
from scheduler.send_times import SendTimes

REMINDER_TIMER_PREFIX = "reminder:"


@dataclass(frozen=True)
class PlannedReminder:
    key: str
    kind: ReminderKind
    due_at: datetime
    to: str
    meeting_id: str | None = None
    participant_id: str | None = None
    # What the message needs to say beyond the case and meeting (dates, the action, the deviation).
    details: dict[str, str] = field(default_factory=dict)


def escalation_moment(times: MeetingTimes, send: SendTimes) -> datetime:
    """When a meeting's unanswered invitations are escalated: the opening of its escalation day."""
    return send.on_or_before(times.escalation_on)


def plan_reminders(
    case: Case,
    report: DeadlineReport,
    policy: ReminderPolicy,
    send: SendTimes,
    calendar: WorkingCalendar,
    now: datetime,
) -> list[PlannedReminder]:
    today = local_date(now)
    return [
        *_rsvp(case, report, policy, send, today, now),
        *_followup_calls(case, report, policy, send, today),
        *_consent_expiry(case, report, policy, send, today),
        *_turns_18(case, report, policy, send, calendar),
        *_leaves_target_group(case, report, policy, send, calendar, today),
        *_action_due(case, policy, send, calendar, today),
        *_deviations(case, policy, send),
    ]


def _rsvp(
    case: Case, report: DeadlineReport, policy: ReminderPolicy, send: SendTimes, today: date, now: datetime
) -> Iterator[PlannedReminder]:
    rsvp = policy.rsvp
    if not rsvp.enabled or rsvp.max_reminders == 0 or not case.consent_active(today):
        return
    for meeting in case.meetings.values():
        times = report.meetings.get(meeting.meeting_id)
        if meeting.status != "scheduled" or meeting.starts_at <= now or times is None:
            continue
        stop_at = min(escalation_moment(times, send), meeting.starts_at)
        # When the answer is due on the escalation day or later, the one reminder that can still help
        # goes the working day before the escalation.
        last_chance = send.on_or_before(times.escalation_on - timedelta(days=1))
        for participant_id, first_day in times.rsvp_due_by_participant.items():
            reminder = _next_rsvp(case, meeting, participant_id, first_day, policy, send, last_chance)
            if reminder is not None and reminder.due_at < stop_at:
                yield reminder


def _next_rsvp(
    case: Case,
    meeting: Meeting,
    participant_id: str,
    first_day: date,
    policy: ReminderPolicy,
    send: SendTimes,
    last_chance: datetime,
) -> PlannedReminder | None:
    """The next reminder of a participant's series for this meeting time, if one is left."""
    invitation = meeting.invitations[participant_id]
    participant = meeting.participants[participant_id]
    # Letters get no reminder by post: an unanswered letter is escalated to the coordinator instead.
    if invitation.status != "sent" or invitation.channel != "email" or not participant.email:
        return None
    assert invitation.sent_at is not None
    series = f"rsvp:{meeting.meeting_id}:{participant_id}:{meeting.sequence}:"
    sent = [r for r in case.reminders if r.key.startswith(series) and r.status == "sent"]
    if len(sent) >= policy.rsvp.max_reminders:
        return None
    repeat = timedelta(days=policy.rsvp.repeat_every_days)
    due = send.on_or_after(first_day + repeat * len(sent))
    if not sent:
        due = min(due, last_chance)
    else:
        last = max(r.sent_at or r.due_at for r in sent)
        due = max(due, send.on_or_after(local_date(last) + repeat))
    if due <= invitation.sent_at:
        # Asked for an answer before the invitation left (a policy of 0 days): not before the next day.
        due = send.on_or_after(local_date(invitation.sent_at) + timedelta(days=1))
    return PlannedReminder(
        key=f"{series}{len(sent) + 1}",
        kind="rsvp",
        due_at=due,
        to=participant.email,
        meeting_id=meeting.meeting_id,
        participant_id=participant_id,
    )


def _followup_calls(
    case: Case, report: DeadlineReport, policy: ReminderPolicy, send: SendTimes, today: date
) -> Iterator[PlannedReminder]:
    if not policy.followup_call.enabled:
        return
    for meeting in case.meetings.values():
        times = report.meetings.get(meeting.meeting_id)
        if (
            times is None
            or times.followup_call_by is None
            or meeting.followup_on is None
            or meeting.responsible is None
            or meeting.followup_on < today
            or _followup_called(case, meeting)
        ):
            continue
        yield PlannedReminder(
            key=f"followup_call:{meeting.meeting_id}",
            kind="followup_call",
            due_at=send.on_or_before(times.followup_call_by),
            to=meeting.responsible.email,
            meeting_id=meeting.meeting_id,
            details={"followup_on": meeting.followup_on.isoformat()},
        )


def _followup_called(case: Case, held: Meeting) -> bool:
    """A later meeting, scheduled or held, is the follow-up being called."""
    return any(
        other.status != "cancelled" and other.starts_at > held.starts_at for other in case.meetings.values()
    )


def _consent_expiry(
    case: Case, report: DeadlineReport, policy: ReminderPolicy, send: SendTimes, today: date
) -> Iterator[PlannedReminder]:
    consent = case.consent
    day = report.consent_reminder_on
    if not policy.consent_expiry.enabled or day is None or consent is None or consent.valid_to is None:
        return
    if not case.consent_active(today):
        return
    yield PlannedReminder(
        key=f"consent_expiry:{consent.valid_to.isoformat()}",
        kind="consent_expiry",
        due_at=send.on_or_before(day),
        to=case.coordinator.email,
        details={"valid_to": consent.valid_to.isoformat()},
    )


def _turns_18(
    case: Case, report: DeadlineReport, policy: ReminderPolicy, send: SendTimes, calendar: WorkingCalendar
) -> Iterator[PlannedReminder]:
    lead = policy.turns_18.lead
    if not policy.turns_18.enabled or lead is None:
        return
    for deadline in report.deadlines:
        if deadline.kind == "turns_18" and deadline.status == "pending":
            yield PlannedReminder(
                key=f"turns_18:{deadline.due.isoformat()}",
                kind="turns_18",
                due_at=send.on_or_before(days_before(calendar, deadline.due, lead)),
                to=case.coordinator.email,
                details={"on": deadline.due.isoformat()},
            )


def _leaves_target_group(
    case: Case,
    report: DeadlineReport,
    policy: ReminderPolicy,
    send: SendTimes,
    calendar: WorkingCalendar,
    today: date,
) -> Iterator[PlannedReminder]:
    """The coordinator hears before the person leaves the region's target group, so that the case is
    handed over or closed by a person, not left to lapse (RULES.md: a warning and a reminder)."""
    lead = policy.leaves_target_group.lead
    leaves_on = report.leaves_target_group_on
    if not policy.leaves_target_group.enabled or lead is None or leaves_on is None or leaves_on <= today:
        return
    yield PlannedReminder(
        key=f"leaves_target_group:{leaves_on.isoformat()}",
        kind="leaves_target_group",
        due_at=send.on_or_before(days_before(calendar, leaves_on, lead)),
        to=case.coordinator.email,
        details={"on": leaves_on.isoformat()},
    )


def urgent_opening_notice(case: Case, now: datetime) -> list[Effect]:
    """On the urgent track the coordinator is told at once that the case is open: one message, sent as
    the case opens, whatever the hour (RULES.md: "the coordinator told at once")."""
    if not case.urgent:
        return []
    plan = PlannedReminder(key="urgent_opened", kind="urgent_opened", due_at=now, to=case.coordinator.email)
    reminder = Reminder(key=plan.key, kind=plan.kind, due_at=now.astimezone(STOCKHOLM), to=plan.to)
    case.reminders.append(reminder)
    return [_send(case, reminder, plan, now)]


def _action_due(
    case: Case, policy: ReminderPolicy, send: SendTimes, calendar: WorkingCalendar, today: date
) -> Iterator[PlannedReminder]:
    lead = policy.action_due.lead
    if not policy.action_due.enabled or lead is None:
        return
    for action in case.actions.values():
        if action.completed_at is not None or action.due_on < today:
            continue
        yield PlannedReminder(
            key=f"action_due:{action.action_id}",
            kind="action_due",
            due_at=send.on_or_before(days_before(calendar, action.due_on, lead)),
            to=action.responsible_email or case.coordinator.email,
            meeting_id=action.meeting_id,
            details={"action_id": action.action_id, "due_on": action.due_on.isoformat()},
        )


def _deviations(case: Case, policy: ReminderPolicy, send: SendTimes) -> Iterator[PlannedReminder]:
    if not policy.deviation.enabled:
        return
    for deviation in case.deviations:
        details = {"deviation_id": deviation.deviation_id, "deviation_kind": deviation.kind}
        if deviation.action_id:
            details["action_id"] = deviation.action_id
        yield PlannedReminder(
            key=f"deviation:{deviation.deviation_id}",
            kind="deviation",
            due_at=send.next_open(deviation.detected_at),
            to=case.coordinator.email,
            meeting_id=deviation.meeting_id,
            participant_id=deviation.participant_id,
            details=details,
        )


def days_before(calendar: WorkingCalendar, day: date, count: DayCount) -> date:
    if count.counting == "working":
        return calendar.add_working_days(day, -count.days)
    return day - timedelta(days=count.days)


def schedule_reminders(
    case: Case, planned: list[PlannedReminder], send: SendTimes, now: datetime
) -> list[Effect]:
    """Write the plan into the case: send what is due now, arm a timer for the rest, call off what is no
    longer planned. Sent reminders are never sent again."""
    existing = {reminder.key: reminder for reminder in case.reminders}
    effects: list[Effect] = [CancelTimers(prefix=REMINDER_TIMER_PREFIX)]
    for plan in planned:
        reminder = existing.get(plan.key)
        if reminder is not None and reminder.status == "sent":
            continue
        due = (plan.due_at if plan.due_at > now else send.next_open(now)).astimezone(STOCKHOLM)
        if reminder is None:
            reminder = Reminder(key=plan.key, kind=plan.kind, due_at=due, to=plan.to)
            case.reminders.append(reminder)
            existing[plan.key] = reminder
        # An address refused for good would refuse the reminder too: it is called off now, in view.
        unreachable = plan.to.lower() in case.unreachable
        reminder.due_at, reminder.to = due, plan.to
        reminder.status = "cancelled" if unreachable else "scheduled"
        if unreachable:
            continue
        if due <= now:
            effects.append(_send(case, reminder, plan, now))
        else:
            effects.append(SetTimer(key=f"{REMINDER_TIMER_PREFIX}{plan.key}", kind="reminder", due_at=due))
    planned_keys = {plan.key for plan in planned}
    for reminder in case.reminders:
        if reminder.status == "scheduled" and reminder.key not in planned_keys:
            reminder.status = "cancelled"
    return effects


def _send(case: Case, reminder: Reminder, plan: PlannedReminder, now: datetime) -> QueueMessage:
    reminder.status = "sent"
    reminder.sent_at = now
    if plan.kind == "rsvp" and plan.meeting_id and plan.participant_id:
        case.meetings[plan.meeting_id].invitations[plan.participant_id].reminded_at = now
    return QueueMessage(
        key=f"{case.case_id}/reminder/{plan.key}",
        kind="reminder",
        channel="email",
        meeting_id=plan.meeting_id,
        participant_id=plan.participant_id,
        recipient=plan.to,
        payload={
            "notice": "reminder",
            "reminder": plan.kind,
            "reply_link": plan.kind == "rsvp",
            "queued_at": now.isoformat(),
            **plan.details,
        },
    )
