"""An event's stored text (`Event.to_json_text`) is the JSON value `json.dumps(event.to_json_dict())`
wrote before, whatever its free text holds; text JSON cannot carry is written exactly as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from scheduler.events import Event, EventValidationError, parse_event

_IDENTIFIER = st.text(st.sampled_from("abcXYZ019._:-"), min_size=1, max_size=12)
_TEXT = st.text(min_size=1, max_size=40)
_OFFSETS = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
_MOMENT = st.builds(
    lambda at, offset: at.replace(tzinfo=offset).isoformat(),
    st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2099, 12, 31)),
    st.sampled_from(_OFFSETS),
)


def _meeting(case_id: str, at: str, starts: str, location: str, name: str, email: str | None) -> Any:
    start = datetime.fromisoformat(starts)
    return {
        "type": "meeting.scheduled",
        "case_id": case_id,
        "occurred_at": at,
        "data": {
            "meeting_id": "m1",
            "kind": "initial",
            "starts_at": starts,
            "ends_at": (start + timedelta(minutes=45)).isoformat(),
            "location": location,
            "organizer": {
                "name": name,
                "email": "koordinator@kommun.example",
                "organisation": "Kommunen",
            },
            "participants": [
                {
                    "participant_id": "p1",
                    "name": name,
                    "role": "guardian",
                    **({"email": email, "channel": "email"} if email else {"channel": "letter"}),
                    **({} if email else {"postal_address": location}),
                }
            ],
            "purpose": location,
        },
    }


def _opened(case_id: str, at: str, municipality: str, name: str) -> Any:
    return {
        "type": "case.opened",
        "case_id": case_id,
        "occurred_at": at,
        "data": {
            "region": "blekinge",
            "municipality": municipality,
            "person": {"reference": "elev-1", "birth_date": "2012-12-12", "name": name},
            "detected_at": "2026-11-16",
            "detected_by": "skola",
            "urgent": False,
            "coordinator": {"name": name, "email": "Koordinator@Kommun.Example"},
        },
    }


_BODY = st.builds(
    _meeting,
    _IDENTIFIER,
    _MOMENT,
    _MOMENT,
    _TEXT,
    _TEXT,
    st.none() | st.sampled_from(["Hem@Example.org", "åsa@hem.example"]),
) | st.builds(_opened, _IDENTIFIER, _MOMENT, _TEXT, _TEXT)


def _event(body: Any) -> Event:
    try:
        return parse_event(body)
    except EventValidationError:
        assume(False)
        raise


def _holds_surrogate(text: str) -> bool:
    try:
        json.dumps(json.loads(text), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


@settings(max_examples=500, deadline=None)
@given(_BODY)
@example(_opened("c-1", "2026-11-23T09:00:00.250000+00:00", 'Växjö \u2028 "kommun" \\', "Åsa"))
@example(_meeting("c-1", "2026-11-23T09:00:00+01:00", "2027-01-05T13:00:00+01:00", "Skolan ", "Å", "a@b.se"))
def test_the_stored_text_holds_the_value_json_dumps_wrote(body: Any) -> None:
    event = _event(body)
    before = json.dumps(event.to_json_dict())
    text = event.to_json_text()
    assert json.loads(text) == json.loads(before)


def test_a_lone_surrogate_is_written_as_before() -> None:
    # Validation refuses one in any text; an event built otherwise still gets the text it got before.
    body = _meeting("c-1", "2026-11-23T09:00:00+01:00", "2027-01-05T13:00:00+01:00", "rum 3", "A", None)
    event = parse_event(body)
    built = event.model_copy(update={"data": event.data.model_copy(update={"location": "rum \ud800"})})
    assert _holds_surrogate(json.dumps(built.to_json_dict()))
    assert built.to_json_text() == json.dumps(built.to_json_dict())
