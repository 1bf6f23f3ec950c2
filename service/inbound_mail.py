"""Finding the calendar in a received e-mail, the way clients attach it.

`text/calendar` is the iMIP part and wins; `application/ics` (an `invite.ics` copy, or Apple iCal 3's only
copy) comes next, then an attachment whose file name ends in `.ics`. The part's `method=` parameter is
handed to the parser, which prefers the METHOD inside the body when both exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

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
