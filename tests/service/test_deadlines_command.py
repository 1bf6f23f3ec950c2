"""CONTRACT v1.1 "`sipvakt deadlines`": the command validates and reduces a personnummer or
samordningsnummer exactly as the intake does, and the same events give the same deadlines and warnings as
`GET /v1/cases/{id}` at the same time. The command runs as a real process; the service takes the events
through signed HTTP intake, each at its own moment on the test clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.service.harness import Service, service_settings, started
from tests.service.processes import run_command
from tests.service.scenario import push_at, walk

CASE_ID = "blek-2026-0042"
# Luhn-valid, serial 98x like Skatteverket's test numbers: 18 on 2026-12-10; a samordningsnummer (day + 60)
# of someone born 2004-05-03, 22 years old and past Västra Götaland's "t.o.m. 20 år".
TURNS_18_IN_DECEMBER = "20081210-9817"
SAMORDNINGSNUMMER_AGED_22 = "040563-9816"


def person(**fields: str) -> dict[str, str]:
    return {"reference": "person-1", **fields}


def emailed_meeting() -> dict[str, Any]:
    """The sample meeting with its e-mail participants only. A letter counts as sent when someone marks it
    posted, which no event says, so `sipvakt deadlines` can only take it as posted at once (README
    "Messages"); the service's answer for a letter depends on the print queue, not on the events."""
    body = samples.meeting_scheduled()
    body["data"]["participants"] = [p for p in body["data"]["participants"] if p["channel"] == "email"]
    return body


@dataclass(frozen=True)
class Scenario:
    bodies: list[dict[str, Any]]
    now: str
    shows: set[str]  # deadline and warning kinds the answer must hold, so that two empty answers never agree


SCENARIOS = {
    "blekinge_waiting_for_consent": Scenario(
        [samples.case_opened(), samples.consent_given(valid_from="2026-11-30"), emailed_meeting()],
        "2026-11-24T12:00:00+01:00",
        {"turns_18", "waiting_for_consent", "notice_too_short"},
    ),
    "blekinge_after_the_consents_first_day": Scenario(
        [samples.case_opened(), samples.consent_given(valid_from="2026-11-30"), emailed_meeting()],
        "2026-12-01T12:00:00+01:00",
        {"turns_18", "notice", "notice_too_short"},
    ),
    "vastra_gotaland_guardian_consent_after_18": Scenario(
        [
            samples.case_opened(region="vastra_gotaland", person=person(personnummer=TURNS_18_IN_DECEMBER)),
            samples.consent_given(),
            emailed_meeting(),
        ],
        "2026-12-11T12:00:00+01:00",
        {"turns_18", "meeting_due", "guardian_consent_after_18"},
    ),
    "vastra_gotaland_samordningsnummer_outside_target_group": Scenario(
        [
            samples.case_opened(
                region="vastra_gotaland", person=person(personnummer=SAMORDNINGSNUMMER_AGED_22)
            ),
            samples.consent_given(given_by="adult"),
            emailed_meeting(),
        ],
        "2026-11-25T12:00:00+01:00",
        {"meeting_due", "outside_target_group"},
    ),
    "halland_birth_date_unknown": Scenario(
        [samples.case_opened(region="halland", person=person()), samples.consent_given()],
        "2026-11-25T12:00:00+01:00",
        {"meeting_due", "birth_date_unknown"},
    ),
}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


def run_deadlines(events: Path, now: str, data_dir: Path) -> dict[str, Any]:
    result = run_command(
        "deadlines",
        "--event-file",
        str(events),
        "--now",
        now,
        environment={
            "SIPVAKT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "SIPVAKT_DATA_DIR": str(data_dir),
        },
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_the_deadlines_command_answers_as_the_service_does(
    service: Service, tmp_path: Path, name: str
) -> None:
    """CONTRACT v1.1: the same events give the same deadlines and warnings as `GET /v1/cases/{id}` at the
    same `--now`; a personnummer or samordningsnummer is reduced to its birth date by both."""
    scenario = SCENARIOS[name]
    for body in scenario.bodies:
        await push_at(service, body)
    await walk(service, datetime.fromisoformat(scenario.now))
    response = await service.case(CASE_ID)
    assert response.status == 200
    case = await response.json()

    events = tmp_path / "events.json"
    events.write_text(json.dumps(scenario.bodies, ensure_ascii=False), encoding="utf-8")
    offline = await asyncio.to_thread(run_deadlines, events, scenario.now, tmp_path / "offline")

    assert offline == {"deadlines": case["deadlines"], "warnings": case["warnings"]}
    shown = {d["kind"] for d in case["deadlines"]} | {w["kind"] for w in case["warnings"]}
    assert scenario.shows <= shown


def test_bad_input_to_the_deadlines_command_names_event_and_field_never_the_value(tmp_path: Path) -> None:
    """CONTRACT "Intake": every error listed with its location, no value echoed; the command exits 2."""
    opened = samples.case_opened(person=person(personnummer="20121212-1213"))
    meeting = samples.meeting_scheduled(questions=["Hur går det?", f"Gäller {samples.TEST_PERSONNUMMER}"])
    events = tmp_path / "events.json"
    events.write_text(json.dumps([opened, samples.consent_given(), meeting]), encoding="utf-8")
    result = run_command(
        "deadlines", "--event-file", str(events), environment={"SIPVAKT_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert f"{events}: [0].data.person.personnummer: not a valid personnummer" in result.stderr
    assert f"{events}: [2].data.questions[1]: must not contain a personnummer" in result.stderr
    assert "1212" not in result.stderr.replace(str(events), "") and result.stdout == ""


def test_a_deeply_nested_or_huge_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    for name, content in (("deep.json", "[" * 10_000 + "]" * 10_000), ("huge.json", "[" + "9" * 5_000 + "]")):
        events = tmp_path / name
        events.write_text(content, encoding="utf-8")
        result = run_command(
            "deadlines", "--event-file", str(events), environment={"SIPVAKT_DATA_DIR": str(tmp_path)}
        )
        assert result.returncode == 2, result.stderr
        assert f"{events}: not a JSON file" in result.stderr
        assert "Traceback" not in result.stderr and "9999" not in result.stderr
