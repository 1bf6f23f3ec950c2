"""Calendar replies from real clients (tests/fixtures/itip) through the inbound SMTP receiver to the case."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service
from tests.service.mail import MailSink, calendar_mail, send_reply
from tests.service.replies import (
    ORGANIZER,
    UID,
    fixture,
    metrics,
    replying_service,
    responded_events,
    statuses,
)


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with replying_service(database_url, tmp_path, sink[1]) as running_service:
        yield running_service


@pytest.mark.parametrize(
    ("name", "method", "content_type", "participant_id", "status"),
    [
        ("outlook-accepted-no-organizer.ics", "REPLY", "text/calendar", "p-outlook", "accepted"),
        ("google-declined-valarm.ics", "REPLY", "text/calendar", "p-google", "declined"),
        ("apple-ical3-no-method.ics", None, "application/ics", "p-apple", "accepted"),
        ("android-accepted.ics", "REPLY", "text/calendar", "p-android", "accepted"),
        ("blackberry-accepted-comment.ics", "REPLY", "text/calendar", "p-blackberry", "accepted"),
        ("cp1252-no-charset.ics", "REPLY", "text/calendar", "p-cp1252", "accepted"),
    ],
)
async def test_a_client_reply_answers_the_attendee_s_invitation(
    service: Service, name: str, method: str | None, content_type: str, participant_id: str, status: str
) -> None:
    answer = await send_reply(service, calendar_mail(fixture(name), method=method, content_type=content_type))
    await service.settle()
    assert answer.endswith("OK")
    found = await statuses(service)
    assert found[participant_id] == status
    assert {pid for pid, value in found.items() if value != "sent"} == {participant_id}


async def test_the_same_reply_twice_is_one_answer(service: Service) -> None:
    raw = calendar_mail(fixture("outlook-accepted-no-organizer.ics"))
    await send_reply(service, raw)
    await send_reply(service, raw)
    await service.settle()
    assert await responded_events(service) == 1
    assert 'sipvakt_replies_total{channel="smtp",outcome="duplicate"} 1.0' in await metrics(service)


async def test_delegation_invites_the_substitute_who_then_accepts(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await send_reply(service, calendar_mail(fixture("delegated-by-delegator.ics")))
    await service.settle()
    found = await statuses(service)
    assert found["p-delegator"] == "delegated"
    assert found["p-delegator.ersattare"] == "sent"
    [invitation] = mails.to("fia.ersattare@example.org")
    assert invitation.calendar_method() == "REQUEST"
    assert "Fia Ers" in invitation.message["To"]

    await send_reply(service, calendar_mail(fixture("delegate-accepts.ics")))
    await service.settle()
    assert (await statuses(service))["p-delegator.ersattare"] == "accepted"
    # The delegator's client may send its reply again: the substitute is not invited twice.
    await send_reply(
        service, calendar_mail(fixture("delegated-by-delegator.ics").replace(b"T140000Z", b"T140500Z"))
    )
    await service.settle()
    assert len(mails.to("fia.ersattare@example.org")) == 1


@pytest.mark.parametrize(
    ("name", "method", "participant_id"),
    [
        # Google proposes a new time as METHOD:COUNTER but labels the MIME part method=REPLY.
        ("google-counter.ics", "REPLY", "p-google"),
        ("apple-proposal-tentative.ics", "REPLY", "p-apple-proposal"),
        ("windows-tzid-without-vtimezone.ics", "COUNTER", "p-windows"),
        ("counter-unknown-tzid.ics", "COUNTER", "p-counter"),
    ],
)
async def test_a_proposed_time_reaches_the_organizer(
    service: Service, sink: tuple[MailSink, int], name: str, method: str, participant_id: str
) -> None:
    mails, _ = sink
    await send_reply(service, calendar_mail(fixture(name), method=method))
    await service.settle()
    assert (await statuses(service))[participant_id] == "tentative"
    [notice] = mails.to(ORGANIZER)
    text = notice.text()
    assert "Förslag på ny tid" in str(notice.message["Subject"]) or "Förslag på ny tid" in text
    assert "Föreslagen tid:" in text
    assert "Mötet är inte flyttat" in text
    assert notice.message.get_content_type() != "text/calendar"


async def test_the_google_proposal_names_its_time_in_stockholm_time(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await send_reply(service, calendar_mail(fixture("google-counter.ics")))
    await service.settle()
    [notice] = mails.to(ORGANIZER)
    # DTSTART:20261215T080000Z is 09.00 in Stockholm in December.
    assert "15 december 2026" in notice.text() and "09.00" in notice.text()


async def test_what_cannot_be_used_is_accepted_counted_and_not_stored(service: Service) -> None:
    unknown_case = fixture("android-accepted.ics").replace(
        UID.encode(), b"other-2026-1.m1@sipvakt.example.se"
    )
    foreign_domain = fixture("android-accepted.ics").replace(UID.encode(), b"blek-2026-0042.m1@example.net")
    stranger = fixture("android-accepted.ics").replace(b"DAVID.TEST@EXAMPLE.ORG", b"ivar.test@example.org")
    plain = b"From: alias@example.net\r\nTo: sipvakt@sipvakt.example.se\r\nSubject: Hej\r\n\r\nBara text.\r\n"
    answers = [
        await send_reply(service, calendar_mail(fixture("freebusy-reply.ics"))),
        await send_reply(service, calendar_mail(unknown_case)),
        await send_reply(service, calendar_mail(foreign_domain)),
        await send_reply(service, calendar_mail(stranger)),
        await send_reply(service, plain),
    ]
    await service.settle()
    assert all(answer.endswith("OK") for answer in answers)
    assert await responded_events(service) == 0
    text = await metrics(service)
    for outcome, count in (("freebusy", 1), ("unknown_uid", 2), ("not_invited", 1), ("not_calendar", 1)):
        assert f'sipvakt_replies_total{{channel="smtp",outcome="{outcome}"}} {count}.0' in text


async def test_a_reply_to_an_earlier_version_of_the_meeting_is_stale(service: Service) -> None:
    for hour in ("14", "15"):
        await service.push(
            samples.rescheduled(
                starts_at=f"2026-12-18T{hour}:00:00+01:00", ends_at=f"2026-12-18T{hour}:45:00+01:00"
            )
        )
    await service.settle()
    # SEQUENCE:1 answers the first version; the meeting is at SEQUENCE 2 now.
    answer = await send_reply(service, calendar_mail(fixture("blackberry-accepted-comment.ics")))
    await service.settle()
    assert answer.endswith("OK")
    assert (await statuses(service))["p-blackberry"] == "sent"
    assert 'sipvakt_replies_total{channel="smtp",outcome="stale_sequence"} 1.0' in await metrics(service)


async def test_no_address_reaches_the_log(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        await send_reply(
            service, calendar_mail(fixture("android-accepted.ics")), sender="david.test@example.org"
        )
        await service.settle()
    assert any(getattr(record, "outcome", None) == "recorded" for record in caplog.records)
    logged = " ".join(str(record.__dict__) for record in caplog.records).lower()
    assert "david.test@example.org" not in logged and "alias@example.net" not in logged


async def test_delegation_to_several_invites_the_first_named(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await send_reply(service, calendar_mail(fixture("delegated-to-several.ics")))
    await service.settle()
    found = await statuses(service)
    assert found["p-delegator"] == "delegated" and found["p-delegator.ersattare"] == "sent"
    assert len(mails.to("fia.ersattare@example.org")) == 1
    assert mails.to("gun.ersattare@example.org") == []
