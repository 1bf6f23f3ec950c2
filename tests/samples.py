"""Event bodies for tests: obviously fake people, Skatteverket's test personnummer, example addresses."""

from __future__ import annotations

from typing import Any

# The top-level fields of GET /v1/cases/{id}, as CONTRACT.md fixes them.
CASE_FIELDS = {
    "case_id",
    "region",
    "status",
    "urgent",
    "deadlines",
    "meetings",
    "deviations",
    "reminders",
    "warnings",
}

TEST_PERSONNUMMER = "20121212-1212"  # Skatteverket's published test number pattern (Luhn-valid)


def case_opened(case_id: str = "blek-2026-0042", region: str = "blekinge", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "case.opened",
        "case_id": case_id,
        "occurred_at": "2026-11-23T09:15:00+01:00",
        "data": {
            "region": region,
            "municipality": "Testkommun",
            "person": {"reference": "person-1", "personnummer": TEST_PERSONNUMMER, "name": "Testa Testsson"},
            "detected_at": "2026-11-20",
            "detected_by": "skola",
            "urgent": False,
            "coordinator": {
                "name": "Kim Koordinator",
                "email": "kim.koordinator@example.se",
                "organisation": "Testkommun socialtjänst",
            },
        },
    }
    body["data"].update(data)
    return body


def consent_given(case_id: str = "blek-2026-0042", **data: Any) -> dict[str, Any]:
    return {
        "type": "consent.given",
        "case_id": case_id,
        "occurred_at": "2026-11-23T10:00:00+01:00",
        "data": {"given_by": "guardian", "valid_from": "2026-11-23", "valid_to": "2027-11-22", **data},
    }


def meeting_scheduled(case_id: str = "blek-2026-0042", meeting_id: str = "m1", **data: Any) -> dict[str, Any]:
    return {
        "type": "meeting.scheduled",
        "case_id": case_id,
        "occurred_at": "2026-11-23T11:00:00+01:00",
        "data": {
            "meeting_id": meeting_id,
            "kind": "initial",
            "starts_at": "2026-12-17T13:00:00+01:00",
            "ends_at": "2026-12-17T14:30:00+01:00",
            "location": "Testskolan, rum 3",
            "organizer": {
                "name": "Kim Koordinator",
                "email": "kim.koordinator@example.se",
                "organisation": "Testkommun socialtjänst",
            },
            "participants": [
                {
                    "participant_id": "p-guardian",
                    "name": "Åsa Öberg (test)",
                    "email": "asa.oberg@example.org",
                    "role": "guardian",
                    "channel": "email",
                },
                {
                    "participant_id": "p-school",
                    "name": "Sam Skolsköterska",
                    "email": "sam@example.se",
                    "organisation": "Testskolan",
                    "role": "professional",
                    "channel": "email",
                },
                {
                    "participant_id": "p-bup",
                    "name": "Bo Behandlare",
                    "organisation": "Testregionen BUP",
                    "role": "professional",
                    "channel": "letter",
                    "postal_address": "Box 1\n111 11 Teststad",
                },
            ],
            "purpose": "Samordna insatser i skola och hem",
            **data,
        },
    }


def responded(
    participant_id: str, response: str, case_id: str = "blek-2026-0042", meeting_id: str = "m1", **data: Any
) -> dict[str, Any]:
    return {
        "type": "participant.responded",
        "case_id": case_id,
        "occurred_at": "2026-11-24T08:00:00+01:00",
        "data": {"meeting_id": meeting_id, "participant_id": participant_id, "response": response, **data},
    }


def rescheduled(
    starts_at: str = "2026-12-18T13:00:00+01:00",
    ends_at: str = "2026-12-18T14:00:00+01:00",
    case_id: str = "blek-2026-0042",
    meeting_id: str = "m1",
) -> dict[str, Any]:
    """The meeting moved a day later, as a meeting.rescheduled event."""
    return event("meeting.rescheduled", case_id, meeting_id=meeting_id, starts_at=starts_at, ends_at=ends_at)


def event(
    kind: str, case_id: str = "blek-2026-0042", occurred_at: str = "2026-11-24T08:00:00+01:00", **data: Any
) -> dict[str, Any]:
    return {"type": kind, "case_id": case_id, "occurred_at": occurred_at, "data": data}
