"""A meeting message laid out once per meeting and finished with each recipient's reply links says
exactly what laying out its whole page for that recipient says."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from notifiers.i18n import LANGUAGES
from notifiers.templates import (
    Contact,
    MeetingMessage,
    MeetingMessageKind,
    RenderedMessage,
    ReplyLinks,
    _meeting_html,
    _meeting_page,
    _meeting_text,
    meeting_texts,
    render_meeting_message,
)
from tests.calendars.samples import meeting_message

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("<>&\"'$ åäö\r\n\n\t"),
    max_size=40,
)
tokens = st.text(st.sampled_from("abcdefghijkmnpqrstuvwxyz23456789&<>\"'"), min_size=1, max_size=20)


def _whole(message: MeetingMessage) -> RenderedMessage:
    texts = meeting_texts(message)
    return RenderedMessage(texts.subject, _meeting_text(texts), _meeting_html(texts, message.language))


def _links(token: str) -> ReplyLinks:
    base = "https://sipvakt.example.se/rsvp/"
    return ReplyLinks(base + token + "?svar=ja", base + token + "?svar=nej", base + token + "?svar=ersattare")


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(MeetingMessageKind),
    language=st.sampled_from(LANGUAGES),
    reference=st.none() | texts,
    location=texts,
    purpose=texts,
    questions=st.lists(texts, max_size=3),
    organizer=texts,
    contact=st.none() | st.builds(Contact, texts, texts, texts),
    moved=st.booleans(),
    first=st.none() | tokens,
    second=st.none() | tokens,
)
@example(
    kind=MeetingMessageKind.INVITATION,
    language="sv",
    reference=None,
    location="",
    purpose="\n\n\n",
    questions=[],
    organizer="",
    contact=None,
    moved=False,
    first=None,
    second="x",
)
def test_every_recipient_gets_what_their_whole_page_says(
    kind: MeetingMessageKind,
    language: str,
    reference: str | None,
    location: str,
    purpose: str,
    questions: list[str],
    organizer: str,
    contact: Contact | None,
    moved: bool,
    first: str | None,
    second: str | None,
) -> None:
    base = meeting_message()
    shared = {
        "kind": kind,
        "language": language,
        "case_reference": reference,
        "location": location,
        "purpose": purpose,
        "questions": tuple(questions),
        "organizer_name": organizer,
        "contact": contact,
        "previous_starts_at": base.starts_at - timedelta(days=3) if moved else None,
    }
    # Two recipients of one meeting: the second is written from the page laid out for the first.
    for token in (first, second):
        message = meeting_message(**shared, reply_links=_links(token) if token else None)
        assert render_meeting_message(message) == _whole(message)


def test_recipients_who_differ_only_in_their_links_share_one_page() -> None:
    _meeting_page.cache_clear()
    first = render_meeting_message(meeting_message(reply_links=_links("first")))
    second = render_meeting_message(meeting_message(reply_links=_links("second")))
    assert _meeting_page.cache_info().misses == 1 and _meeting_page.cache_info().hits == 1
    assert "rsvp/first?" in first.text and "rsvp/second?" in second.text and "rsvp/first" not in second.html
    render_meeting_message(meeting_message(reply_links=_links("third"), case_reference=None))
    assert _meeting_page.cache_info().misses == 2


def test_times_an_hour_apart_in_the_hour_that_repeats_get_pages_of_their_own() -> None:
    # 01.30 in New York on 1 November 2026 happens twice; the two compare equal as datetimes.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second and hash(first) == hash(second)
    for starts_at in (first, second):
        message = meeting_message(starts_at=starts_at, ends_at=second + timedelta(hours=1))
        assert render_meeting_message(message) == _whole(message)
    shown = [
        render_meeting_message(meeting_message(starts_at=s, ends_at=second + timedelta(hours=1))).text
        for s in (first, second)
    ]
    assert "06.30" in shown[0] and "07.30" in shown[1]
