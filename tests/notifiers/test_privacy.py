"""No message, calendar file or letter contains anything shaped like a personnummer."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.policy import default

from calendars.itip import build_cancel, build_request, for_recipient
from notifiers.letters import LetterReply, PostalRecipient, build_letter
from notifiers.mime import CalendarMethod, Envelope, MailAddress, build_calendar_email, to_bytes
from notifiers.templates import MeetingMessage, MeetingMessageKind, NoticeMessage, render_meeting_message
from tests.calendars.samples import meeting, meeting_message
from tests.notifiers.pdf_text import all_text

# YYMMDD-NNNN, YYYYMMDD-NNNN, with or without the separator (+ for people over 100).
PERSONNUMMER = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")


def test_the_pattern_finds_personnummer_in_every_usual_shape() -> None:
    for shape in ("121212-1212", "19121212-1212", "1212121212", "191212121212", "121212+1212"):
        assert PERSONNUMMER.search(f"x {shape} y"), shape
    assert not PERSONNUMMER.search("blek-2026-0042 13.00–14.30 20261214T130000")


def test_message_inputs_have_no_place_for_personal_data() -> None:
    fields = {field.name for cls in (MeetingMessage, NoticeMessage) for field in dataclasses.fields(cls)}
    for forbidden in ("personnummer", "person_name", "diagnosis", "notes", "birth_date"):
        assert not any(forbidden in field for field in fields)


def _decoded_email(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=default)
    texts = [raw.decode("ascii")]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8"))
    return "\n".join(texts)


def test_no_output_contains_a_personnummer_shaped_string() -> None:
    calendar_meeting = for_recipient(meeting(), "testa.testsson@example.org")
    outputs: list[str] = [build_request(calendar_meeting).decode(), build_cancel(calendar_meeting).decode()]
    for kind in MeetingMessageKind:
        message = meeting_message(kind=kind, previous_starts_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
        rendered = render_meeting_message(message)
        outputs += [rendered.subject, rendered.text, rendered.html]
        envelope = Envelope(
            MailAddress("sipvakt", "sipvakt@sipvakt.example.se"),
            MailAddress("Testa Testsson", "testa.testsson@example.org"),
            "meeting-0042-1-testa@sipvakt.example.se",
            datetime(2026, 11, 23, 9, 15, tzinfo=UTC),
        )
        method = CalendarMethod.CANCEL if kind is MeetingMessageKind.CANCELLATION else CalendarMethod.REQUEST
        ical = (
            build_cancel(calendar_meeting)
            if method is CalendarMethod.CANCEL
            else build_request(calendar_meeting)
        )
        outputs.append(_decoded_email(to_bytes(build_calendar_email(envelope, rendered, ical, method))))
        pdf = build_letter(
            message,
            PostalRecipient("Testa Testsson", ("Storgatan 1", "371 31 Karlskrona")),
            "sipvakt, Box 123, 371 21 Karlskrona",
            LetterReply("K7Q-4ZP", "https://sipvakt.example.se/svar"),
            date(2026, 11, 23),
        )
        outputs.append(all_text(pdf))
    for output in outputs:
        assert PERSONNUMMER.search(output) is None, PERSONNUMMER.search(output)


def test_the_check_sees_through_base64_and_quoted_printable() -> None:
    # Free text is the caller's responsibility; this shows the check above would catch it if it slipped in.
    leaked = render_meeting_message(meeting_message(purpose="Gäller 121212-1212"))
    envelope = Envelope(
        MailAddress("sipvakt", "sipvakt@sipvakt.example.se"),
        MailAddress("Testa Testsson", "testa.testsson@example.org"),
        "x@sipvakt.example.se",
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    raw = to_bytes(build_calendar_email(envelope, leaked, build_request(meeting()), CalendarMethod.REQUEST))
    assert PERSONNUMMER.search(_decoded_email(raw)) is not None
