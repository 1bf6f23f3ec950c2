"""Replies as clients send them beyond a plain iTIP REPLY, through the real inbound SMTP receiver: calendar
quirks seen in real samples, REFRESH, ordinary e-mail answers and Exchange's TNEF-only answers.

The fixtures under tests/fixtures/ are the project's own, written after what the samples listed in
interop/itip-more/MANIFEST.md show (named in each test's docstring)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from service.logs import JsonFormatter
from tests import samples
from tests.service.harness import Service
from tests.service.mail import MAIL_FROM, MailSink, Received, send_reply
from tests.service.replies import (
    ORGANIZER,
    PARTICIPANTS,
    calendar_reply,
    fixture,
    metrics,
    replying_service,
    responded_events,
    statuses,
)
from tests.service.tnef import winmail_dat
from tests.service.webhook_receiver import move_clock, receiving, subscribe

MAIL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
COORDINATOR = "kim.koordinator@example.se"
CASE = "blek-2026-0042"


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    # The webhook receiver of one test listens on loopback, which an operator must allow.
    async with replying_service(
        database_url, tmp_path, sink[1], SIPVAKT_WEBHOOK_ALLOW_PRIVATE="true"
    ) as running_service:
        yield running_service


def counted(outcome: str, times: int) -> str:
    return f'sipvakt_replies_total{{channel="smtp",outcome="{outcome}"}} {times}.0'


def tnef_mail(in_reply_to: str, message_class: str, text: str = "") -> bytes:
    """An Exchange answer as the open-xchange samples show it: a text part and winmail.dat, no calendar."""
    return mail_fixture(
        "exchange-tnef-only.eml.tmpl",
        IN_REPLY_TO=in_reply_to,
        SUBJECT="=?utf-8?q?Godk=C3=A4nt=3A_SIP-m=C3=B6te?=",
        TEXT=base64.b64encode(text.encode()).decode(),
        WINMAIL_DAT=base64.encodebytes(winmail_dat(message_class, "Godkänt: SIP-möte")).decode(),
    )


def reply_to(mail: Received) -> tuple[str, str]:
    return parseaddr(str(mail.message["Reply-To"]))


def invitation_to(mails: MailSink, address: str) -> Received:
    [mail] = [mail for mail in mails.to(address) if mail.calendar_method() == "REQUEST"]
    return mail


def mail_fixture(name: str, **values: str) -> bytes:
    raw = (MAIL_FIXTURES / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(f"{{{{{key}}}}}".encode(), value.encode())
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def invitation_entry(service: Service, participant_id: str) -> dict[str, Any]:
    case = await (await service.case(CASE)).json()
    [meeting] = case["meetings"]
    [entry] = [i for i in meeting["invitations"] if i["participant_id"] == participant_id]
    found: dict[str, Any] = entry
    return found


async def test_an_attendee_given_as_urn_is_read_by_its_email_parameter(service: Service) -> None:
    """CalendarServer replies with ``ATTENDEE;EMAIL=…:urn:x-uid:…`` (ccs-caldavtester
    implicit/privateevents/7.ics; RFC 7986 6.2, the EMAIL parameter): the address is the parameter's."""
    await calendar_reply(service, fixture("calendarserver-urn-attendee.ics"))
    await service.settle()
    assert (await statuses(service))["p-urn"] == "accepted"


async def test_a_uid_written_twice_is_one_uid(service: Service) -> None:
    """sabre/vobject's testReplyRequestStatus writes ``UID:`` twice in one VEVENT, with REQUEST-STATUS:2.3;
    the same value twice names one event (RFC 5545 3.8.4.7 allows one UID; we read it leniently)."""
    await calendar_reply(service, fixture("duplicate-uid.ics"))
    await service.settle()
    assert (await statuses(service))["p-twice"] == "accepted"


async def test_a_reply_folded_after_every_property_name_is_read(service: Service) -> None:
    """libical 0.21 (src/test/outgoing.ics) folds every line right after the name, ``Mailto:`` mixed case
    (RFC 5545 3.1: a fold may fall anywhere, even inside a name or parameter)."""
    await calendar_reply(service, fixture("every-line-folded.ics"))
    await service.settle()
    assert (await statuses(service))["p-folded"] == "accepted"
    assert (await invitation_entry(service, "p-folded"))["comment"] == "Jag kommer gärna."


