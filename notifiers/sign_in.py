"""The sign-in link message: a plain notice about no case, worded from the `sign_in_link` texts."""

from __future__ import annotations

from notifiers.i18n import Language, text
from notifiers.templates import NoticeMessage


def sign_in_notice(link_url: str, valid_minutes: int, language: Language = "sv") -> NoticeMessage:
    return NoticeMessage(
        case_reference=None,
        headline=text(language, "sign_in_link.headline"),
        paragraphs=(
            text(language, "sign_in_link.intro"),
            text(language, "sign_in_link.validity", minutes=valid_minutes),
            text(language, "sign_in_link.ignore"),
        ),
        link_url=link_url,
        link_label=text(language, "sign_in_link.link_label"),
        language=language,
    )
