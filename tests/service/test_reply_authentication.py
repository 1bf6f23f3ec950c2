"""Forged replies through the real inbound SMTP receiver: guessed UIDs, one reply speaking for many,
a sender who is not the attendee, Authentication-Results (SIPVAKT_INBOUND_AUTHSERV_ID), and a forged
DELEGATED-TO. README, "How replies are authenticated"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.service.harness import Service
from tests.service.mail import MailSink, calendar_mail, send_reply
from tests.service.replies import (
    CASE,
    GUESSED_UID,
    ORGANIZER,
    PARTICIPANTS,
    calendar_reply,
    fixture,
    metrics,
    replying_service,
    responded_events,
    statuses,
    uid_of,
)
from tests.service.test_inbound_mail_replies import NOT_OURS, TORE, tnef_mail

AUTHSERV = "mx.sipvakt.example.se"
DAVID = "david.test@example.org"


def counted(outcome: str, times: int) -> str:
    return f'sipvakt_replies_total{{channel="smtp",outcome="{outcome}"}} {times}.0'


def reply_ics(uid: str, attendees: list[str], partstat: str = "DECLINED", extra: str = "") -> bytes:
    """An iTIP REPLY with one ATTENDEE line per address, as a forger writes it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Test//Forged//EN",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261124T120000Z",
        *(f"ATTENDEE;PARTSTAT={partstat}{extra}:mailto:{address}" for address in attendees),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


async def send_as(service: Service, ics: bytes, sender: str, headers: tuple[str, ...] = ()) -> str:
    raw = calendar_mail(ics, sender=sender)
    for header in reversed(headers):
        raw = header.encode() + b"\r\n" + raw
    return await send_reply(service, raw, sender=sender)


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with replying_service(database_url, tmp_path, sink[1]) as running_service:
        yield running_service


