"""The sign-in link message: a plain notice about no case, worded from the `[sign_in_link]` texts."""

from __future__ import annotations

from string import Template

from notifiers.templates import Language, NoticeMessage, texts


def sign_in_notice(link_url: str, valid_minutes: int, language: Language = "sv") -> NoticeMessage:
    words = texts(language, "sign_in_link")
    return NoticeMessage(
        case_reference=None,
        headline=words["headline"],
        paragraphs=(
            words["intro"],
            Template(words["validity"]).substitute(minutes=valid_minutes),
            words["ignore"],
        ),
        link_url=link_url,
        link_label=words["link_label"],
        language=language,
    )
