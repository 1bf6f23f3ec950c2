"""E-mail structure for invitations and notices, and header injection."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import SMTP, default

import pytest

from calendars.itip import build_cancel, build_request, parse_reply
from notifiers.mime import (
    CalendarMethod,
    Envelope,
    MailAddress,
    build_calendar_email,
    build_plain_email,
    to_bytes,
)
from notifiers.templates import NoticeMessage, render_meeting_message, render_notice
from tests.calendars.samples import meeting, meeting_message

SENDER = MailAddress("sipvakt", "sipvakt@sipvakt.example.se")
RECIPIENT = MailAddress("Testa Testsson", "testa.testsson@example.org")


def _envelope(recipient: MailAddress = RECIPIENT) -> Envelope:
    return Envelope(
        SENDER,
        recipient,
        "meeting-0042-1-testa@sipvakt.example.se",
        datetime(2026, 11, 23, 9, 15, tzinfo=UTC),
    )


def _invitation(method: CalendarMethod = CalendarMethod.REQUEST, recipient: MailAddress = RECIPIENT) -> bytes:
    ical = build_request(meeting()) if method is CalendarMethod.REQUEST else build_cancel(meeting(sequence=1))
    content = render_meeting_message(meeting_message())
    return to_bytes(build_calendar_email(_envelope(recipient), content, ical, method))


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _structure(part: Message) -> list[str]:
    return [sub.get_content_type() for sub in part.walk()]


def test_invitation_layout_is_mixed_alternative_with_calendar_and_attachment() -> None:
    message = _parse(_invitation())
    assert _structure(message) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]


def test_calendar_part_has_method_charset_and_no_disposition() -> None:
    message = _parse(_invitation())
    calendar_part = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_param("charset") == "UTF-8"
    assert calendar_part["Content-Disposition"] is None
    payload = calendar_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload == build_request(meeting())
    assert b"\r\nMETHOD:REQUEST\r\n" in payload


def test_attachment_is_invite_ics_with_the_same_calendar() -> None:
    message = _parse(_invitation())
    attachment = next(part for part in message.walk() if part.get_content_type() == "application/ics")
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == build_request(meeting())


def test_cancel_email_says_cancel_in_mime_and_body() -> None:
    message = _parse(_invitation(CalendarMethod.CANCEL))
    calendar_part = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "CANCEL"
    payload = calendar_part.get_payload(decode=True)
    assert isinstance(payload, bytes) and b"METHOD:CANCEL" in payload


def test_method_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="METHOD:CANCEL"):
        build_calendar_email(
            _envelope(),
            render_meeting_message(meeting_message()),
            build_request(meeting()),
            CalendarMethod.CANCEL,
        )


def test_headers_one_recipient_stable_message_id_and_no_auto_submitted_on_invitations() -> None:
    raw = _invitation()
    message = _parse(raw)
    assert message["To"] == "Testa Testsson <testa.testsson@example.org>"
    assert message["From"] == "sipvakt <sipvakt@sipvakt.example.se>"
    assert message["Message-ID"] == "<meeting-0042-1-testa@sipvakt.example.se>"
    assert message["Date"] == "Mon, 23 Nov 2026 09:15:00 +0000"
    assert message["MIME-Version"] == "1.0"
    assert message["Cc"] is None and message["Bcc"] is None
    assert message["Auto-Submitted"] is None
    assert (
        message["Subject"]
        == "Kallelse till SIP-möte 14 december 2026 kl. 13.00 (ärendereferens blek-2026-0042)"
    )
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.count(b"\r\nMIME-Version:") == 1


def test_text_parts_are_utf8_and_transfer_safe() -> None:
    raw = _invitation()
    assert all(byte < 128 for byte in raw), "8-bit bytes would need 8BITMIME on every hop"
    text = next(part for part in _parse(raw).walk() if part.get_content_type() == "text/plain")
    assert isinstance(text, EmailMessage)
    assert "Rådhuset, sal 3, Karlskrona" in text.get_content()


def test_a_round_trip_through_the_reply_parser_sees_a_request() -> None:
    calendar_part = next(
        part for part in _parse(_invitation()).walk() if part.get_content_type() == "text/calendar"
    )
    payload = calendar_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    result = parse_reply(payload, calendar_part.get_param("method"))  # type: ignore[arg-type]
    assert getattr(result, "detail", "") == "METHOD:REQUEST"


@pytest.mark.parametrize(
    "name", ["Testa\r\nBcc: evil@example.org", "Testa\x00Testsson", "Testa \u202eevil", "Testa\nSubject: x"]
)
def test_a_hostile_display_name_cannot_inject_a_header(name: str) -> None:
    raw = _invitation(recipient=MailAddress(name, "testa.testsson@example.org"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    header_names = [
        line.split(b":", 1)[0] for line in head.split(b"\r\n") if not line.startswith((b" ", b"\t"))
    ]
    assert b"Bcc" not in header_names
    assert header_names.count(b"Subject") == 1
    assert b"\x00" not in raw
    message = _parse(raw)
    assert message["Bcc"] is None
    assert "\u202e" not in str(message["To"])
    assert message["To"].addresses[0].addr_spec == "testa.testsson@example.org"


@pytest.mark.parametrize(
    "address", ["testa@example.org\r\nBcc: x@example.org", "Testa <testa@example.org>", ""]
)
def test_a_hostile_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        MailAddress("Testa", address)


@pytest.mark.parametrize("message_id", ["two words@x", "<a@b>\r\nBcc: x@y", "no-at-sign", "<>"])
def test_a_malformed_message_id_is_refused(message_id: str) -> None:
    with pytest.raises(ValueError):
        Envelope(SENDER, RECIPIENT, message_id, datetime(2026, 11, 23, tzinfo=UTC))


def test_notice_is_alternative_text_and_html_marked_auto_generated() -> None:
    content = render_notice(NoticeMessage("blek-2026-0042", "Påminnelse", ("Du har inte svarat.",)))
    raw = to_bytes(build_plain_email(_envelope(), content))
    message = _parse(raw)
    assert _structure(message) == ["multipart/alternative", "text/plain", "text/html"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "Påminnelse (ärende blek-2026-0042)"
    assert b"text/calendar" not in raw


def test_serialisation_uses_smtp_policy() -> None:
    message = build_plain_email(_envelope(), render_notice(NoticeMessage("r", "h", ("p",))))
    assert message.policy.linesep == SMTP.linesep == "\r\n"
