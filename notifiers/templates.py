"""Message texts for invitations, updates, cancellations and plain notices, in every recipient's language.

The words come from the message catalogs (``notifiers/i18n.py``) and the page shapes from
``meeting.*`` and ``notice.*`` in ``notifiers/templates/`` (``string.Template``). The inputs have no
field for a personnummer, the person's name, a diagnosis or case notes, so a message cannot carry them:
only time, place, purpose, questions, organizer, the coordinator to contact, the case reference and
reply links. The case reference is a
handle for professionals and means nothing to a child or a parent: it is given only in professionals'
copies, and everyone is told whom to ask instead.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache
from operator import attrgetter
from pathlib import Path
from string import Template
from typing import Any

from calendars.addresses import require_web_url
from calendars.clean_text import clean_line
from notifiers.datefmt import format_clock, format_date, format_moment, format_span
from notifiers.i18n import Language, section
from notifiers.i18n import text as catalog_text

_TEMPLATES = Path(__file__).with_name("templates")


class MeetingMessageKind(StrEnum):
    """Which message about a meeting is sent."""

    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLATION = "cancellation"


@dataclass(frozen=True)
class ReplyLinks:
    """Where a participant answers without a calendar: accept, decline, or name a substitute."""

    accept_url: str
    decline_url: str
    substitute_url: str

    def __post_init__(self) -> None:
        for url in (self.accept_url, self.decline_url, self.substitute_url):
            require_web_url(url)


@dataclass(frozen=True)
class Contact:
    """A person to turn to with questions: the case's coordinator."""

    name: str
    organisation: str
    email: str


@dataclass(frozen=True)
class MeetingMessage:
    """What an invitation, update or cancellation says. ``previous_starts_at`` is shown on updates;
    ``case_reference`` only in a professional's copy (None in everyone else's)."""

    kind: MeetingMessageKind
    case_reference: str | None
    starts_at: datetime
    ends_at: datetime
    location: str
    online_url: str | None
    purpose: str
    questions: tuple[str, ...]
    organizer_name: str
    organizer_organisation: str
    reply_links: ReplyLinks | None
    previous_starts_at: datetime | None = None
    language: Language = "sv"
    contact: Contact | None = None

    def __post_init__(self) -> None:
        if self.online_url is not None:
            require_web_url(self.online_url)


@dataclass(frozen=True)
class CalendarTexts:
    """What a participant's calendar shows of the meeting, besides time and place."""

    summary: str
    description: str


@dataclass(frozen=True)
class NoticeSection:
    """A headed list after a notice's paragraphs (a digest's deadlines, say); `empty` is said instead of
    the list when there is nothing in it."""

    heading: str
    items: tuple[str, ...]
    empty: str = ""


@dataclass(frozen=True)
class NoticeMessage:
    """A plain message without a calendar (reminders, notices): a headline, paragraphs, maybe headed lists,
    maybe one link."""

    # None for a message about no single case (a digest).
    case_reference: str | None
    headline: str
    paragraphs: tuple[str, ...]
    link_url: str | None = None
    link_label: str | None = None
    language: Language = "sv"
    sections: tuple[NoticeSection, ...] = ()

    def __post_init__(self) -> None:
        if self.link_url is not None:
            require_web_url(self.link_url)


@dataclass(frozen=True)
class MeetingTexts:
    """A meeting message in words, before it is laid out as e-mail or as a letter."""

    subject: str
    heading: str
    intro: str
    details: tuple[tuple[str, str], ...]
    questions_label: str
    questions: tuple[str, ...]
    reply_label: str
    reply_links: tuple[tuple[str, str], ...]
    footer: str
    labels: dict[str, str]


@dataclass(frozen=True)
class RenderedMessage:
    """Subject, plain text and HTML of one message.

    ``shared_text`` and ``shared_html`` may name how much of the text and of the HTML every recipient of
    the message gets alike (a beginning that ends in a line break), so that it is encoded once for all of
    them; they say nothing about what the message is, and the writer checks them before it relies on them.
    """

    subject: str
    text: str
    html: str
    shared_text: str = field(default="", compare=False)
    shared_html: str = field(default="", compare=False)


@cache
def _layout(name: str) -> Template:
    return Template((_TEMPLATES / name).read_text(encoding="utf-8"))


def labels(language: Language) -> dict[str, str]:
    """The field labels of a language (``Tid``, ``Plats``, …)."""
    return section(language, "labels")


