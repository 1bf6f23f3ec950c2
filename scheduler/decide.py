"""Applying one event to one case: `(case, event) -> (new case, effects)`, with no I/O.

Every rule about what an event does lives here. The shell stores the new case and carries out the
effects in the same transaction. An event that depends on something not yet seen (a reply before its
meeting) is answered with `Waiting`; the shell keeps it and offers it again after the next change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from calendars.stockholm import local_date
from config.region_rules import RegionRules
from config.reminder_policy import PolicyOverrides
from scheduler.case import (
    ActionItem,
    Case,
    Consent,
    ContactInfo,
    Invitation,
    Meeting,
    ParticipantInfo,
    PersonInfo,
)
from scheduler.consent import invitation_hold
from scheduler.effects import (
    CancelTimers,
    CancelUnsentMessages,
    Effect,
    MessageKind,
    QueueMessage,
)
from scheduler.escalation import no_shows
from scheduler.events import (
    ActionCompleted,
    CaseClosed,
    CaseOpened,
    ConsentGiven,
    Contact,
    Event,
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
    ParticipantResponded,
)
from scheduler.reminders import urgent_opening_notice


class Planner(Protocol):
    """Brings a case up to date (deadlines, warnings, escalations, reminders) and says what to write and
    send with it; `with_overrides` gives the planner under one case's reminder policy overrides, and
    `rules` the region rules a case is judged by (which absences are deviations, say)."""

    def refresh(self, case: Case, now: datetime) -> list[Effect]: ...

    def with_overrides(self, overrides: PolicyOverrides) -> Planner: ...

    def rules(self, case: Case) -> RegionRules: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    integration_id: str
    planner: Planner


@dataclass
class Applied:
    case: Case
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True)
class Waiting:
    """The event needs something that has not arrived yet."""

    reason: str


@dataclass(frozen=True)
class Rejected:
    """The event can never apply to this case; it is kept, with the reason, and not applied."""

    reason: str


Decision = Applied | Waiting | Rejected

FOREIGN_CASE = "the case belongs to another integration"
# No invitation can give notice of a meeting that has begun.
STARTED = "the meeting's start has passed"


def decide(case: Case | None, event: Event, ctx: Context) -> Decision:
    """Apply `event` to a copy of `case`; the input is never changed."""
    if case is not None and case.integration_id != ctx.integration_id:
        return Rejected(FOREIGN_CASE)
    if isinstance(event.data, CaseOpened):
        if case is not None:
            return Rejected("the case is already open; case.opened comes once per case")
        opened = _open_case(event, event.data, ctx)
        decision: Decision = Applied(opened, urgent_opening_notice(opened, ctx.now))
    elif case is None:
        return Waiting("the case has not been opened yet")
    elif case.status == "closed":
        return Rejected("the case is closed")
    else:
        handler = _HANDLERS[event.type]
        decision = handler(case.model_copy(deep=True), event, ctx)
    if isinstance(decision, Applied):
        decision.effects.extend(ctx.planner.refresh(decision.case, ctx.now))
    return decision


def _contact(contact: Contact) -> ContactInfo:
    return ContactInfo(name=contact.name, email=str(contact.email), organisation=contact.organisation)


def _open_case(event: Event, data: CaseOpened, ctx: Context) -> Case:
    person = data.person
    return Case(
        case_id=event.case_id,
        integration_id=ctx.integration_id,
        region=data.region,
        urgent=data.urgent,
        municipality=data.municipality,
        person=PersonInfo(
            reference=person.reference,
            birth_date=person.birth_date,
            email=str(person.email) if person.email else None,
            postal_address=person.postal_address,
        ),
        detected_at=data.detected_at,
        detected_by=data.detected_by,
        discharge_notice_at=data.discharge_notice_at,
        coordinator=_contact(data.coordinator),
        opened_at=event.occurred_at,
    )


def _consent_given(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, ConsentGiven)
    data = event.data
    case.consent = Consent(
        given_by=data.given_by, valid_from=data.valid_from, valid_to=data.valid_to, given_at=event.occurred_at
    )
    return Applied(case, release_held_invitations(case, ctx.now))


def _consent_withdrawn(case: Case, event: Event, ctx: Context) -> Decision:
    if case.consent is not None:
        case.consent.withdrawn_at = event.occurred_at
    effects: list[Effect] = [CancelUnsentMessages(erase=True)]
    for meeting in _upcoming(case, ctx.now):
        effects.extend(_cancel_meeting(case, meeting, event.occurred_at))
    _close(case, "consent_withdrawn", event.occurred_at)
    effects.append(CancelTimers())
    return Applied(case, effects)


def _meeting_scheduled(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, MeetingScheduled)
    data = event.data
    if data.meeting_id in case.meetings:
        return Rejected("this meeting is already scheduled; a new time is meeting.rescheduled")
    if data.starts_at <= ctx.now:
        return Rejected(STARTED)
    meeting = Meeting(
        meeting_id=data.meeting_id,
        kind=data.kind,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        location=data.location,
        online_url=data.online_url,
        organizer=_contact(data.organizer),
        purpose=data.purpose,
        questions=list(data.questions),
        notice_agreed=data.notice_agreed,
        scheduled_at=event.occurred_at,
    )
    for participant in data.participants:
        meeting.participants[participant.participant_id] = ParticipantInfo(
            participant_id=participant.participant_id,
            name=participant.name,
            email=str(participant.email) if participant.email else None,
            organisation=participant.organisation,
            role=participant.role,
            channel=participant.channel,
            postal_address=participant.postal_address,
            language=participant.language,
        )
        meeting.invitations[participant.participant_id] = Invitation(
            participant_id=participant.participant_id, channel=participant.channel
        )
    case.meetings[meeting.meeting_id] = meeting
    return Applied(case, invite_pending(case, meeting, ctx.now))


def _meeting_rescheduled(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, MeetingRescheduled)
    data = event.data
    meeting = case.meetings.get(data.meeting_id)
    if meeting is None:
        return Waiting("the meeting has not been scheduled yet")
    if meeting.status != "scheduled":
        return Rejected(f"the meeting is {meeting.status} and cannot be moved")
    if data.starts_at <= ctx.now:
        return Rejected(STARTED)
    meeting.starts_at, meeting.ends_at = data.starts_at, data.ends_at
    if data.location is not None:
        meeting.location = data.location
    if data.online_url is not None:
        meeting.online_url = data.online_url
    meeting.sequence += 1
    effects: list[Effect] = [CancelTimers(prefix=f"meeting:{meeting.meeting_id}:")]
    # A new time asks everyone again: earlier answers were to another time. Nobody has been told the new
    # time until the update reaches them, so the notice counts from its delivery, not from the first one.
    for invitation in meeting.invitations.values():
        if invitation.queued_at is None:
            continue
        invitation.sent_at = None
        if invitation.status in {"sent", "accepted", "declined", "tentative", "unanswered"}:
            invitation.status = "queued"
            invitation.responded_at = None
            invitation.reminded_at = None
        if invitation.status != "delegated":
            effects.append(_message(case, meeting, invitation, "update", ctx.now))
    effects.extend(invite_pending(case, meeting, ctx.now))
    return Applied(case, effects)


def _meeting_cancelled(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, MeetingCancelled)
    meeting = case.meetings.get(event.data.meeting_id)
    if meeting is None:
        return Waiting("the meeting has not been scheduled yet")
    if meeting.status != "scheduled":
        return Rejected(f"the meeting is already {meeting.status}")
    return Applied(case, _cancel_meeting(case, meeting, event.occurred_at))


def _participant_responded(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, ParticipantResponded)
    data = event.data
    meeting = case.meetings.get(data.meeting_id)
    if meeting is None:
        return Waiting("the meeting has not been scheduled yet")
    invitation = meeting.invitations.get(data.participant_id)
    if invitation is None:
        return Rejected("no participant with this participant_id is invited to the meeting")
    if meeting.status != "scheduled":
        return Rejected(f"the meeting is {meeting.status}; replies are no longer taken")
    invitation.status = data.response
    invitation.responded_at = event.occurred_at
    invitation.comment = data.comment
    effects: list[Effect] = [CancelTimers(prefix=f"meeting:{meeting.meeting_id}:rsvp:{data.participant_id}")]
    if data.response == "delegated" and data.delegate is not None:
        effects.extend(_add_delegate(case, meeting, data, ctx))
    return Applied(case, effects)


def _add_delegate(case: Case, meeting: Meeting, data: ParticipantResponded, ctx: Context) -> list[Effect]:
    assert data.delegate is not None
    original = meeting.participants[data.participant_id]
    delegate_id = f"{data.participant_id}.ersattare"
    suffix = 2
    while delegate_id in meeting.participants:
        delegate_id, suffix = f"{data.participant_id}.ersattare{suffix}", suffix + 1
    meeting.participants[delegate_id] = ParticipantInfo(
        participant_id=delegate_id,
        name=data.delegate.name,
        email=str(data.delegate.email),
        organisation=data.delegate.organisation or original.organisation,
        role=original.role,
        channel="email",
        delegate_of=data.participant_id,
    )
    meeting.invitations[delegate_id] = Invitation(participant_id=delegate_id, channel="email")
    meeting.invitations[data.participant_id].delegated_to = delegate_id
    return invite_pending(case, meeting, ctx.now)


def _meeting_held(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, MeetingHeld)
    data = event.data
    meeting = case.meetings.get(data.meeting_id)
    if meeting is None:
        return Waiting("the meeting has not been scheduled yet")
    if meeting.status == "cancelled":
        return Rejected("the meeting was cancelled")
    if meeting.status == "held":
        return Rejected("the meeting is already recorded as held")
    unknown = [pid for pid in data.absent if pid not in meeting.participants]
    if unknown:
        return Rejected(f"absent names {len(unknown)} participant_id(s) not invited to the meeting")
    meeting.status = "held"
    meeting.held_at = event.occurred_at
    meeting.absent = list(data.absent)
    meeting.responsible = _contact(data.responsible)
    meeting.followup_on = data.followup_on
    effects: list[Effect] = [CancelTimers(prefix=f"meeting:{meeting.meeting_id}:")]
    for action in data.actions:
        if action.action_id in case.actions:
            return Rejected("an action_id in actions already belongs to an earlier meeting")
        case.actions[action.action_id] = ActionItem(
            action_id=action.action_id,
            meeting_id=meeting.meeting_id,
            description=action.description,
            responsible_organisation=action.responsible_organisation,
            responsible_email=str(action.responsible_email) if action.responsible_email else None,
            due_on=action.due_on,
        )
    effects.extend(no_shows(case, meeting, ctx.planner.rules(case), ctx.now))
    return Applied(case, effects)


def _action_completed(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, ActionCompleted)
    action = case.actions.get(event.data.action_id)
    if action is None:
        return Waiting("no meeting has agreed on this action yet")
    if action.completed_at is None:
        action.completed_at = event.occurred_at
    return Applied(case, [CancelTimers(prefix=f"action:{action.action_id}:")])


def _case_closed(case: Case, event: Event, ctx: Context) -> Decision:
    assert isinstance(event.data, CaseClosed)
    effects: list[Effect] = [CancelUnsentMessages()]
    for meeting in _upcoming(case, ctx.now):
        effects.extend(_cancel_meeting(case, meeting, event.occurred_at))
    _close(case, event.data.reason, event.occurred_at)
    effects.append(CancelTimers())
    return Applied(case, effects)


_HANDLERS: dict[str, Callable[[Case, Event, Context], Decision]] = {
    "consent.given": _consent_given,
    "consent.withdrawn": _consent_withdrawn,
    "meeting.scheduled": _meeting_scheduled,
    "meeting.rescheduled": _meeting_rescheduled,
    "meeting.cancelled": _meeting_cancelled,
    "participant.responded": _participant_responded,
    "meeting.held": _meeting_held,
    "action.completed": _action_completed,
    "case.closed": _case_closed,
}


def _upcoming(case: Case, now: datetime) -> list[Meeting]:
    return [m for m in case.meetings.values() if m.status == "scheduled" and m.ends_at > now]


def _close(case: Case, reason: str, at: datetime) -> None:
    case.status = "closed"
    case.closed_reason = reason
    case.closed_at = at
    for reminder in case.reminders:
        if reminder.status == "scheduled":
            reminder.status = "cancelled"


def _cancel_meeting(case: Case, meeting: Meeting, at: datetime) -> list[Effect]:
    meeting.status = "cancelled"
    meeting.cancelled_at = at
    meeting.sequence += 1
    effects: list[Effect] = [CancelTimers(prefix=f"meeting:{meeting.meeting_id}:")]
    for invitation in meeting.invitations.values():
        if invitation.queued_at is not None:
            effects.append(_message(case, meeting, invitation, "cancel", at))
    return effects


def invite_pending(case: Case, meeting: Meeting, now: datetime) -> list[Effect]:
    """Send every invitation of the meeting still waiting, unless consent holds them back now."""
    if meeting.status != "scheduled" or invitation_hold(case, meeting, local_date(now)) is not None:
        return []
    effects: list[Effect] = []
    for invitation in meeting.invitations.values():
        if invitation.status == "pending":
            # Sent only when the mail server takes it (or the letter is posted): see scheduler.delivered.
            invitation.status = "queued"
            invitation.queued_at = now
            effects.append(_message(case, meeting, invitation, "request", now))
    return effects


def release_held_invitations(case: Case, now: datetime) -> list[Effect]:
    """Send what consent held back, now that the hold may have ended (the consent's first day)."""
    effects: list[Effect] = []
    for meeting in _upcoming(case, now):
        effects.extend(invite_pending(case, meeting, now))
    return effects


def _message(
    case: Case, meeting: Meeting, invitation: Invitation, kind: MessageKind, now: datetime
) -> Effect:
    participant = meeting.participants[invitation.participant_id]
    recipient = participant.email if invitation.channel == "email" else participant.postal_address
    return QueueMessage(
        key=f"{case.case_id}/{meeting.meeting_id}/{participant.participant_id}/{kind}/{meeting.sequence}",
        kind=kind,
        channel=invitation.channel,
        meeting_id=meeting.meeting_id,
        participant_id=participant.participant_id,
        recipient=recipient or "",
        payload={"sequence": meeting.sequence, "queued_at": now.isoformat()},
    )
