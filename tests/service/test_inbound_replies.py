"""Calendar replies from real clients (tests/fixtures/itip) through the inbound SMTP receiver to the case."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service
from tests.service.mail import MailSink, Received, calendar_mail, fixture_reply, reply_token, send_reply
from tests.service.replies import (
    ORGANIZER,
    calendar_reply,
    fixture,
    metrics,
    replying_service,
    responded_events,
    statuses,
    uid_of,
)


def invitation_to(mails: MailSink, address: str) -> Received:
    [mail] = [mail for mail in mails.to(address) if mail.calendar_method() == "REQUEST"]
    return mail


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, "the form carries no CSRF token"
    return match.group(1)


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
    answer = await calendar_reply(service, fixture(name), method=method, content_type=content_type)
    await service.settle()
    assert answer.endswith("OK")
    found = await statuses(service)
    assert found[participant_id] == status
    assert {pid for pid, value in found.items() if value != "sent"} == {participant_id}


async def test_the_same_reply_twice_is_one_answer(service: Service) -> None:
    await calendar_reply(service, fixture("outlook-accepted-no-organizer.ics"))
    await calendar_reply(service, fixture("outlook-accepted-no-organizer.ics"))
    await service.settle()
    assert await responded_events(service) == 1
    assert 'sipvakt_replies_total{channel="smtp",outcome="duplicate"} 1.0' in await metrics(service)


async def test_a_mailed_delegation_is_held_for_the_coordinator_until_the_integration_confirms(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """A DELEGATED-TO in a mailed reply could be anyone's word: the substitute gets no invitation (no
    meeting details, no reply link) until the integration sends the substitute; the coordinator is told."""
    mails, _ = sink
    await calendar_reply(service, fixture("delegated-by-delegator.ics"))
    await service.settle()
    found = await statuses(service)
    assert found["p-delegator"] == "sent"
    assert "p-delegator.ersattare" not in found
    assert mails.to("fia.ersattare@example.org") == []
    [notice] = mails.to(ORGANIZER)
    text = notice.text()
    assert "Ersättare föreslagen" in text and "Fia.Ersattare@example.org".lower() in text.lower()
    assert "inte kallat ersättaren" in text and "Kommentar: Jag är bortrest" in text
    assert "filip.test@example.org" in str(notice.message["Reply-To"])
    assert "/rsvp/" not in text and notice.calendar_method() is None
    assert 'sipvakt_replies_total{channel="smtp",outcome="delegation_held"} 1.0' in await metrics(service)
    # The client sends its reply again: the coordinator is told once.
    await calendar_reply(service, fixture("delegated-by-delegator.ics"))
    await service.settle()
    assert len(mails.to(ORGANIZER)) == 1

    delegate = {"name": "Fia Ersättare (test)", "email": "fia.ersattare@example.org"}
    await service.push(samples.responded("p-delegator", "delegated", delegate=delegate))
    await service.settle()
    [invitation] = mails.to("fia.ersattare@example.org")
    assert invitation.calendar_method() == "REQUEST"
    await calendar_reply(service, fixture("delegate-accepts.ics"))
    await service.settle()
    found = await statuses(service)
    assert found["p-delegator"] == "delegated" and found["p-delegator.ersattare"] == "accepted"


async def test_a_delegation_through_the_reply_link_still_invites_at_once(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """The reply link reached only the participant: what it says is theirs, so the substitute is invited."""
    mails, _ = sink
    token = reply_token(invitation_to(mails, "filip.test@example.org"))
    form = await (await service.client.get(f"/rsvp/{token}?svar=ersattare")).text()
    answer = await service.client.post(
        f"/rsvp/{token}",
        data={
            "token": token,
            "csrf_token": csrf_of(form),
            "svar": "ersattare",
            "namn": "Fia Ersättare (test)",
            "epost": "fia.ersattare@example.org",
        },
    )
    assert answer.status == 200
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
    await calendar_reply(service, fixture(name), method=method)
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
    await calendar_reply(service, fixture("google-counter.ics"))
    await service.settle()
    [notice] = mails.to(ORGANIZER)
    # DTSTART:20261215T080000Z is 09.00 in Stockholm in December.
    assert "15 december 2026" in notice.text() and "09.00" in notice.text()


async def test_what_cannot_be_used_is_accepted_counted_and_not_stored(service: Service) -> None:
    david = "david.test@example.org"
    android = fixture("android-accepted.ics")
    unknown_case = fixture_reply(android, "other-2026-1.m1@sipvakt.example.se")
    foreign_domain = fixture_reply(android, "blek-2026-0042.m1@example.net")
    stranger = fixture_reply(android, await uid_of(service, "p-android")).replace(
        b"DAVID.TEST@EXAMPLE.ORG", b"ivar.test@example.org"
    )
    plain = b"From: alias@example.net\r\nTo: sipvakt@sipvakt.example.se\r\nSubject: Hej\r\n\r\nBara text.\r\n"
    answers = [
        await send_reply(service, calendar_mail(fixture("freebusy-reply.ics"))),
        await send_reply(service, calendar_mail(unknown_case, sender=david), sender=david),
        await send_reply(service, calendar_mail(foreign_domain, sender=david), sender=david),
        await send_reply(service, calendar_mail(stranger, sender="ivar.test@example.org")),
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
    answer = await calendar_reply(service, fixture("blackberry-accepted-comment.ics"))
    await service.settle()
    assert answer.endswith("OK")
    assert (await statuses(service))["p-blackberry"] == "sent"
    assert 'sipvakt_replies_total{channel="smtp",outcome="stale_sequence"} 1.0' in await metrics(service)


async def test_no_address_reaches_the_log(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        await calendar_reply(service, fixture("android-accepted.ics"), sender="david.test@example.org")
        await service.settle()
    assert any(getattr(record, "outcome", None) == "recorded" for record in caplog.records)
    logged = " ".join(str(record.__dict__) for record in caplog.records).lower()
    assert "david.test@example.org" not in logged and "alias@example.net" not in logged


async def test_delegation_to_several_names_the_first_to_the_coordinator(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await calendar_reply(service, fixture("delegated-to-several.ics"))
    await service.settle()
    [notice] = mails.to(ORGANIZER)
    assert "fia.ersattare@example.org" in notice.text().lower()
    assert "gun.ersattare@example.org" not in notice.text().lower()
    assert mails.to("fia.ersattare@example.org") == [] and mails.to("gun.ersattare@example.org") == []
