"""A meeting with one participant per client sample, and helpers to read what replies did to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import fixture_reply, free_port, mailing_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "itip"
UID = "blek-2026-0042.m1@sipvakt.example.se"
ORGANIZER = "kim.koordinator@example.se"


def participant(participant_id: str, name: str, address: str) -> dict[str, Any]:
    return {
        "participant_id": participant_id,
        "name": name,
        "email": address,
        "organisation": "Testskolan",
        "role": "professional",
        "channel": "email",
    }


PARTICIPANTS = [
    participant("p-outlook", "Olle Outlook (test)", "testa.testsson@example.org"),
    participant("p-google", "Greta Google (test)", "bo.test@example.org"),
    participant("p-apple", "Cecilia Test", "cecilia.test@example.org"),
    participant("p-apple-proposal", "Åsa Apple (test)", "asa.test@example.se"),
    participant("p-android", "David Test", "david.test@example.org"),
    participant("p-blackberry", "Erik Test", "erik.test@example.org"),
    participant("p-cp1252", "Jöns Test", "jons.test@example.org"),
    participant("p-delegator", "Filip Test", "filip.test@example.org"),
    participant("p-windows", "Hanna Test", "hanna.test@example.org"),
    participant("p-counter", "Gun Test", "gun.test@example.org"),
    participant("p-urn", "Urban Test", "urban.test@example.org"),
    participant("p-twice", "Vera Test", "vera.test@example.org"),
    participant("p-folded", "Lisa Test", "lisa.test@example.org"),
    participant("p-exchange", "Nils Test", "nils.test@example.org"),
    participant("p-kolab", "Karin Test", "karin.test@example.org"),
    participant("p-refresh", "Rut Test", "rut.test@example.org"),
    participant("p-countering", "Olof Test", "olof.test@example.org"),
    participant("p-plain", "Pia Test", "pia.test@example.org"),
    participant("p-tnef", "Tore Test", "tore.test@example.org"),
]


@asynccontextmanager
async def replying_service(database_url: str, tmp_path: Path, smtp_port: int) -> AsyncIterator[Service]:
    """The service with its inbound receiver on, and one meeting to which every participant is invited."""
    settings = mailing_settings(
        database_url,
        tmp_path,
        smtp_port,
        SIPVAKT_INBOUND_SMTP_PORT=str(free_port()),
    )
    async with started(settings) as running_service:
        await running_service.push(samples.case_opened())
        await running_service.push(samples.consent_given())
        await running_service.push(samples.meeting_scheduled(participants=PARTICIPANTS))
        await running_service.settle()
        yield running_service


def fixture(name: str) -> bytes:
    return fixture_reply((FIXTURES / name).read_bytes(), UID)


async def statuses(service: Service) -> dict[str, str]:
    case = await (await service.case("blek-2026-0042")).json()
    [meeting] = case["meetings"]
    return {invitation["participant_id"]: invitation["status"] for invitation in meeting["invitations"]}


async def responded_events(service: Service) -> int:
    count: int = await service.runtime.pool.fetchval(
        "select count(*) from events where type = 'participant.responded'"
    )
    return count


async def metrics(service: Service) -> str:
    return await (await service.client.get("/metrics")).text()
