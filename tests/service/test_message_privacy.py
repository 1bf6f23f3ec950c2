"""What leaves the service, end to end through the delivery worker: no personnummer or person's name in
any part of any message or letter, each participant sees only their own name, and a hostile name cannot
add a header, a recipient or a calendar property."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from tests import samples
from tests.notifiers.pdf_text import all_text
from tests.service.harness import Service, service_settings, started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server

HOSTILE_NAME = "Eva\r\nBcc: intruder@example.org\r\nATTENDEE:mailto:intruder@example.org\u2028\x1b\u202eTest"
HOSTILE_ADDRESS = "eva.test@example.org"


def person(participant_id: str, name: str, address: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"participant_id": participant_id, "name": name, "role": "professional"}
    if address:
        entry.update(email=address, channel="email")
    else:
        entry.update(channel="letter", postal_address=f"{name}\nBox 7\n111 22 Teststad")
    return entry


PARTICIPANTS = [
    person("p-1", "Alma Alfa (test)", "alma@example.se"),
    person("p-2", "Berit Beta (test)", "berit@example.org"),
    person("p-3", "Cesar Gamma (test)"),
    person("p-eva", HOSTILE_NAME, HOSTILE_ADDRESS),
]
NAMES = {"p-1": "Alma Alfa", "p-2": "Berit Beta", "p-3": "Cesar Gamma"}


@pytest.fixture
async def delivered(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Service, MailSink]]:
    sink = MailSink()
    async with smtp_server(sink) as port:
        settings = mailing_settings(database_url, tmp_path, port)
        async with started(settings) as service:
            await service.push(samples.case_opened())
            await service.push(samples.consent_given())
            await service.push(samples.meeting_scheduled(participants=PARTICIPANTS))
            await service.push(samples.rescheduled())
            await service.push(samples.event("meeting.cancelled", meeting_id="m1"))
            await service.settle()
            yield service, sink


def every_part(mail: Received) -> str:
    return mail.data.decode("utf-8", "replace") + "\n" + mail.text()


async def letters(service: Service) -> list[tuple[str, str]]:
    rows = await service.runtime.pool.fetch("select participant_id, pdf from letters")
    return [(row["participant_id"], all_text(row["pdf"])) for row in rows]


async def test_no_personnummer_or_person_name_anywhere(delivered: tuple[Service, MailSink]) -> None:
    service, sink = delivered
    texts = [every_part(mail) for mail in sink.received] + [text for _, text in await letters(service)]
    assert len(sink.received) == 9 and len(texts) == 12  # request, update, cancel to 3 + 3 letters
    for text in texts:
        for secret in (samples.TEST_PERSONNUMMER, "201212121212", "121212-1212", "Testa Testsson", "Testa"):
            assert secret not in text


async def test_each_participant_sees_only_their_own_name(delivered: tuple[Service, MailSink]) -> None:
    service, sink = delivered
    addresses = {"p-1": "alma@example.se", "p-2": "berit@example.org"}
    for participant_id, address in addresses.items():
        for mail in sink.to(address):
            assert mail.rcpt_tos == (address,)
            text = every_part(mail)
            assert NAMES[participant_id] in text
            assert all(name not in text for pid, name in NAMES.items() if pid != participant_id)
            assert "Eva" not in text
    for participant_id, text in await letters(service):
        assert NAMES[participant_id] in text
        assert all(name not in text for pid, name in NAMES.items() if pid != participant_id)


async def test_a_hostile_name_adds_no_header_recipient_or_calendar_property(
    delivered: tuple[Service, MailSink],
) -> None:
    _, sink = delivered
    mails = sink.to(HOSTILE_ADDRESS)
    assert len(mails) == 3
    for mail in mails:
        assert mail.rcpt_tos == (HOSTILE_ADDRESS,)
        assert (
            b"\x1b" not in mail.data and "\u202e" not in every_part(mail) and "\u2028" not in every_part(mail)
        )
        message = mail.message
        assert "Bcc" not in message and "intruder" not in str(message["To"]).split("<")[-1]
        assert getaddresses([str(message["To"])])[0][1] == HOSTILE_ADDRESS
        assert len(getaddresses([str(message["To"])])) == 1
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            [event] = Calendar.from_ical(payload).walk("VEVENT")
            attendees = event.get("ATTENDEE")
            attendees = attendees if isinstance(attendees, list) else [attendees]
            assert [str(attendee) for attendee in attendees] == [f"mailto:{HOSTILE_ADDRESS}"]
            assert "\r" not in str(attendees[0].params["CN"]) and "\n" not in str(attendees[0].params["CN"])
            assert not any(line.upper().startswith(b"BCC") for line in payload.splitlines())
    # Nobody else got anything because of the name.
    assert sink.to("intruder@example.org") == []


async def test_a_name_with_nul_is_refused_at_intake_and_nothing_is_stored(
    database_url: str, tmp_path: Path
) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        await service.push(samples.case_opened())
        await service.settle()
        participants = [person("p-1", "Alma\x00Alfa", "alma@example.se")]
        response = await service.push(samples.meeting_scheduled(participants=participants))
        problem = await response.json(content_type="application/problem+json")
        assert response.status == 400
        assert ["data", "participants", 0, "name"] in [error["loc"] for error in problem["errors"]]
        assert await service.runtime.pool.fetchval("select count(*) from events") == 1
