"""Reading a received e-mail: the calendar in it, the way clients attach it, or else what a person wrote.

`text/calendar` is the iMIP part and wins; `application/ics` (an `invite.ics` copy, or Apple iCal 3's only
copy) comes next, then an attachment whose file name ends in `.ics`. The part's `method=` parameter is
handed to the parser, which prefers the METHOD inside the body when both exist. A message without one is
read for the message ids it answers, the text the person wrote (without the quoted message) and an
Exchange ``winmail.dat``; its attachments are never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from html import unescape

# A calendar reply is a few kilobytes; a message far larger than that is not one.
MAX_MESSAGE_BYTES = 2_000_000


@dataclass(frozen=True)
class CalendarPart:
    body: bytes
    mime_method: str | None


def _rank(part: Message) -> int | None:
    content_type = part.get_content_type()
    if content_type == "text/calendar":
        return 0
    if content_type == "application/ics":
        return 1
    filename = (part.get_filename() or "").lower()
    if filename.endswith(".ics"):
        return 2
    return None


def calendar_part(raw: bytes) -> CalendarPart | None:
    """The best calendar part of the message, or None when it carries none."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    message = message_from_bytes(raw, policy=policy.compat32)
    found: list[tuple[int, int, Message]] = []
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        rank = _rank(part)
        if rank is not None:
            found.append((rank, index, part))
    if not found:
        return None
    _, _, best = min(found, key=lambda item: (item[0], item[1]))
    payload = best.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    method = best.get_param("method")
    return CalendarPart(body=payload, mime_method=method if isinstance(method, str) else None)


# The message ids a reply names as the ones it answers: In-Reply-To first, then References, newest first.
_MESSAGE_IDS = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
# Where a mail program starts quoting the message answered; what follows is ours, not the writer's.
_QUOTE_HEADERS = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprungligt meddelande|originalmeddelande|ursprüngliche nachricht)"
    r"\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"^.{0,200}\b(skrev|wrote|schrieb)\s*:\s*$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
MAX_WRITTEN_CHARS = 8000


@dataclass(frozen=True)
class PlainMail:
    """A received message without a calendar: what it answers, what the person wrote, any TNEF file."""

    answered: tuple[str, ...]
    written: str
    tnef: bytes | None
    automatic: bool


def plain_mail(raw: bytes) -> PlainMail:
    message = message_from_bytes(raw[:MAX_MESSAGE_BYTES], policy=policy.compat32)
    return PlainMail(
        answered=_answered(message),
        written=_written(message),
        tnef=_tnef(message),
        automatic=_automatic(message),
    )


def _automatic(message: Message) -> bool:
    """Sent by a program, not a person: an out-of-office or other auto-reply (RFC 3834, and the headers
    Exchange and older responders use instead)."""
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto_submitted not in ("", "no")
        or precedence in ("auto_reply", "bulk", "junk")
        or "X-Autoreply" in message
        or "X-Autorespond" in message
    )


def _answered(message: Message) -> tuple[str, ...]:
    ids: list[str] = []
    in_reply_to = _MESSAGE_IDS.findall(str(message.get("In-Reply-To", "")))
    references = _MESSAGE_IDS.findall(str(message.get("References", "")))
    for found in (*in_reply_to, *reversed(references)):
        if found not in ids:
            ids.append(found)
    return tuple(ids[:20])


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _written(message: Message) -> str:
    """The text the person wrote: the plain part (or the HTML part without tags), quotes left out.

    Attachments are never read: only inline text parts count.
    """
    plain = html = None
    for part in message.walk():
        disposition = str(part.get("Content-Disposition", "")).strip().lower()
        if part.is_multipart() or part.get_filename() or disposition.startswith("attachment"):
            continue
        if part.get_content_type() == "text/plain" and plain is None:
            plain = _text_of(part)
        elif part.get_content_type() == "text/html" and html is None:
            html = unescape(_TAGS.sub(" ", _text_of(part)))
    text = plain if plain and plain.strip() else html or ""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _QUOTE_HEADERS.match(line) or _WROTE.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()[:MAX_WRITTEN_CHARS]


def _tnef(message: Message) -> bytes | None:
    for part in message.walk():
        if (
            part.get_content_type() == "application/ms-tnef"
            or (part.get_filename() or "").lower() == "winmail.dat"
        ):
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None
