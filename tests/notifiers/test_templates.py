"""Message texts: Swedish by default, neutral subjects, escaped HTML, every field where it belongs."""

from __future__ import annotations

from datetime import datetime

import pytest

from calendars.stockholm import STOCKHOLM
from notifiers.datefmt import format_span
from notifiers.templates import (
    Contact,
    MeetingMessageKind,
    NoticeMessage,
    calendar_texts,
    render_meeting_message,
    render_notice,
)
from tests.calendars.samples import meeting_message


def test_invitation_subject_is_swedish_with_date_time_and_case_reference() -> None:
    rendered = render_meeting_message(meeting_message())
    assert (
        rendered.subject
        == "Kallelse till SIP-möte 14 december 2026 kl. 13.00 (ärendereferens blek-2026-0042)"
    )


def test_english_subject_and_clock() -> None:
    rendered = render_meeting_message(meeting_message(language="en"))
    assert (
        rendered.subject
        == "Invitation to a SIP meeting 14 December 2026 at 13:00 (case reference blek-2026-0042)"
    )
    assert "Monday 14 December 2026 at 13:00–14:30" in rendered.text


def test_update_and_cancellation_subjects() -> None:
    previous = datetime(2026, 12, 10, 9, 0, tzinfo=STOCKHOLM)
    update = render_meeting_message(
        meeting_message(kind=MeetingMessageKind.UPDATE, previous_starts_at=previous)
    )
    assert update.subject.startswith("Ändrad tid: SIP-möte 14 december 2026 kl. 13.00")
    assert "Tidigare tid:" in update.text and "10 december 2026 kl. 09.00" in update.text
    cancel = render_meeting_message(meeting_message(kind=MeetingMessageKind.CANCELLATION))
    assert cancel.subject == "Inställt: SIP-möte 14 december 2026 kl. 13.00 (ärendereferens blek-2026-0042)"


def test_invitation_body_has_time_place_link_purpose_questions_organizer_and_reply_links() -> None:
    text = render_meeting_message(meeting_message()).text
    for expected in (
        "måndag 14 december 2026 kl. 13.00–14.30",
        "Rådhuset, sal 3, Karlskrona",
        "https://meet.example.se/sip-0042?pwd=a&b=c",
        "Gemensam planering av stöd",
        "- Hur fungerar skolan?",
        "- Vem gör vad under våren?",
        "Åsa Öberg (test), Exempelkommunen",
        "Jag kommer: https://sipvakt.example.se/rsvp/tok123?answer=accept",
        "Jag kan inte komma: https://sipvakt.example.se/rsvp/tok123?answer=decline",
        "Jag skickar en ersättare: https://sipvakt.example.se/rsvp/tok123/substitute",
    ):
        assert expected in text


def test_cancellation_has_no_reply_links() -> None:
    rendered = render_meeting_message(meeting_message(kind=MeetingMessageKind.CANCELLATION))
    assert "rsvp" not in rendered.text
    assert "rsvp" not in rendered.html


def test_html_escapes_every_value_and_links_only_web_urls() -> None:
    rendered = render_meeting_message(
        meeting_message(purpose='<script>alert("x")</script>', location="A & B <rum>", questions=("1 < 2?",))
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
    assert "A &amp; B &lt;rum&gt;" in rendered.html
    assert "<li>1 &lt; 2?</li>" in rendered.html
    assert '<a href="https://meet.example.se/sip-0042?pwd=a&amp;b=c">' in rendered.html
    assert '<html lang="sv">' in rendered.html


def test_hostile_text_cannot_break_the_subject_line() -> None:
    rendered = render_meeting_message(meeting_message(case_reference="x\r\nBcc: evil@example.org\u202e"))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "\u202e" not in rendered.subject + rendered.text + rendered.html


def test_unsafe_links_are_refused() -> None:
    with pytest.raises(ValueError):
        meeting_message(online_url="javascript:alert(1)")
    with pytest.raises(ValueError):
        NoticeMessage("blek-2026-0042", "Påminnelse", ("Text",), link_url="https://a.example.se/\r\nx")


def test_notice_is_plain_and_neutral() -> None:
    rendered = render_notice(
        NoticeMessage(
            case_reference="blek-2026-0042",
            headline="Påminnelse: svara på kallelsen",
            paragraphs=("Du har ännu inte svarat.", "Svara gärna i dag."),
            link_url="https://sipvakt.example.se/rsvp/tok123",
            link_label="Svara här",
        )
    )
    assert rendered.subject == "Påminnelse: svara på kallelsen (ärende blek-2026-0042)"
    assert "Du har ännu inte svarat.\n\nSvara gärna i dag." in rendered.text
    assert "Svara här: https://sipvakt.example.se/rsvp/tok123" in rendered.text
    assert '<a href="https://sipvakt.example.se/rsvp/tok123">Svara här</a>' in rendered.html


def test_times_are_shown_on_the_stockholm_clock_across_dst_and_midnight() -> None:
    summer = datetime(2026, 7, 14, 11, 0, tzinfo=STOCKHOLM).astimezone(STOCKHOLM)
    assert format_span(summer, summer.replace(hour=12), "sv") == "tisdag 14 juli 2026 kl. 11.00–12.00"
    late = datetime(2026, 12, 31, 23, 0, tzinfo=STOCKHOLM)
    assert format_span(late, datetime(2027, 1, 1, 0, 30, tzinfo=STOCKHOLM), "sv") == (
        "torsdag 31 december 2026 kl. 23.00 – fredag 1 januari 2027 kl. 00.30"
    )


def test_a_copy_without_case_reference_names_the_coordinator_in_both_languages() -> None:
    contact = Contact("Kim Samordnare (test)", "Testkommun socialtjänst", "kim@example.se")
    for language, asks, reference in (
        ("sv", "Frågor? Kontakta samordnaren", "Ärendereferens"),
        ("en", "Questions? Contact the coordinator", "Case reference"),
    ):
        message = meeting_message(case_reference=None, contact=contact, language=language)
        rendered = render_meeting_message(message)
        calendar = calendar_texts(message)
        for text in (rendered.subject, rendered.text, rendered.html, calendar.summary, calendar.description):
            assert "blek-2026-0042" not in text and reference not in text
        line = f"{asks}: Kim Samordnare (test), Testkommun socialtjänst, kim@example.se"
        assert line in rendered.text and line in calendar.description
        with_reference = calendar_texts(meeting_message(contact=contact, language=language))
        assert with_reference.summary.endswith("blek-2026-0042)")