@pytest.fixture
async def vouched(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with replying_service(
        database_url, tmp_path, sink[1], SIPVAKT_INBOUND_AUTHSERV_ID=AUTHSERV
    ) as running_service:
        yield running_service


async def test_each_invitation_has_its_own_random_uid_that_its_calendars_carry(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    uids = {
        participant["participant_id"]: await uid_of(service, participant["participant_id"])
        for participant in PARTICIPANTS
    }
    assert len(set(uids.values())) == len(PARTICIPANTS)
    for uid in uids.values():
        local, _, domain = uid.partition("@")
        assert domain == "sipvakt.example.se" and len(local) == 32
        assert CASE not in uid and "m1" not in local
    [invitation] = sink[0].to(DAVID)
    [part] = [part for part in invitation.message.walk() if part.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    [event] = Calendar.from_ical(payload).walk("VEVENT")
    assert str(event["UID"]) == uids["p-android"]


async def test_a_guessed_uid_answers_nothing(service: Service) -> None:
    """Knowing the case id and the meeting id, a forger writes the UID they used to make: unknown."""
    answer = await send_as(service, reply_ics(GUESSED_UID, [DAVID], "ACCEPTED"), DAVID)
    # Even the attendee's own reply under a guessed UID, or under another participant's UID, counts not.
    other = await send_as(service, reply_ics(await uid_of(service, "p-google"), [DAVID], "ACCEPTED"), DAVID)
    await service.settle()
    assert answer.endswith("OK") and other.endswith("OK")
    assert await responded_events(service) == 0
    text = await metrics(service)
    assert counted("unknown_uid", 1) in text and counted("not_invited", 1) in text


async def test_one_reply_naming_seven_attendees_answers_only_for_its_sender(service: Service) -> None:
    """The forgery that declined seven participants at once: one attendee per reply, the sender's."""
    seven = [str(participant["email"]) for participant in PARTICIPANTS[:7]]
    assert DAVID in seven
    # Under David's UID, from David, declining for everyone: only David's own answer counts.
    await send_as(service, reply_ics(await uid_of(service, "p-android"), seven), DAVID)
    await service.settle()
    found = await statuses(service)
    assert found["p-android"] == "declined"
    assert [pid for pid, status in found.items() if status == "declined"] == ["p-android"]
    assert await responded_events(service) == 1


async def test_a_reply_from_someone_else_than_the_attendee_counts_not(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Whoever sent it had Bo's calendar (forwarded, or an alias): not recorded, the coordinator told."""
    google = "bo.test@example.org"
    forged = reply_ics(await uid_of(service, "p-google"), [google])
    await send_as(service, forged, "colleague@example.net")
    await send_as(service, forged, "colleague@example.net")
    await service.settle()
    assert (await statuses(service))["p-google"] == "sent"
    assert counted("sender_mismatch", 2) in await metrics(service)
    [notice] = sink[0].to(ORGANIZER)
    text = notice.text()
    assert "Kalendersvar från en annan adress" in text and "colleague@example.net" in text
    assert "tackar nej" in text and "inte registrerat" in text


async def test_a_reply_under_a_guessed_uid_from_someone_else_tells_nobody(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    before = len(sink[0].received)
    await send_as(service, reply_ics(GUESSED_UID, ["bo.test@example.org"]), "forger@example.net")
    await service.settle()
    assert len(sink[0].received) == before


async def test_a_forged_delegation_sends_the_forger_nothing(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """A DELEGATED-TO used to invite the address it named, with the full invitation and a working reply
    link. Now the coordinator is told, and the address named gets nothing."""
    mails, _ = sink
    forger = "forger@example.net"
    delegating = reply_ics(
        await uid_of(service, "p-android"), [DAVID], "DELEGATED", f';DELEGATED-TO="mailto:{forger}"'
    )
    # Sent in David's name, as a forger with David's calendar would (without the authserv check).
    await send_as(service, delegating, DAVID)
    await service.settle()
    assert mails.to(forger) == []
    assert "p-android.ersattare" not in await statuses(service)
    [notice] = mails.to(ORGANIZER)
    assert forger in notice.text() and "/rsvp/" not in notice.text()
    assert await responded_events(service) == 0


async def test_without_an_authserv_id_every_reply_counts_as_before(service: Service) -> None:
    await calendar_reply(service, fixture("android-accepted.ics"))
    await service.settle()
    assert (await statuses(service))["p-android"] == "accepted"


@pytest.mark.parametrize(
    "header",
    [
        f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.org header.s=sel",
        f"Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom={DAVID}",
        f"Authentication-Results: {AUTHSERV.upper()}; dmarc=pass header.from=example.org",
        f"Authentication-Results: {AUTHSERV}; dkim=fail header.d=example.org;\r\n"
        f" spf=pass smtp.mailfrom=example.org",
    ],
)
async def test_with_an_authserv_id_a_vouched_reply_counts(vouched: Service, header: str) -> None:
    name, _, value = header.partition(": ")
    await calendar_reply(vouched, fixture("android-accepted.ics"), headers={name: value})
    await vouched.settle()
    assert (await statuses(vouched))["p-android"] == "accepted"


@pytest.mark.parametrize(
    "headers",
    [
        (),
        # Another server's word, or the right server vouching for another domain or failing.
        ("Authentication-Results: mx.example.net; dkim=pass header.d=example.org",),
        (f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=forger.example.net",),
        (f"Authentication-Results: {AUTHSERV}; spf=softfail smtp.mailfrom={DAVID}",),
        (f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=sub.example.org",),
        (f"Authentication-Results: {AUTHSERV}; none",),
        ("Authentication-Results: ;;; not a header",),
        # The server's own header fails; one written by the sender in its name, below it, is not read.
        (
            f"Authentication-Results: {AUTHSERV}; spf=fail smtp.mailfrom={DAVID}",
            f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.org",
        ),
    ],
)
async def test_with_an_authserv_id_an_unvouched_reply_is_ignored_and_counted(
    vouched: Service, headers: tuple[str, ...]
) -> None:
    await send_as(vouched, reply_ics(await uid_of(vouched, "p-android"), [DAVID], "ACCEPTED"), DAVID, headers)
    await vouched.settle()
    assert (await statuses(vouched))["p-android"] == "sent"
    assert await responded_events(vouched) == 0
    assert counted("unauthenticated", 1) in await metrics(vouched)


async def test_an_authserv_id_also_guards_a_tnef_answer_found_by_its_sender(vouched: Service) -> None:
    raw = tnef_mail(NOT_OURS, "IPM.Schedule.Meeting.Resp.Pos")
    await send_reply(vouched, raw, sender=TORE)
    await vouched.settle()
    assert (await statuses(vouched))["p-tnef"] == "sent"
    await send_reply(
        vouched,
        f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.org\r\n".encode() + raw,
        sender=TORE,
    )
    await vouched.settle()
    assert (await statuses(vouched))["p-tnef"] == "accepted"
    assert counted("unauthenticated", 1) in await metrics(vouched)


async def test_the_envelope_sender_alone_identifies_the_attendee(service: Service) -> None:
    """A mailing list or an alias may rewrite From; the envelope sender is the attendee's: it counts."""
    raw = calendar_mail(
        reply_ics(await uid_of(service, "p-android"), [DAVID], "ACCEPTED"), sender="list@example.net"
    )
    await send_reply(service, raw, sender=DAVID)
    await service.settle()
    assert (await statuses(service))["p-android"] == "accepted"
