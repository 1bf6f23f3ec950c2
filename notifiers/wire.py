"""E-mails written straight to bytes: invitations in the layout of
:func:`notifiers.mime.build_calendar_email`, notices and reminders in that of
:func:`notifiers.mime.build_plain_email`.

The email package's header objects parse and refold every header and part, which costs several
milliseconds per message: more than handing the message to SMTP, and most of a test-clock move that sends
a year of reminders and digests. This writer produces the same message (same headers, same parts, same
encodings, checked against the email package in the tests) in a fraction of that, from values that have
already been validated by :class:`notifiers.mime.Envelope`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from email.utils import format_datetime
from functools import lru_cache

from notifiers.mime import CalendarMethod, Envelope, MailAddress, header_text, normalize_message_id
from notifiers.templates import RenderedMessage

CRLF = b"\r\n"
# Characters that make a display name need quoting (RFC 5322 specials and the quote itself).
_SPECIALS = frozenset('()<>[]:;@\\,."')
_HEADER_WIDTH = 76
# 36 octets are 48 base64 characters: an encoded word of 60, which leaves room for "Subject: ".
_WORD_OCTETS = 36


def _boundary(message_id: str, part: str) -> str:
    # "=_" cannot occur in quoted-printable or base64 output, so the boundary never collides with a body;
    # derived from the Message-ID, a resend is byte for byte the same message.
    return "=_" + part + "_" + hashlib.sha256(f"{part}\x1f{message_id}".encode()).hexdigest()[:24]


def _encoded(value: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64), one per folded line, split between characters."""
    octets = value.encode("utf-8")
    # Each word takes as many whole characters as fit in its octets: cut, then step back off any
    # continuation octet (0b10xxxxxx) so that the cut falls between two characters.
    words: list[bytes] = []
    start = 0
    while len(octets) - start > _WORD_OCTETS:
        end = start + _WORD_OCTETS
        while octets[end] & 0xC0 == 0x80:
            end -= 1
        words.append(octets[start:end])
        start = end
    words.append(octets[start:])
    return "\r\n ".join("=?utf-8?b?" + base64.b64encode(word).decode("ascii") + "?=" for word in words)


def _mailbox(mailbox: MailAddress) -> str:
    name = header_text(mailbox.name)
    if not name:
        return mailbox.email
    if not name.isascii():
        return f"{_encoded(name)} <{mailbox.email}>"
    if any(char in _SPECIALS for char in name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{mailbox.email}>'
    return f"{name} <{mailbox.email}>"


def _unstructured(value: str) -> str:
    text = header_text(value)
    return text if text.isascii() and len(text) < _HEADER_WIDTH else _encoded(text)


def _quoted_printable(text: str) -> bytes:
    # Soft line breaks at 76 columns; trailing spaces and every non-ASCII octet encoded; CRLF line ends.
    # A lone CR is a line break too, as the email package reads it.
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True)
    return encoded.replace(b"\n", CRLF)


# What every recipient of a meeting gets alike (see RenderedMessage.shared_text) is encoded once.
# Bounded: a long-running process meets ever new meetings.
_shared_quoted_printable = lru_cache(maxsize=512)(_quoted_printable)


def _quoted_printable_after(shared: str, text: str) -> bytes:
    """`text` encoded, its beginning `shared` from what was encoded before.

    Quoted-printable encodes line by line: a line break ends every soft-broken line and starts the
    count of columns afresh, and only a line's end (or the text's) decides whether a space or a dot is
    encoded. So a text cut right after a line break encodes as its two pieces do, one after the other.
    """
    if shared.endswith("\n") and text.startswith(shared):
        return _shared_quoted_printable(shared) + _quoted_printable(text[len(shared) :])
    return _quoted_printable(text)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _part(headers: list[str], body: bytes) -> bytes:
    # Every header is ASCII but an address whose local part is not, which RFC 6532 sends as UTF-8.
    return ("\r\n".join(headers) + "\r\n\r\n").encode("utf-8") + body


def calendar_email_bytes(
    envelope: Envelope, content: RenderedMessage, calendar: bytes, method: CalendarMethod
) -> bytes:
    """An invitation, update or cancellation with its iCalendar part and an ``invite.ics`` copy."""
    if f"\r\nMETHOD:{method.value}\r\n".encode() not in calendar:
        raise ValueError(f"the calendar does not say METHOD:{method.value}")
    encoded_calendar = _base64(calendar)  # the same bytes in both parts
    mixed = _boundary(envelope.message_id, "mixed")
    alternative = _boundary(envelope.message_id, "alt")
    headers = [
        *_envelope_headers(envelope, content.subject),
        f'Content-Type: multipart/mixed; boundary="{mixed}"',
    ]
    texts = [
        *_text_parts(content),
        _part(
            [
                f'Content-Type: text/calendar; charset="UTF-8"; method="{method.value}"',
                "Content-Transfer-Encoding: base64",
            ],
            encoded_calendar,
        ),
    ]
    alternative_part = _part(
        [f'Content-Type: multipart/alternative; boundary="{alternative}"'], _multipart(alternative, texts)
    )
    attachment = _part(
        [
            'Content-Type: application/ics; name="invite.ics"',
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="invite.ics"',
        ],
        encoded_calendar,
    )
    return _part(headers, _multipart(mixed, [alternative_part, attachment]))


def plain_email_bytes(envelope: Envelope, content: RenderedMessage) -> bytes:
    """A reminder or notice (text and HTML), marked as automatically generated."""
    alternative = _boundary(envelope.message_id, "alt")
    headers = [
        *_envelope_headers(envelope, content.subject),
        "Auto-Submitted: auto-generated",
        # Outlook's own switch for out-of-office and auto-replies; delivery reports stay on.
        "X-Auto-Response-Suppress: OOF, AutoReply",
        f'Content-Type: multipart/alternative; boundary="{alternative}"',
    ]
    return _part(headers, _multipart(alternative, _text_parts(content)))


# The sender, the organizer to reply to and the subject are the same in every message of a meeting.
# Bounded: a long-running process meets ever new meetings.
_shared_mailbox = lru_cache(maxsize=256)(_mailbox)
_shared_unstructured = lru_cache(maxsize=256)(_unstructured)


def _envelope_headers(envelope: Envelope, subject: str) -> list[str]:
    headers = [f"From: {_shared_mailbox(envelope.sender)}", f"To: {_mailbox(envelope.recipient)}"]
    if envelope.reply_to is not None:
        headers.append(f"Reply-To: {_shared_mailbox(envelope.reply_to)}")
    return [
        *headers,
        f"Subject: {_shared_unstructured(subject)}",
        f"Date: {format_datetime(envelope.date)}",
        f"Message-ID: {normalize_message_id(envelope.message_id)}",
        "MIME-Version: 1.0",
    ]


_QP = "Content-Transfer-Encoding: quoted-printable"


def _text_parts(content: RenderedMessage) -> list[bytes]:
    return [
        _part(
            ['Content-Type: text/plain; charset="utf-8"', _QP],
            _quoted_printable_after(content.shared_text, content.text),
        ),
        _part(
            ['Content-Type: text/html; charset="utf-8"', _QP],
            _quoted_printable_after(content.shared_html, content.html),
        ),
    ]


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    delimiter = b"--" + boundary.encode("ascii")
    out: list[bytes] = []
    for part in parts:
        # A body that does not end in CRLF gets one: the CRLF before a delimiter belongs to the delimiter.
        out += (delimiter, CRLF, part, b"" if part.endswith(CRLF) else CRLF)
    out += (delimiter, b"--", CRLF)
    return b"".join(out)