def meeting_texts(message: MeetingMessage) -> MeetingTexts:
    """Every sentence and field of a meeting message, cleaned of control and bidi characters."""
    language = message.language
    texts = section(language, message.kind.value)
    label = labels(language)
    subject = Template(_with_reference(texts, "subject", message.case_reference)).substitute(
        date=format_date(message.starts_at, language),
        time=format_clock(message.starts_at, language),
        case_reference=clean_line(message.case_reference or ""),
    )
    details: list[tuple[str, str]] = [
        (label["when"], format_span(message.starts_at, message.ends_at, language))
    ]
    if message.kind is MeetingMessageKind.UPDATE and message.previous_starts_at is not None:
        details.append((label["previous"], format_moment(message.previous_starts_at, language)))
    if location := clean_line(message.location):
        details.append((label["place"], location))
    if message.online_url is not None:
        details.append((label["online"], message.online_url))
    if purpose := clean_line(message.purpose):
        details.append((label["purpose"], purpose))
    organizer = ", ".join(
        part
        for part in (clean_line(message.organizer_name), clean_line(message.organizer_organisation))
        if part
    )
    details.append((label["organizer"], organizer))
    if contact := _contact_line(message.contact):
        details.append((label["contact"], contact))
    if message.case_reference is not None:
        details.append((label["case_reference"], clean_line(message.case_reference)))
    reply_links: tuple[tuple[str, str], ...] = ()
    if message.reply_links is not None and message.kind is not MeetingMessageKind.CANCELLATION:
        links = message.reply_links
        reply_links = (
            (label["accept"], links.accept_url),
            (label["decline"], links.decline_url),
            (label["substitute"], links.substitute_url),
        )
    return MeetingTexts(
        subject=clean_line(subject),
        heading=texts["heading"],
        intro=texts["intro"],
        details=tuple(details),
        questions_label=label["questions"],
        questions=tuple(q for q in (clean_line(question) for question in message.questions) if q),
        reply_label=label["reply"],
        reply_links=reply_links,
        footer=label["footer"],
        labels=label,
    )


def calendar_texts(message: MeetingMessage) -> CalendarTexts:
    """The calendar's summary and description, by the same rule as the message: the case reference only
    for professionals, the coordinator to contact for everyone."""
    return _calendar_texts(message.language, message.case_reference, message.purpose, message.contact)


# The same for every recipient of a meeting who shares a language and a role, and made from these alone.
@lru_cache(maxsize=256)
def _calendar_texts(
    language: Language, case_reference: str | None, purpose: str, contact: Contact | None
) -> CalendarTexts:
    summary = Template(_with_reference(section(language, "calendar"), "summary", case_reference)).substitute(
        case_reference=clean_line(case_reference or "")
    )
    lines = [clean_line(purpose)]
    if contact_line := _contact_line(contact):
        lines.append(f"{labels(language)['contact']}: {contact_line}")
    return CalendarTexts(summary=clean_line(summary), description="\n\n".join(line for line in lines if line))


def _with_reference(texts: dict[str, str], key: str, case_reference: str | None) -> str:
    """The text under `key`, or its `key_with_reference` form when there is a reference to show."""
    return texts[f"{key}_with_reference"] if case_reference is not None else texts[key]


def _contact_line(contact: Contact | None) -> str:
    if contact is None:
        return ""
    parts = (clean_line(contact.name), clean_line(contact.organisation), clean_line(contact.email))
    return ", ".join(part for part in parts if part)


def render_meeting_message(message: MeetingMessage) -> RenderedMessage:
    """The invitation, update or cancellation as subject, plain text and HTML."""
    page = _meeting_page(_page_key(message), *_folds(message))
    links = message.reply_links if page.shows_replies else None
    if links is None:
        return RenderedMessage(
            subject=page.subject,
            text=_tidy_text(page.text_head + page.text_tail),
            html=page.html_head + page.html_tail,
            shared_text=page.shared_text,
            shared_html=page.html_head,
        )
    # ReplyLinks checked its URLs when it was made; here they only need escaping for HTML.
    accept, decline, substitute = page.link_labels
    text_replies = (
        f"{page.reply_heading}:\n{accept}: {links.accept_url}\n{decline}: {links.decline_url}\n"
        f"{substitute}: {links.substitute_url}\n"
    )
    accept, decline, substitute = page.html_link_labels
    e = _escape
    html_replies = (
        f'<h2 style="font-size: 17px;">{page.html_reply_heading}</h2>\n<p>'
        f'<a href="{e(links.accept_url)}">{accept}</a> &middot; '
        f'<a href="{e(links.decline_url)}">{decline}</a> &middot; '
        f'<a href="{e(links.substitute_url)}">{substitute}</a></p>'
    )
    return RenderedMessage(
        subject=page.subject,
        text=_tidy_text(page.text_head + text_replies + page.text_tail),
        html=page.html_head + html_replies + page.html_tail,
        shared_text=page.shared_text,
        shared_html=page.html_head,
    )


