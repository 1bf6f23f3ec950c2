"""CONTRACT v1.1 "Free text": the intake refuses a personnummer written into free text, names the field and
never echoes the value; the case stays as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service, service_settings, started

NUMBER = samples.TEST_PERSONNUMMER
SAMORDNINGSNUMMER = "701063-2391"  # 1970-10-03 + 60 days, Luhn-valid


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def test_a_personnummer_in_free_text_is_refused_naming_the_field(service: Service) -> None:
    """CONTRACT v1.1 "Free text": 400 with `loc` ["data","purpose"] and ["data","questions",2]; the value is
    never echoed; the meeting is not stored."""
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.settle()
    body = samples.meeting_scheduled(
        purpose=f"Planera stöd för {NUMBER}",
        questions=["Vad fungerar?", "Ring mig på 070-123 45 67", f"Samordningsnummer {SAMORDNINGSNUMMER}"],
    )
    response = await service.push(body)
    text = await response.text()
    assert response.status == 400, text
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert sorted(error["loc"] for error in problem["errors"]) == [
        ["data", "purpose"],
        ["data", "questions", 2],
    ]
    assert "1212" not in text and "2391" not in text
    await service.settle()
    case = await (await service.case("blek-2026-0042")).json()
    assert case["meetings"] == []


async def test_phone_numbers_dates_and_times_in_free_text_are_accepted(service: Service) -> None:
    """CONTRACT v1.1 "Free text": only identity numbers are refused."""
    await service.push(samples.case_opened())
    body = samples.meeting_scheduled(
        location="Testskolan, rum 3 (ring 070-123 45 67 eller +46 70 123 45 67)",
        purpose="Möte 2026-12-17 kl. 13:00 om 2 insatser",
    )
    response = await service.push(body)
    assert response.status == 202, await response.text()


async def test_a_personnummer_in_a_reply_comment_is_refused(service: Service) -> None:
    """CONTRACT v1.1 "Free text": `comment` of participant.responded, `reason` of meeting.cancelled."""
    comment = samples.responded("p-school", "declined", comment=f"Gäller {NUMBER}")
    cancelled = samples.event("meeting.cancelled", meeting_id="m1", reason=f"Flyttat, se {NUMBER}")
    for body, loc in ((comment, ["data", "comment"]), (cancelled, ["data", "reason"])):
        response = await service.push(body)
        text = await response.text()
        assert response.status == 400, text
        assert [error["loc"] for error in (await response.json())["errors"]] == [loc]
        assert "1212" not in text
