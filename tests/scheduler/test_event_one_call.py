"""A valid event is checked in one call into pydantic; the two-step check stays the one that reports
errors. Both must give the same event, and every body the one call refuses goes to the two steps."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler import events
from scheduler.events import Event, EventValidationError, parse_event

CONTACT = {"name": "Koordinator (test)", "email": "Koordinator@Kommun.Example", "organisation": "Kommunen"}
AT = "2026-11-23T09:00:00+01:00"


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "case_id": " case-1 ", "occurred_at": AT, "data": data}


VALID = [
    body(
        "case.opened",
        {
            "region": "blekinge",
            "person": {"reference": "elev-1", "birth_date": "2012-12-12", "name": "Test Testsson"},
            "detected_at": "2026-11-16",
            "detected_by": "skola",
            "urgent": False,
            "coordinator": CONTACT,
        },
    ),
    body(
        "case.opened",
        {
            "region": "blekinge",
            "person": {"reference": "elev-2", "personnummer": "20121212-1212"},
            "detected_at": "2026-11-16",
            "detected_by": "skola",
            "urgent": True,
            "coordinator": CONTACT,
        },
    ),
    body("consent.given", {"given_by": "guardian", "valid_from": "2026-11-23"}),
    body("consent.withdrawn", {}),
    body(
        "meeting.scheduled",
        {
            "meeting_id": "m1",
            "kind": "initial",
            "starts_at": "2027-01-05T13:00:00+01:00",
            "ends_at": "2027-01-05T14:00:00+01:00",
            "location": "  Testskolan  ",
            "organizer": CONTACT,
            "participants": [
                {
                    "participant_id": "p1",
                    "name": "Vårdnadshavare (test)",
                    "email": "hem@example.org",
                    "role": "guardian",
                    "channel": "email",
                }
            ],
            "purpose": "Samordna insatser",
        },
    ),
    body("participant.responded", {"meeting_id": "m1", "participant_id": "p1", "response": "accepted"}),
    body("case.closed", {"reason": "goals_met"}),
]


def two_steps(body: object, monkeypatch: pytest.MonkeyPatch) -> Event:
    with monkeypatch.context() as patch:
        patch.setattr(events, "_checked_at_once", lambda body: None)
        return parse_event(body)


@pytest.mark.parametrize("valid", VALID, ids=lambda b: str(b["type"]))
def test_one_call_gives_the_event_of_the_two_steps(
    valid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert events._checked_at_once(valid) is not None
    one, two = parse_event(valid), two_steps(valid, monkeypatch)
    assert one == two
    assert type(one.data) is type(two.data)
    assert one.to_json_dict() == two.to_json_dict()
    assert one.model_fields_set == two.model_fields_set


INVALID = [
    {**VALID[2], "type": "consent.gvien"},
    {**VALID[2], "extra": 1},
    {**VALID[2], "data": {**VALID[2]["data"], "valid_to": "2026-01-01"}},
    {**VALID[1], "data": {**VALID[1]["data"], "person": {"reference": "e", "personnummer": "x"}}},
    {
        **VALID[1],
        "data": {
            **VALID[1]["data"],
            "person": {"reference": "e", "personnummer": "20121212-1212", "birth_date": "2012-12-13"},
        },
    },
    {**VALID[5], "data": "accepted"},
    {**VALID[5], "case_id": "19121212-1212"},
]


@pytest.mark.parametrize("invalid", INVALID)
def test_a_body_the_one_call_refuses_is_reported_by_the_two_steps(
    invalid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert events._checked_at_once(invalid) is None
    with pytest.raises(EventValidationError) as one:
        parse_event(invalid)
    with pytest.raises(EventValidationError) as two:
        two_steps(invalid, monkeypatch)
    assert one.value.errors == two.value.errors != []
