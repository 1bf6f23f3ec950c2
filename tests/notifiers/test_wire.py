"""The fast message writer says exactly what the email package's version says, for invitations and plain
notices, for any names and texts."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from hypothesis import example, given, settings
from hypothesis import strategies as st

from calendars.clean_text import _clean_line_by_character, clean_line
from calendars.itip import build_cancel, build_request
from notifiers.mime import (
    CalendarMethod,
    Envelope,
    MailAddress,
    build_calendar_email,
    build_plain_email,
    header_text,
    to_bytes,
)
from notifiers.templates import (
    NoticeMessage,
    RenderedMessage,
    ReplyLinks,
    render_meeting_message,
    render_notice,
)
from notifiers.wire import (
    _quoted_printable,
    _quoted_printable_after,
    _shared_quoted_printable,
    calendar_email_bytes,
    plain_email_bytes,
)
from tests.calendars.samples import meeting, meeting_message

SENDER = MailAddress("sipvakt", "sipvakt@sipvakt.example.se")
HEADERS = ("From", "Date", "Message-ID", "MIME-Version")
PLAIN_HEADERS = ("Auto-Submitted", "X-Auto-Response-Suppress")

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from('"(),.:;<>@[]\\ åäöÅÄÖ–\r\n\t'),
    max_size=60,
)


def _envelope(name: str, reply_name: str) -> Envelope:
    return Envelope(
        SENDER,
        MailAddress(name, "testa.testsson@example.org"),
        "blek-2026-0042.m1.p1.request.0@sipvakt.example.se",
        datetime(2026, 11, 23, 9, 15, tzinfo=UTC),
        reply_to=MailAddress(reply_name, "svar@sipvakt.example.se"),
    )


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _leaves(message: EmailMessage) -> list[tuple[str, dict[str, str], str | None, bytes]]:
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        params = {key: value for key, value in part.get_params() or [] if key not in ("text/plain",)}
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_content_type(), params, part.get_filename(), payload.rstrip(b"\r\n")))
    return found


def _same_text(decoded: str, meant: str) -> bool:
    return decoded == meant if meant.isascii() else decoded.replace(" ", "") == meant.replace(" ", "")


def _same_message(envelope: Envelope, content: RenderedMessage, method: CalendarMethod) -> None:
    ical = build_request(meeting()) if method is CalendarMethod.REQUEST else build_cancel(meeting(sequence=1))
    reference = to_bytes(build_calendar_email(envelope, content, ical, method))
    _same_bytes(envelope, content, reference, calendar_email_bytes(envelope, content, ical, method))


def _same_plain_message(envelope: Envelope, content: RenderedMessage) -> None:
    reference = to_bytes(build_plain_email(envelope, content))
    fast_bytes = plain_email_bytes(envelope, content)
    _same_bytes(envelope, content, reference, fast_bytes)
    for header in PLAIN_HEADERS:
        assert str(_parse(fast_bytes)[header]) == str(_parse(reference)[header]), header


def _same_bytes(
    envelope: Envelope, content: RenderedMessage, reference_bytes: bytes, fast_bytes: bytes
) -> None:
    reference = _parse(reference_bytes)
    fast = _parse(fast_bytes)
    for header in HEADERS:
        assert str(fast[header]) == str(reference[header]), header
    # Names and subject are compared with what was meant, not with the reference: the email package
    # sometimes decodes two adjacent encoded words with a space between them that RFC 2047 says to drop.
    for header, mailbox in (("To", envelope.recipient), ("Reply-To", envelope.reply_to)):
        assert mailbox is not None
        [address] = fast[header].addresses
        assert address.addr_spec == mailbox.email
        assert _same_text(address.display_name, header_text(mailbox.name))
    assert _same_text(str(fast["Subject"]), header_text(content.subject))
    assert [part.get_content_type() for part in fast.walk()] == [
        part.get_content_type() for part in reference.walk()
    ]
    assert _leaves(fast) == _leaves(reference)
    assert all(len(line) <= 998 for line in fast_bytes.split(b"\r\n"))
    assert b"\n" not in fast_bytes.replace(b"\r\n", b"")


def test_an_invitation_and_a_cancellation_are_the_same_as_the_email_package_writes_them() -> None:
    content = render_meeting_message(meeting_message())
    for method in CalendarMethod:
        _same_message(_envelope("Åsa Öberg (test)", "Kim Koordinator"), content, method)


@settings(max_examples=40, deadline=None)
@given(name=texts, reply_name=texts, subject=texts, body=texts)
@example(name="", reply_name="", subject="", body="\r0")
@example(name="", reply_name="", subject="", body="x\r\r\ny")
def test_any_names_and_texts_come_out_the_same(name: str, reply_name: str, subject: str, body: str) -> None:
    content = render_meeting_message(meeting_message())
    varied = RenderedMessage(subject=subject or "x", text=content.text + body, html=content.html + body)
    _same_message(_envelope(name, reply_name), varied, CalendarMethod.REQUEST)


def test_a_notice_is_the_same_as_the_email_package_writes_it() -> None:
    content = render_notice(
        NoticeMessage("blek-2026-0042", "Påminnelse: svara på kallelsen", ("Du har inte svarat.",))
    )
    _same_plain_message(_envelope("", "Kim Koordinator"), content)
    _same_plain_message(_envelope("Åsa Öberg (test)", "Kim Åkesson, Testkommun"), content)


@settings(max_examples=40, deadline=None)
@given(name=texts, reply_name=texts, subject=texts, body=texts)
@example(name="", reply_name="", subject="", body="\r0")
def test_any_notice_comes_out_the_same(name: str, reply_name: str, subject: str, body: str) -> None:
    content = render_notice(NoticeMessage("blek-2026-0042", "Påminnelse", ("Du har inte svarat.",)))
    varied = RenderedMessage(subject=subject or "x", text=content.text + body, html=content.html + body)
    _same_plain_message(_envelope(name, reply_name), varied)


def test_a_resend_is_byte_for_byte_the_same() -> None:
    content = render_meeting_message(meeting_message())
    envelope = _envelope("Åsa Öberg (test)", "Kim Koordinator")
    ical = build_request(meeting())
    first = calendar_email_bytes(envelope, content, ical, CalendarMethod.REQUEST)
    assert calendar_email_bytes(envelope, content, ical, CalendarMethod.REQUEST) == first
    notice = render_notice(NoticeMessage("blek-2026-0042", "Påminnelse", ("Du har inte svarat.",)))
    assert plain_email_bytes(envelope, notice) == plain_email_bytes(envelope, notice)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_quick_path_of_clean_line_agrees_with_the_full_one(value: str) -> None:
    assert clean_line(value) == _clean_line_by_character(value)


@settings(max_examples=400, deadline=None)
@given(head=texts, tail=texts)
@example(head="a \n", tail=" ")
@example(head=".\n", tail=".")
@example(head="x" * 75 + "\n", tail="=" * 80)
@example(head="x\r\n", tail="\ny")
def test_a_text_cut_after_a_line_break_is_encoded_as_its_two_pieces(head: str, tail: str) -> None:
    shared = head if head.endswith("\n") else head + "\n"
    assert _quoted_printable(shared) + _quoted_printable(tail) == _quoted_printable(shared + tail)
    assert _quoted_printable_after(shared, shared + tail) == _quoted_printable(shared + tail)


@settings(max_examples=200, deadline=None)
@given(shared=texts, rest=texts, other=texts)
@example(shared="x" * 80, rest="y", other="")
@example(shared="a ", rest="b", other="")
def test_a_shared_beginning_is_relied_on_only_where_it_cuts_after_a_line_break(
    shared: str, rest: str, other: str
) -> None:
    assert _quoted_printable_after(shared, shared + rest) == _quoted_printable(shared + rest)
    assert _quoted_printable_after(shared, other) == _quoted_printable(other)


def test_recipients_of_one_meeting_share_the_encoding_of_their_pages_beginning() -> None:
    envelope = _envelope("Åsa Öberg (test)", "Kim Koordinator")
    ical = build_request(meeting())
    _shared_quoted_printable.cache_clear()
    for token in ("first", "second", "third"):
        links = ReplyLinks(*(f"https://sipvakt.example.se/rsvp/{token}?svar={a}" for a in ("ja", "nej", "x")))
        content = render_meeting_message(meeting_message(reply_links=links))
        plain = RenderedMessage(content.subject, content.text, content.html)
        written = calendar_email_bytes(envelope, content, ical, CalendarMethod.REQUEST)
        assert written == calendar_email_bytes(envelope, plain, ical, CalendarMethod.REQUEST)
    # The text's and the HTML's beginnings, encoded for the first recipient and reused for the others.
    assert _shared_quoted_printable.cache_info().misses == 2
    assert _shared_quoted_printable.cache_info().hits == 4
