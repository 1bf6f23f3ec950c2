"""A meeting with one participant per client sample, and helpers to read what replies did to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from calendars.itip_reply import ParsedCalendarMessage, parse_reply
from service.storage import store
from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import (
    calendar_mail,
    fixture_reply,
    free_port,
    mailing_settings,
    send_reply,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "itip"
CASE = "blek-2026-0042"
# What a forger who knows the case and the meeting would write: the UID that used to be derived from them.
GUESSED_UID = f"{CASE}.m1@sipvakt.example.se"
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
async def replying_service(
    database_url: str, tmp_path: Path, smtp_port: int, **overrides: str
) -> AsyncIterator[Service]:
    """The service with its inbound receiver on, and one meeting to which every participant is invited."""
    settings = mailing_settings(
        database_url,
        tmp_path,
        smtp_port,
        SIPVAKT_INBOUND_SMTP_PORT=str(free_port()),
        **overrides,
    )
    async with started(settings) as running_service:
        await running_service.push(samples.case_opened())
        await running_service.push(samples.consent_given())
        await running_service.push(samples.meeting_scheduled(participants=PARTICIPANTS))
        await running_service.settle()
        yield running_service


def fixture(name: str) -> bytes:
    """A client's reply as written, its UID still the fixtures' placeholder (see `calendar_reply`)."""
    return (FIXTURES / name).read_bytes()


async def uid_of(service: Service, participant_id: str, meeting_id: str = "m1") -> str:
    """The UID the participant's calendars carry, as the delivery worker stored it."""
    uid: str | None = await service.runtime.pool.fetchval(
        "select uid from calendar_uids where case_id = $1 and meeting_id = $2 and participant_id = $3",
        CASE,
        meeting_id,
        participant_id,
    )
    assert uid is not None, f"no calendar was sent to {participant_id}"
    return uid


async def invited_address(service: Service, ics: bytes) -> tuple[str, str]:
    """(participant id, address) of the first attendee of a client's reply who is invited to m1."""
    reply = parse_reply(ics)
    assert isinstance(reply, ParsedCalendarMessage)
    async with service.runtime.pool.acquire() as connection:
        case = await store.load_case(connection, CASE)
    assert case is not None
    participants = case.meetings["m1"].participants.values()
    for attendee in reply.attendees:
        for participant in participants:
            if (participant.email or "").lower() == attendee.address:
                return participant.participant_id, attendee.address
    raise AssertionError("the reply names nobody invited")


async def attendee_mail(
    service: Service,
    ics: bytes,
    *,
    method: str | None = "REPLY",
    content_type: str = "text/calendar",
    sender: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A client's reply as its attendee sends it: under the UID of that attendee's invitation, from the
    attendee's address (or `sender`). Returns the message and the sender for the envelope."""
    participant_id, address = await invited_address(service, ics)
    uid = await uid_of(service, participant_id)
    raw = calendar_mail(
        fixture_reply(ics, uid), method=method, content_type=content_type, sender=sender or address
    )
    for name, value in (headers or {}).items():
        raw = f"{name}: {value}\r\n".encode() + raw
    return raw, sender or address


async def calendar_reply(
    service: Service,
    ics: bytes,
    *,
    method: str | None = "REPLY",
    content_type: str = "text/calendar",
    sender: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """Send a client's reply as its attendee would (see `attendee_mail`), in From and in the envelope.
    Returns the receiver's 250 answer."""
    raw, envelope_sender = await attendee_mail(
        service, ics, method=method, content_type=content_type, sender=sender, headers=headers
    )
    return await send_reply(service, raw, sender=envelope_sender)


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