@dataclass(frozen=True)
class _MeetingPage:
    """A meeting message laid out but for its reply links: the text and HTML before and after the place
    where they go, and their labels. The links are the only part that differs between the recipients of
    one meeting who share a language and a role."""

    subject: str
    text_head: str
    text_tail: str
    # The text's head as it begins the tidied text, when the replies follow it.
    shared_text: str
    html_head: str
    html_tail: str
    shows_replies: bool
    reply_heading: str
    link_labels: tuple[str, str, str]
    html_reply_heading: str
    html_link_labels: tuple[str, str, str]


# Everything a page is made of: every field of the message but its reply links.
_PAGE_FIELDS = tuple(each.name for each in fields(MeetingMessage) if each.name != "reply_links")
_page_key = attrgetter(*_PAGE_FIELDS)


def _folds(message: MeetingMessage) -> tuple[int, int, int]:
    # Two times of one zone that differ only in `fold` (the hour that repeats when the clocks go back)
    # compare equal and hash alike although they are an hour apart: the folds keep their pages apart.
    previous = message.previous_starts_at
    return message.starts_at.fold, message.ends_at.fold, previous.fold if previous is not None else 0


# Laying out a page took half of writing an invitation, and every recipient of a meeting gets the same
# page; it is made from the key alone, so that no field the page shows can be left out of the key.
# Bounded: a long-running process meets ever new meetings.
@lru_cache(maxsize=256)
def _meeting_page(key: tuple[Any, ...], *folds: int) -> _MeetingPage:
    message = MeetingMessage(reply_links=None, **dict(zip(_PAGE_FIELDS, key, strict=True)))
    texts = meeting_texts(message)
    text_head, text_tail = _split_layout("meeting.txt")
    html_head, html_tail = _split_layout("meeting.html")
    text = _meeting_text_slots(texts)
    html = _meeting_html_slots(texts, message.language)
    label = texts.labels
    link_labels = (label["accept"], label["decline"], label["substitute"])
    head = text_head.substitute(text)
    return _MeetingPage(
        subject=texts.subject,
        text_head=head,
        text_tail=text_tail.substitute(text),
        shared_text=_BLANK_LINES.sub("\n\n", head).lstrip(),
        html_head=html_head.substitute(html),
        html_tail=html_tail.substitute(html),
        shows_replies=message.kind is not MeetingMessageKind.CANCELLATION,
        reply_heading=texts.reply_label,
        link_labels=link_labels,
        html_reply_heading=_escape(texts.reply_label),
        html_link_labels=(_escape(link_labels[0]), _escape(link_labels[1]), _escape(link_labels[2])),
    )


@cache
def _split_layout(name: str) -> tuple[Template, Template]:
    """A meeting layout as the part before its ``$replies`` and the part after: substituting both and
    putting the replies between them gives what substituting the whole layout gives."""
    head, tail = (_TEMPLATES / name).read_text(encoding="utf-8").split("$replies")
    return Template(head), Template(tail)


def _meeting_text(texts: MeetingTexts) -> str:
    """The plain text in one piece, as the pieces of `_MeetingPage` are checked against."""
    replies = ""
    if texts.reply_links:
        replies = "\n".join([f"{texts.reply_label}:"] + [f"{name}: {url}" for name, url in texts.reply_links])
    body = _layout("meeting.txt").substitute(
        _meeting_text_slots(texts), replies=replies + "\n" if replies else ""
    )
    return _tidy_text(body)


def _meeting_text_slots(texts: MeetingTexts) -> dict[str, str]:
    width = max(len(name) for name, _ in texts.details)
    details = [f"{name + ':':<{width + 1}} {value}" for name, value in texts.details]
    if texts.questions:
        details += ["", f"{texts.questions_label}:"] + [f"- {question}" for question in texts.questions]
    return {
        "heading": texts.heading,
        "intro": texts.intro,
        "details": "\n".join(details) + "\n",
        "footer": texts.footer,
    }


