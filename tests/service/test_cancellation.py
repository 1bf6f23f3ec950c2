"""Changes reach every calendar: an update after a new time, a CANCEL after cancellation or withdrawn
consent, always under the meeting's one UID with a rising SEQUENCE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from icalendar import Calendar

from tests import samples
from tests.service.harness import Service, started
from tests.service.mail import MailSink, Received, mailing_settings, smtp_server

EMAIL_PARTICIPANTS = {"asa.oberg@example.org", "sam@example.se"}


@pytest.fixture
async def mailed(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Service, MailSink]]:
    sink = MailSink()
    async with smtp_server(sink) as port:
        settings = mailing_settings(database_url, tmp_path, port)
        async with started(settings) as service:
            await service.push(samples.case_opened())
            await service.push(samples.consent_given())
            await service.push(samples.meeting_scheduled())
            await service.settle()
            yield service, sink


def event_of(mail: Received) -> tuple[str, str, int, str]:
    """(METHOD, UID, SEQUENCE, STATUS) of the mail's calendar part."""
    for part in mail.message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            calendar = Calendar.from_ical(payload)
            [vevent] = calendar.walk("VEVENT")
            return (
                str(calendar["METHOD"]),
                str(vevent["UID"]),
                int(str(vevent["SEQUENCE"])),
                str(vevent["STATUS"]),
            )
    raise AssertionError("no calendar part")


def by_recipient(mails: list[Received]) -> dict[str, list[tuple[str, str, int, str]]]:
    found: dict[str, list[tuple[str, str, int, str]]] = {}
    for mail in mails:
        [recipient] = mail.rcpt_tos
        found.setdefault(recipient, []).append(event_of(mail))
    return found


async def test_a_new_time_then_a_cancellation_reach_everyone_under_one_uid(
    mailed: tuple[Service, MailSink],
) -> None:
    service, sink = mailed
    await service.push(samples.rescheduled())
    await service.settle()
    await service.push(samples.event("meeting.cancelled", meeting_id="m1"))
    await service.settle()
    sequences = by_recipient(sink.received)
    assert set(sequences) == EMAIL_PARTICIPANTS
    for history in sequences.values():
        assert [(method, sequence, status) for method, _, sequence, status in history] == [
            ("REQUEST", 0, "CONFIRMED"),
            ("REQUEST", 1, "CONFIRMED"),
            ("CANCEL", 2, "CANCELLED"),
        ]
        assert len({uid for _, uid, _, _ in history}) == 1
    letters = await service.runtime.pool.fetch("select kind from letters order by created_at")
    assert [row["kind"] for row in letters] == ["request", "update", "cancel"]
    case = await (await service.case("blek-2026-0042")).json()
    assert case["meetings"][0]["status"] == "cancelled"


async def test_withdrawn_consent_cancels_future_meetings_and_closes_the_case(
    mailed: tuple[Service, MailSink],
) -> None:
    service, sink = mailed
    await service.push(samples.event("consent.withdrawn", occurred_at="2026-11-25T09:00:00+01:00"))
    await service.settle()
    methods = {
        recipient: [method for method, *_ in history]
        for recipient, history in by_recipient(sink.received).items()
    }
    assert methods == {address: ["REQUEST", "CANCEL"] for address in EMAIL_PARTICIPANTS}
    case = await (await service.case("blek-2026-0042")).json()
    assert case["status"] == "closed"
    assert case["meetings"][0]["status"] == "cancelled"
    pending_timers = await service.runtime.pool.fetch(
        "select kind from timers where case_id = 'blek-2026-0042' and state = 'scheduled'"
    )
    # Only the erasure of the closed case is left to come (README "Retention").
    assert [row["kind"] for row in pending_timers] == ["retention"]
    # Nothing more leaves for a closed case: a later event is refused, not applied.
    await service.push(samples.meeting_scheduled(meeting_id="m2"))
    await service.settle()
    assert len(sink.received) == 4
