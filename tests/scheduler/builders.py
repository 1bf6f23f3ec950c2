"""Small builders for obviously fake cases (Testbarn Testsson in Exempelkommun)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from scheduler.case import Case, ContactInfo, Invitation, Meeting, ParticipantInfo, PersonInfo
from scheduler.decide import Applied, Context, decide
from scheduler.effects import Effect
from scheduler.events import parse_event

STOCKHOLM = ZoneInfo("Europe/Stockholm")
COORDINATOR = ContactInfo(
    name="Samordnare Exempel", email="samordnare@example.org", organisation="Exempelkommun"
)


def at(text: str) -> datetime:
    """A Stockholm wall-clock time, "2026-11-23 09:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def make_case(
    region: str,
    detected_at: date,
    *,
    urgent: bool = False,
    birth_date: date | None = None,
    discharge_notice_at: datetime | None = None,
) -> Case:
    return Case(
        case_id="test-0001",
        integration_id="test",
        region=region,
        urgent=urgent,
        person=PersonInfo(reference="testbarn-1", birth_date=birth_date),
        detected_at=detected_at,
        detected_by="skola",
        discharge_notice_at=discharge_notice_at,
        coordinator=COORDINATOR,
        opened_at=at(f"{detected_at.isoformat()} 10:00"),
    )


def add_meeting(
    case: Case,
    meeting_id: str,
    starts_at: datetime,
    *,
    minutes: int = 60,
    channels: tuple[Literal["email", "letter"], ...] = ("email",),
    sent_at: datetime | None = None,
    notice_agreed: bool = False,
    status: Literal["scheduled", "held", "cancelled"] = "scheduled",
    followup_on: date | None = None,
) -> Meeting:
    participants = {
        f"p{index}": ParticipantInfo(
            participant_id=f"p{index}",
            name=f"Deltagare {index}",
            email=f"deltagare{index}@example.org" if channel == "email" else None,
            postal_address="Exempelgatan 1, 123 45 Exempelstad" if channel == "letter" else None,
            role="professional",
            channel=channel,
        )
        for index, channel in enumerate(channels)
    }
    invitations = {
        pid: Invitation(
            participant_id=pid,
            channel=participant.channel,
            status="sent" if sent_at else "pending",
            sent_at=sent_at,
        )
        for pid, participant in participants.items()
    }
    meeting = Meeting(
        meeting_id=meeting_id,
        kind="initial",
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        location="Exempelskolan, rum 1",
        organizer=COORDINATOR,
        purpose="Samordna insatser",
        notice_agreed=notice_agreed,
        scheduled_at=starts_at - timedelta(days=30),
        participants=participants,
        invitations=invitations,
        followup_on=followup_on,
    )
    case.meetings[meeting_id] = meeting
    return meeting


def applied(bodies: Iterable[dict[str, Any]], context: Context) -> tuple[Case, list[Effect]]:
    """The case the events make, each decided in turn as the event processor would, and every effect."""
    case: Case | None = None
    effects: list[Effect] = []
    for body in bodies:
        decision = decide(case, parse_event(body), context)
        assert isinstance(decision, Applied), decision
        case, effects = decision.case, [*effects, *decision.effects]
    assert case is not None
    return case, effects
