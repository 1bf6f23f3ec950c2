"""E-mail messages, one recipient each: invitations with iCalendar, and plain notices.

Invitation layout (what Gmail sends, and what Outlook, Apple Mail and Thunderbird show with buttons)::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; charset=UTF-8; method=REQUEST|CANCEL   (no Content-Disposition)
      application/ics; name=invite.ics                        (attachment, for clients without iMIP)

Invitations carry no ``Auto-Submitted`` header: they stand for the coordinator's call to a meeting and
ask for an answer, and some servers do not process calendar mail marked as automatic. Notices and
reminders are marked ``auto-generated`` so that vacation responders stay quiet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime
from enum import StrEnum
from typing import cast

from calendars.addresses import require_plain_address
from calendars.clean_text import clean_line
from notifiers.templates import RenderedMessage

_MESSAGE_ID = re.compile(r"<?([!#-;=?-~]+@[!#-;=?-~]+)>?")
_MAX_HEADER_TEXT = 300


class CalendarMethod(StrEnum):
    """The iTIP method of an invitation e-mail; it must equal METHOD inside the calendar."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class MailAddress:
    """A display name and a bare address."""

    name: str
    email: str

    def __post_init__(self) -> None:
        require_plain_address(self.email)


@dataclass(frozen=True)
class Envelope:
    """Who sends to whom, when, under which Message-ID (stable, so a resend is recognised as the same)."""

    sender: MailAddress
    recipient: MailAddress
    message_id: str
    date: datetime
    reply_to: MailAddress | None = None

    def __post_init__(self) -> None:
        if self.date.tzinfo is None or self.date.utcoffset() is None:
            raise ValueError("the Date header needs a timezone-aware time")
        normalize_message_id(self.message_id)


def normalize_message_id(value: str) -> str:
    """``local@domain`` or ``<local@domain>`` → ``<local@domain>``; anything else raises ``ValueError``."""
    match = _MESSAGE_ID.fullmatch(value)
    if match is None:
        raise ValueError(f"not a Message-ID: {value!r}")
    return f"<{match.group(1)}>"


def header_text(value: str) -> str:
    """A header value that cannot start another header or hide text: one line, no controls, bounded."""
    cleaned = clean_line(value)
    return cleaned if len(cleaned) <= _MAX_HEADER_TEXT else cleaned[: _MAX_HEADER_TEXT - 1] + "…"


def _address(mailbox: MailAddress) -> Address | str:
    if not mailbox.email.isascii():
        # The email package's Address refuses a local part beyond ASCII, which RFC 6532 allows; such a
        # message goes out under SMTPUTF8 (see `to_bytes`), with the bare address.
        return mailbox.email
    return Address(display_name=header_text(mailbox.name), addr_spec=mailbox.email)


def _headers(envelope: Envelope, subject: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(envelope.sender)
    message["To"] = _address(envelope.recipient)
    if envelope.reply_to is not None:
        message["Reply-To"] = _address(envelope.reply_to)
    message["Subject"] = header_text(subject)
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = normalize_message_id(envelope.message_id)
    message["MIME-Version"] = "1.0"
    return message


def _alternative(content: RenderedMessage) -> MIMEPart:
    alternative = MIMEPart(policy=SMTP)
    # Quoted-printable keeps å, ä, ö safe on servers without 8BITMIME and the text readable in the source.
    alternative.add_alternative(content.text, subtype="plain", cte="quoted-printable")
    alternative.add_alternative(content.html, subtype="html", cte="quoted-printable")
    return alternative


def _attach(parent: EmailMessage, child: MIMEPart) -> None:
    # Sub-parts are MIMEPart so that they do not repeat MIME-Version; typeshed's attach() wants the
    # parent's own class, which is what the standard library itself does not require.
    parent.attach(cast(EmailMessage, child))


def build_calendar_email(
    envelope: Envelope, content: RenderedMessage, calendar: bytes, method: CalendarMethod
) -> EmailMessage:
    """An invitation, update or cancellation with its iCalendar part and an ``invite.ics`` copy.

    ``calendar`` is the output of :func:`calendars.itip.build_request` or ``build_cancel``; its METHOD
    must be ``method`` (checked, since a mismatch makes Outlook reject the message).
    """
    if f"\r\nMETHOD:{method.value}\r\n".encode() not in calendar:
        raise ValueError(f"the calendar does not say METHOD:{method.value}")
    message = _headers(envelope, content.subject)
    alternative = _alternative(content)

    calendar_part = MIMEPart(policy=SMTP)
    # Base64 keeps the CRLF line ends and folded lines of the calendar byte for byte.
    calendar_part.set_content(calendar, maintype="text", subtype="calendar", cte="base64")
    calendar_part.set_param("charset", "UTF-8")
    calendar_part.set_param("method", method.value)
    alternative.attach(calendar_part)

    attachment = MIMEPart(policy=SMTP)
    attachment.set_content(
        calendar,
        maintype="application",
        subtype="ics",
        cte="base64",
        disposition="attachment",
        filename="invite.ics",
    )
    attachment.set_param("name", "invite.ics")

    message.make_mixed()
    _attach(message, alternative)
    _attach(message, attachment)
    return message


def build_plain_email(envelope: Envelope, content: RenderedMessage) -> EmailMessage:
    """A reminder or notice (text and HTML), marked as automatically generated."""
    message = _headers(envelope, content.subject)
    message["Auto-Submitted"] = "auto-generated"
    # Outlook's own switch for out-of-office and auto-replies; delivery reports stay on so bounces arrive.
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message.make_alternative()
    for part in _alternative(content).iter_parts():
        _attach(message, part)
    return message


def to_bytes(message: EmailMessage) -> bytes:
    """The message as sent over SMTP: CRLF line ends, lines within 78 characters where possible; headers
    in UTF-8 only when an address needs it."""
    ascii_addresses = all(str(message.get(name, "")).isascii() for name in ("From", "To", "Reply-To"))
    return message.as_bytes(policy=SMTP if ascii_addresses else SMTPUTF8)