def _meeting_html(texts: MeetingTexts, language: Language) -> str:
    """The HTML in one piece, as the pieces of `_MeetingPage` are checked against."""
    replies = ""
    if texts.reply_links:
        links = " &middot; ".join(_html_link(url, name) for name, url in texts.reply_links)
        replies = f'<h2 style="font-size: 17px;">{_escape(texts.reply_label)}</h2>\n<p>{links}</p>'
    return _layout("meeting.html").substitute(_meeting_html_slots(texts, language), replies=replies)


def _meeting_html_slots(texts: MeetingTexts, language: Language) -> dict[str, str]:
    e = _escape
    rows = []
    for name, value in texts.details:
        shown = _html_link(value, value) if _is_web_url(value) else e(value)
        rows.append(f'<tr><th align="left" valign="top">{e(name)}</th><td>{shown}</td></tr>')
    if texts.questions:
        items = "".join(f"<li>{e(question)}</li>" for question in texts.questions)
        rows.append(
            f'<tr><th align="left" valign="top">{e(texts.questions_label)}</th><td><ul>{items}</ul></td></tr>'
        )
    return {
        "lang": language,
        "heading": e(texts.heading),
        "intro": e(texts.intro),
        "details": "\n".join(rows),
        "footer": e(texts.footer),
    }


def render_notice(notice: NoticeMessage) -> RenderedMessage:
    """A plain notice or reminder as subject, plain text and HTML."""
    label = labels(notice.language)
    headline = clean_line(notice.headline)
    paragraphs = [p for p in (clean_line(paragraph) for paragraph in notice.paragraphs) if p]
    if notice.case_reference is None:
        subject = headline
    else:
        subject = catalog_text(
            notice.language,
            "notice.subject",
            headline=headline,
            case_reference=clean_line(notice.case_reference),
        )
    link_label = clean_line(notice.link_label or "") or (notice.link_url or "")
    text_link = f"{link_label}: {notice.link_url}\n" if notice.link_url else ""
    html_link = f"<p>{_html_link(notice.link_url, link_label)}</p>" if notice.link_url else ""
    # Sections follow the paragraphs in the same slot of the layouts, so notices without them are unchanged.
    sections = [_clean_section(section) for section in notice.sections]
    text = _layout("notice.txt").substitute(
        headline=headline,
        paragraphs="\n\n".join(paragraphs + [_section_text(*section) for section in sections]) + "\n",
        link=text_link,
        footer=label["notice_footer"],
    )
    page = _layout("notice.html").substitute(
        lang=notice.language,
        headline=_escape(headline),
        paragraphs="\n".join(
            [f"<p>{_escape(paragraph)}</p>" for paragraph in paragraphs]
            + [_section_html(*section) for section in sections]
        ),
        link=html_link,
        footer=_escape(label["notice_footer"]),
    )
    return RenderedMessage(subject=clean_line(subject), text=_tidy_text(text), html=page)


def _clean_section(section: NoticeSection) -> tuple[str, list[str], str]:
    items = [item for item in (clean_line(item) for item in section.items) if item]
    return clean_line(section.heading), items, clean_line(section.empty)


def _section_text(heading: str, items: list[str], empty: str) -> str:
    lines = [f"- {item}" for item in items] if items else [empty] if empty else []
    return "\n".join([heading, "-" * len(heading), *lines])


def _section_html(heading: str, items: list[str], empty: str) -> str:
    shown = f'<h2 style="font-size: 17px;">{_escape(heading)}</h2>'
    if items:
        return shown + "\n<ul>" + "".join(f"<li>{_escape(item)}</li>" for item in items) + "</ul>"
    return shown + (f"\n<p>{_escape(empty)}</p>" if empty else "")


def _escape(value: str) -> str:
    return html.escape(value, quote=True)


def _is_web_url(value: str) -> bool:
    if not value.startswith(("http://", "https://")):
        return False  # most values are times, places and names: no need to parse them as URLs
    try:
        require_web_url(value)
    except ValueError:
        return False
    return True


def _html_link(url: str, label: str) -> str:
    return f'<a href="{_escape(require_web_url(url))}">{_escape(label)}</a>'


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    # Looking for a run of newlines stops at every newline; most texts have none to collapse.
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"
