"""What the deadline engine returns for a case."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from scheduler.case import Deadline, Warning


class MeetingTimes(BaseModel):
    """A meeting's notice and the days the reminders and the escalation hang on.

    `notice_days` is the shortest notice any first-round invitee has: calendar days from receiving the
    invitation to the meeting day. An invitation not delivered yet counts as if it left today, so before
    delivery the number says what notice the meeting would still get; one that failed gives none (0).
    `notice_ok` compares it with `required_notice_days` (0 on the urgent track, with notice agreed, or
    where the region sets none).
    """

    model_config = ConfigDict(frozen=True)

    meeting_id: str
    notice_days: int | None
    required_notice_days: int
    notice_ok: bool | None
    latest_send_on: date | None = Field(description="latest day every first-round invitation could leave")
    escalation_on: date
    rsvp_due_by_participant: dict[str, date] = Field(default_factory=dict)
    followup_call_by: date | None = None


class DeadlineReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    deadlines: list[Deadline]
    warnings: list[Warning]
    meetings: dict[str, MeetingTimes]
    consent_reminder_on: date | None = None
    leaves_target_group_on: date | None = None
