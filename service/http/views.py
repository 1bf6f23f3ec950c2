"""The JSON the API answers with, in CONTRACT.md's shapes, as models: the OpenAPI document is generated
from the same classes, so the two cannot drift."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from scheduler.case import Case, Deviation, DeviationKind, Meeting

if TYPE_CHECKING:
    from service.storage.acknowledgements import Acknowledgement


class DeadlineView(BaseModel):
    kind: str
    due: date
    status: Literal["pending", "met", "missed"]
    rule: str
    meeting_id: str | None = None
    action_id: str | None = None


class InvitationView(BaseModel):
    participant_id: str
    channel: Literal["email", "letter"]
    status: str
    sent_at: datetime | None
    reminded_at: datetime | None
    delegated_to: str | None = None
    # What the participant wrote with their answer: a decline's reason, a proposal's comment.
    comment: str | None = None


class MeetingView(BaseModel):
    meeting_id: str
    kind: Literal["initial", "followup"]
    status: Literal["scheduled", "cancelled", "held"]
    starts_at: datetime
    ends_at: datetime
    notice_days: int | None
    notice_ok: bool | None
    invitations: list[InvitationView]


class DeviationView(BaseModel):
    deviation_id: str
    kind: DeviationKind
    detected_at: datetime
    meeting_id: str | None
    participant_id: str | None
    action_id: str | None
    rule: str | None = Field(
        description="the qualified rule that makes this a deviation: for `late` the rule whose deadline was"
        " missed, otherwise the region's own deviation rule or sipvakt's `default.escalation`; null only on"
        " deviations recorded before rules were kept"
    )
    reportable: bool = Field(
        description="true when the region's guideline names the situation a deviation (avvikelse); false "
        "for sipvakt's own escalations"
    )
    acknowledged_at: datetime | None = Field(
        default=None, description="when a coordinator acknowledged the deviation; null until then"
    )
    acknowledged_by: str | None = Field(
        default=None, description="the token or user id (`usr_…`) that acknowledged it; null until then"
    )


class ReminderView(BaseModel):
    kind: str
    due_at: datetime
    to: str
    status: Literal["scheduled", "sent", "cancelled"]


class WarningView(BaseModel):
    kind: str
    message: str


class CaseView(BaseModel):
    case_id: str
    region: str
    status: Literal["open", "closed"]
    urgent: bool
    deadlines: list[DeadlineView]
    meetings: list[MeetingView]
    deviations: list[DeviationView]
    reminders: list[ReminderView]
    warnings: list[WarningView]


class DeadlinesView(BaseModel):
    """What `sipvakt deadlines` prints."""

    deadlines: list[DeadlineView]
    warnings: list[WarningView]


def case_view(
    case: Case,
    stopped_timers: Sequence[tuple[str, int]] = (),
    acknowledgements: Mapping[str, Acknowledgement] | None = None,
) -> dict[str, Any]:
    """The case as the API shows it; `stopped_timers` (key, attempts) are timers parked as dead, shown as
    warnings because something the case waits for will not happen by itself; `acknowledgements` (by
    deviation id) say which deviations a coordinator has acknowledged, and by whom (never the note)."""
    view = CaseView(
        case_id=case.case_id,
        region=case.region,
        status=case.status,
        urgent=case.urgent,
        deadlines=[DeadlineView.model_validate(d, from_attributes=True) for d in case.deadlines],
        meetings=[_meeting_view(meeting) for meeting in case.meetings.values()],
        deviations=[_deviation_view(d, acknowledgements or {}) for d in case.deviations],
        reminders=[ReminderView.model_validate(r, from_attributes=True) for r in case.reminders],
        warnings=[WarningView.model_validate(w, from_attributes=True) for w in case.warnings]
        + [_stopped_timer_warning(key, attempts) for key, attempts in stopped_timers],
    )
    return view.model_dump(mode="json")


def _deviation_view(deviation: Deviation, acknowledgements: Mapping[str, Acknowledgement]) -> DeviationView:
    view = DeviationView.model_validate(deviation, from_attributes=True)
    done = acknowledgements.get(deviation.deviation_id)
    if done is not None:
        view.acknowledged_at, view.acknowledged_by = done.acknowledged_at, done.acknowledged_by
    return view


def _stopped_timer_warning(key: str, attempts: int) -> WarningView:
    return WarningView(
        kind="timer_stopped",
        message=f"The timer '{key}' was stopped after {attempts} failed attempt(s); it will not fire until"
        " the case changes or an operator looks at it.",
    )


def deadlines_view(case: Case) -> dict[str, Any]:
    view = DeadlinesView(
        deadlines=[DeadlineView.model_validate(d, from_attributes=True) for d in case.deadlines],
        warnings=[WarningView.model_validate(w, from_attributes=True) for w in case.warnings],
    )
    return view.model_dump(mode="json")


def _meeting_view(meeting: Meeting) -> MeetingView:
    return MeetingView(
        meeting_id=meeting.meeting_id,
        kind=meeting.kind,
        status=meeting.status,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        notice_days=meeting.notice_days,
        notice_ok=meeting.notice_ok,
        invitations=[
            InvitationView.model_validate(i, from_attributes=True) for i in meeting.invitations.values()
        ],
    )
