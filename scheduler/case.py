"""The state of one SIP case, as the events have left it.

The case is a document: it is stored whole (as JSON) and read whole, and every change to it is made by
`scheduler.decide` on a copy. It holds what sipvakt needs to watch the case and nothing more: the person is
a reference and a birth date, never a name or a personnummer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scheduler.events import Language

CaseStatus = Literal["open", "closed"]
MeetingStatus = Literal["scheduled", "cancelled", "held"]
# `queued`: a message is in the outbox (or the print queue) and has not reached the participant yet;
# `sent`: the mail server took it with 250 OK (a letter: marked posted).
InvitationStatus = Literal[
    "pending", "queued", "sent", "accepted", "declined", "tentative", "delegated", "unanswered", "failed"
]
DeadlineStatus = Literal["pending", "met", "missed"]
DeviationKind = Literal["no_response", "no_show", "action_not_done", "late"]
ReminderStatus = Literal["scheduled", "sent", "cancelled"]
ReminderKind = Literal[
    "rsvp",
    "followup_call",
    "consent_expiry",
    "turns_18",
    "leaves_target_group",
    "action_due",
    "deviation",
    "urgent_opened",
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ContactInfo(Model):
    name: str
    email: str
    organisation: str


class PersonInfo(Model):
    reference: str
    birth_date: date | None = None
    email: str | None = None
    postal_address: str | None = None


class Consent(Model):
    given_by: str
    valid_from: date
    valid_to: date | None = None
    given_at: datetime
    withdrawn_at: datetime | None = None


class ParticipantInfo(Model):
    participant_id: str
    name: str
    email: str | None = None
    organisation: str | None = None
    role: str
    channel: Literal["email", "letter"]
    postal_address: str | None = None
    delegate_of: str | None = None
    # What the participant reads their messages in; a substitute named later gets Swedish.
    language: Language = "sv"


class Invitation(Model):
    """One participant's invitation. `queued_at` is when the first message to them was queued (from then
    on every change of the meeting is sent to them); `sent_at` is when the message that carries the
    meeting's current time was delivered, and the notice counts from it; `first_sent_at` is the first
    delivery of all, which is what "invitations sent by" asks."""

    participant_id: str
    channel: Literal["email", "letter"]
    status: InvitationStatus = "pending"
    queued_at: datetime | None = None
    sent_at: datetime | None = None
    first_sent_at: datetime | None = None
    reminded_at: datetime | None = None
    responded_at: datetime | None = None
    comment: str | None = None
    delegated_to: str | None = None

    @model_validator(mode="after")
    def _from_before_delivery_was_tracked(self) -> Invitation:
        # Cases stored before delivery was tracked set `sent_at` when the message was queued.
        if self.sent_at is not None:
            self.queued_at = self.queued_at or self.sent_at
            self.first_sent_at = self.first_sent_at or self.sent_at
        return self


class Meeting(Model):
    meeting_id: str
    kind: Literal["initial", "followup"]
    status: MeetingStatus = "scheduled"
    starts_at: datetime
    ends_at: datetime
    location: str
    online_url: str | None = None
    organizer: ContactInfo
    purpose: str
    questions: list[str] = Field(default_factory=list)
    notice_agreed: bool = False
    scheduled_at: datetime
    sequence: int = 0
    participants: dict[str, ParticipantInfo] = Field(default_factory=dict)
    invitations: dict[str, Invitation] = Field(default_factory=dict)
    cancelled_at: datetime | None = None
    held_at: datetime | None = None
    absent: list[str] = Field(default_factory=list)
    responsible: ContactInfo | None = None
    followup_on: date | None = None
    notice_days: int | None = None
    notice_ok: bool | None = None
    survey_sent_at: datetime | None = None


class ActionItem(Model):
    action_id: str
    meeting_id: str
    description: str
    responsible_organisation: str
    responsible_email: str | None = None
    due_on: date
    completed_at: datetime | None = None


class Deadline(Model):
    kind: str
    due: date
    status: DeadlineStatus
    rule: str
    meeting_id: str | None = None
    action_id: str | None = None
    must: bool = True


class Warning(Model):
    kind: str
    message: str


class Deviation(Model):
    deviation_id: str
    kind: DeviationKind
    detected_at: datetime
    meeting_id: str | None = None
    participant_id: str | None = None
    action_id: str | None = None
    # The qualified rule that makes this a deviation, and whether the region's guideline names it an
    # avvikelse (reportable) or it is sipvakt's own escalation. None only on a deviation stored before
    # deviations carried their rule.
    rule: str | None = None
    reportable: bool = False


class Reminder(Model):
    """A reminder planned, sent or called off. `key` says what it is about (kind, meeting, participant,
    action or deviation, and which of a series), so planning again finds it."""

    key: str
    kind: ReminderKind
    due_at: datetime
    to: str
    status: ReminderStatus = "scheduled"
    sent_at: datetime | None = None


class Case(Model):
    case_id: str
    integration_id: str
    region: str
    status: CaseStatus = "open"
    closed_reason: str | None = None
    closed_at: datetime | None = None
    urgent: bool
    municipality: str | None = None
    person: PersonInfo
    detected_at: date
    detected_by: str
    discharge_notice_at: datetime | None = None
    coordinator: ContactInfo
    opened_at: datetime
    consent: Consent | None = None
    meetings: dict[str, Meeting] = Field(default_factory=dict)
    actions: dict[str, ActionItem] = Field(default_factory=dict)
    deadlines: list[Deadline] = Field(default_factory=list)
    warnings: list[Warning] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    reminders: list[Reminder] = Field(default_factory=list)
    # Addresses (lower case) a mail server refused for good: no reminder is sent to them.
    unreachable: list[str] = Field(default_factory=list)
    # When retention erased the case's names, addresses and free text (`scheduler.retention`).
    erased_at: datetime | None = None

    def organisations(self) -> set[str]:
        """Every organisation taking part in the case; a token scoped to one of them may read it."""
        found = {self.coordinator.organisation}
        if self.municipality:
            found.add(self.municipality)
        for meeting in self.meetings.values():
            found.add(meeting.organizer.organisation)
            found.update(p.organisation for p in meeting.participants.values() if p.organisation)
            if meeting.responsible:
                found.add(meeting.responsible.organisation)
        found.update(action.responsible_organisation for action in self.actions.values())
        return found

    def consent_active(self, on: date) -> bool:
        """Consent given, not withdrawn, and valid on the given day."""
        consent = self.consent
        if consent is None or consent.withdrawn_at is not None:
            return False
        return consent.valid_from <= on and (consent.valid_to is None or on <= consent.valid_to)