async def test_a_delegation_without_mailto_is_read_and_held_for_the_coordinator(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Kolab (pykolab test_007_invitationpolicy, itip_delegated) writes DELEGATED-TO and DELEGATED-FROM
    unquoted and without ``mailto:`` (RFC 5545 3.2.4 wants a quoted cal-address; clients differ)."""
    mails, _ = sink
    await calendar_reply(service, fixture("kolab-delegated-no-mailto.ics"))
    await service.settle()
    assert "p-kolab.ersattare" not in await statuses(service)
    [notice] = mails.to(COORDINATOR)
    assert "kalle.ersattare@example.org" in notice.text().lower()
    assert mails.to("kalle.ersattare@example.org") == []


async def test_a_decline_s_reason_reaches_the_coordinator_in_the_case_the_webhook_and_the_digest(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Exchange 2010 declines with ``COMMENT;LANGUAGE=…:no\\, sorry``, no ORGANIZER, ``MAILTO:`` in upper
    case and the address folded in the middle (calmailproc test-06-2.eml; RFC 5546 3.2.3, REPLY)."""
    mails, _ = sink
    reason = "Nej, tyvärr. Jag har utvecklingssamtal hela eftermiddagen den dagen."
    async with receiving() as receiver:
        await subscribe(service, receiver.url, event_types=["case.updated"])
        await calendar_reply(service, fixture("exchange-declined-comment.ics"))
        await service.settle()
        entry = await invitation_entry(service, "p-exchange")
        assert (entry["status"], entry["comment"]) == ("declined", reason)
        await move_clock(service, "2026-11-23T09:30:00+01:00")
        shown = [
            invitation
            for event in receiver.events("case.updated")
            for meeting in event["data"]["meetings"]
            for invitation in meeting["invitations"]
            if invitation["participant_id"] == "p-exchange" and invitation["status"] == "declined"
        ]
        assert shown and shown[-1]["comment"] == reason

    await move_clock(service, "2026-11-24T08:00:00+01:00")
    [digest] = [mail for mail in mails.to(COORDINATOR) if mail.message_id.startswith("<digest.")]
    assert "Svar med kommentar" in digest.text()
    assert "Nils Test (Testskolan) tackar nej till mötet" in digest.text()
    assert reason in digest.text()


async def test_a_counter_proposal_s_comment_reaches_the_organizer(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """RFC 2446's COUNTER example (libical test-data/2446.ics, block 9): a new time and a COMMENT, the
    counterer without PARTSTAT (RFC 5546 3.2.7). The organizer's notice carries both."""
    mails, _ = sink
    await calendar_reply(service, fixture("counter-with-comment.ics"), method="COUNTER")
    await service.settle()
    [notice] = mails.to(ORGANIZER)
    text = notice.text()
    assert "Förslag på ny tid" in text and "18 december 2026" in text
    assert "Kommentar: Fredag förmiddag passar mycket bättre, då kan även skolsköterskan komma." in text


async def test_refresh_is_answered_with_the_current_request_to_that_attendee_only(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """RFC 5546 3.2.6 (REFRESH): the attendee asks for the current version; the organizer sends the
    REQUEST again to that attendee alone (libical test-data/2446.ics block 52: ``Mailto:``, DTSTAMP
    without Z)."""
    mails, _ = sink
    before = len(mails.received)
    answer = await calendar_reply(service, fixture("refresh.ics"), method="REFRESH")
    await service.settle()
    assert answer.endswith("OK")
    new = mails.received[before:]
    assert [mail.rcpt_tos for mail in new] == [("rut.test@example.org",)]
    [request] = new
    assert request.calendar_method() == "REQUEST"
    assert (await statuses(service))["p-refresh"] == "sent"
    assert counted("refreshed", 1) in await metrics(service)
    assert await responded_events(service) == 0


async def test_an_ordinary_reply_reaches_the_coordinator_without_attachments_or_identity_numbers(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """A person presses "Reply" in Outlook Express (tine20 Felamimail/files/Terminbestaetigung.eml:
    iso-8859-1 quoted-printable, multipart/alternative, no calendar) and attaches a file. What they wrote
    goes to the case's coordinator: without the attachment, the quoted invitation or the personnummer they
    typed, and with nothing from the case added beyond the reference; the coordinator's Reply-To is the
    participant's registered address."""
    mails, _ = sink
    invitation = invitation_to(mails, "pia.test@example.org")
    raw = mail_fixture("plain-reply-iso8859-1.eml.tmpl", IN_REPLY_TO=invitation.message_id)
    await send_reply(service, raw, sender="pia.test@example.org")
    await send_reply(service, raw, sender="pia.test@example.org")  # a resend is forwarded once
    await service.settle()

    [forwarded] = mails.to(COORDINATOR)
    text = forwarded.text()
    assert "Jag kommer gärna, men kan bara stanna första timmen." in text
    assert "Pia Test (Testskolan)" in text and CASE in str(forwarded.message["Subject"])
    assert "[personnummer borttaget]" in text and "1212" not in text
    assert samples.TEST_PERSONNUMMER not in text and "Testa Testsson" not in text
    assert "Ursprungligt meddelande" not in text and "Kallelse till SIP" not in text
    assert "Bilagans text" not in forwarded.data.decode("ascii", "replace")
    assert [part.get_content_maintype() for part in forwarded.message.walk() if not part.is_multipart()] == [
        "text",
        "text",
    ]
    assert reply_to(forwarded)[1] == "pia.test@example.org"
    assert (await statuses(service))["p-plain"] == "sent"  # nothing in the case changes
    assert counted("forwarded", 2) in await metrics(service)


async def test_an_exchange_tnef_only_answer_is_recorded_for_the_invitation_it_answers(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Exchange 2010 answers with no iCalendar at all: an empty text part and ``winmail.dat``
    (application/ms-tnef) whose message class is ``IPM.Microsoft Schedule.MtgRespP`` (open-xchange
    TNEF2ICal mailSrc, 'Zugesagt:'; MS-OXOCAL 2.2.1, meeting response classes). Its In-Reply-To names the
    invitation, and so the participant."""
    mails, _ = sink
    invitation = invitation_to(mails, "tore.test@example.org")
    await send_reply(service, tnef_mail(invitation.message_id, "IPM.Microsoft Schedule.MtgRespP"))
    await service.settle()
    assert (await statuses(service))["p-tnef"] == "accepted"

    # Exchange puts what the person wrote in the text part: it is the answer's comment.
    await send_reply(
        service, tnef_mail(invitation.message_id, "IPM.Schedule.Meeting.Resp.Neg", "Jag är sjuk.")
    )
    await service.settle()
    entry = await invitation_entry(service, "p-tnef")
    assert (entry["status"], entry["comment"]) == ("declined", "Jag är sjuk.")


NOT_OURS = "<D9106566FE81E04EAB80F67CB5612D2F@EXCHANGE04.example.local>"
TORE = "tore.test@example.org"


async def test_a_tnef_answer_naming_no_message_of_ours_is_found_among_the_sender_s_open_invitations(
    service: Service,
) -> None:
    """The open-xchange samples carry no In-Reply-To (TNEF2ICal mailSrc2, 'Accepted:'): the sender is
    invited to one open meeting, so that is the invitation the answer is for."""
    await send_reply(service, tnef_mail(NOT_OURS, "IPM.Schedule.Meeting.Resp.Pos"), sender=TORE)
    await service.settle()
    assert (await statuses(service))["p-tnef"] == "accepted"
    assert counted("recorded", 1) in await metrics(service)


async def test_a_tnef_answer_from_someone_not_invited_or_disagreeing_senders_is_counted_and_logged(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = tnef_mail(NOT_OURS, "IPM.Schedule.Meeting.Resp.Pos").replace(
        TORE.encode(), b"ivar.test@example.org"
    )
    with caplog.at_level(logging.INFO):
        await send_reply(service, stranger, sender="ivar.test@example.org")
        # From names an invited participant, the envelope someone else: the From alone is a forger's.
        await send_reply(
            service, tnef_mail(NOT_OURS, "IPM.Schedule.Meeting.Resp.Pos"), sender="forger@example.net"
        )
        await service.settle()
    assert counted("tnef_unmatched", 2) in await metrics(service)
    assert (await statuses(service))["p-tnef"] == "sent"
    records = [r for r in caplog.records if getattr(r, "outcome", None) == "tnef_unmatched"]
    assert len(records) == 2 and all(record.levelno == logging.WARNING for record in records)
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["outcome"] == "tnef_unmatched" and "tnef_unmatched" in line["message"]
    assert "ivar.test" not in json.dumps(line) and "tore.test" not in json.dumps(line)


async def test_a_tnef_answer_that_could_be_for_several_meetings_is_counted_and_not_applied(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Tore is invited to two open meetings; nothing in the mail says which one it answers. Neither is
    changed nor forwarded; Tore still has the reply links of both invitations."""
    tore = next(p for p in PARTICIPANTS if p["participant_id"] == "p-tnef")
    await service.push(samples.meeting_scheduled(meeting_id="m2", participants=[tore]))
    await service.settle()
    before = len(sink[0].received)
    await send_reply(service, tnef_mail(NOT_OURS, "IPM.Schedule.Meeting.Resp.Neg"), sender=TORE)
    await service.settle()
    assert counted("tnef_ambiguous", 1) in await metrics(service)
    assert await responded_events(service) == 0
    assert len(sink[0].received) == before


async def test_an_outlook_tnef_mail_that_is_no_meeting_answer_is_forwarded(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """Outlook 2003 sends ordinary mail in rich text as winmail.dat with class ``IPM.Microsoft Mail.Note``
    (tine20 Felamimail/files/winmail_dat_richtext.eml): no meeting answer, so the text is forwarded."""
    mails, _ = sink
    invitation = invitation_to(mails, "tore.test@example.org")
    raw = tnef_mail(invitation.message_id, "IPM.Microsoft Mail.Note", "Kan vi ses en halvtimme tidigare?")
    await send_reply(service, raw)
    await service.settle()
    [forwarded] = mails.to(COORDINATOR)
    assert "Kan vi ses en halvtimme tidigare?" in forwarded.text()
    assert (await statuses(service))["p-tnef"] == "sent"


async def test_a_reply_naming_a_forged_message_id_is_not_forwarded(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """A Message-ID is only ours with its keyed tag: knowing the case and participant is not enough."""
    mails, _ = sink
    invitation = invitation_to(mails, "pia.test@example.org")
    forged = invitation.message_id[:-22] + "aaaaaaaaaaaaaaaa@sipvakt.example.se>"
    assert forged != invitation.message_id
    await send_reply(service, mail_fixture("plain-reply-iso8859-1.eml.tmpl", IN_REPLY_TO=forged))
    await service.settle()
    assert mails.to(COORDINATOR) == []
    assert counted("not_calendar", 1) in await metrics(service)


async def test_an_ordinary_reply_goes_to_the_organizer_and_calendar_replies_to_the_service(
    sink: tuple[MailSink, int], service: Service
) -> None:
    """CONTRACT v1.1: every message's Reply-To is the meeting's organizer; ORGANIZER in the calendar stays
    the service's own address, so that calendar replies reach the receiver."""
    mails, _ = sink
    invitation = invitation_to(mails, "pia.test@example.org")
    assert reply_to(invitation) == ("Kim Koordinator", ORGANIZER)
    calendar = next(p for p in invitation.message.walk() if p.get_content_type() == "text/calendar")
    payload = calendar.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert f":mailto:{MAIL_FROM}".encode() in payload.replace(b"\r\n ", b"")


async def test_an_auto_reply_to_a_forwarded_reply_goes_no_further(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """RFC 3834 5.1: ``Auto-Submitted: auto-replied``. The coordinator's out-of-office answer to a forwarded
    reply would only come back to them, and their responder might answer it again: it is counted, not sent."""
    mails, _ = sink
    invitation = invitation_to(mails, "pia.test@example.org")
    await send_reply(
        service, mail_fixture("plain-reply-iso8859-1.eml.tmpl", IN_REPLY_TO=invitation.message_id)
    )
    await service.settle()
    [forwarded] = mails.to(COORDINATOR)
    out_of_office = (
        f"From: {COORDINATOR}\r\nTo: {MAIL_FROM}\r\nSubject: Frånvaro\r\nAuto-Submitted: auto-replied\r\n"
        f"In-Reply-To: {forwarded.message_id}\r\n\r\nJag är ledig till och med måndag.\r\n"
    ).encode()
    await send_reply(service, out_of_office)
    await service.settle()
    assert mails.to(COORDINATOR) == [forwarded]
    assert counted("auto_reply", 1) in await metrics(service)


async def test_a_tnef_answer_to_a_cancelled_meeting_is_forwarded_saying_so(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    """An Exchange answer (open-xchange TNEF2ICal mailSrc2, 'Accepted:') that arrives after the meeting was
    cancelled cannot be recorded; the coordinator still learns of it."""
    mails, _ = sink
    invitation = invitation_to(mails, "tore.test@example.org")
    await service.push(samples.event("meeting.cancelled", meeting_id="m1"))
    await service.settle()
    await send_reply(
        service, tnef_mail(invitation.message_id, "IPM.Schedule.Meeting.Resp.Pos", "Jag kommer.")
    )
    await service.settle()
    [forwarded] = mails.to(COORDINATOR)
    text = forwarded.text()
    assert "Svaret i kalendern (tackar ja) kunde inte registreras" in text and "Jag kommer." in text
    assert counted("forwarded", 1) in await metrics(service)
