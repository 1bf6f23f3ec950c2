"""A digest's words: worded through the notice registry from its payload alone, headed lists in text and
HTML, an empty list said in words, and hostile participant names kept in their place."""

from __future__ import annotations

from datetime import date

import pytest

from notifiers.notice_subject import NoticeSubject, UnknownNotice
from notifiers.notices import build_notice
from notifiers.templates import render_notice
from scheduler.digest import Digest, DigestDeadline, DigestDeviation, DigestInvitation
from tests.scheduler.builders import at

HOSTILE = "<b>Eva</b>\r\nBcc: intruder@example.org\u202e"


def digest(**lists: object) -> Digest:
    return Digest.model_validate({"day": date(2026, 11, 24), **lists})


def rendered(payload: dict[str, object]) -> tuple[str, str, str]:
    notice = build_notice(NoticeSubject(case=None, meeting=None, participant=None, payload=payload))
    message = render_notice(notice)
    return message.subject, message.text, message.html


def test_a_digest_has_a_dated_subject_and_three_headed_lists() -> None:
    subject, text, html = rendered(
        digest(
            deadlines=[DigestDeadline(case_id="c-1", kind="meeting_due", due=date(2026, 11, 30), rule="x.y")],
            invitations=[
                DigestInvitation(
                    case_id="c-1",
                    meeting_id="m1",
                    starts_at=at("2026-12-10 13:00"),
                    participant="Sam Skolsköterska",
                    organisation="Testskolan",
                    status="unanswered",
                )
            ],
        ).payload()
    )
    assert subject == "SIP-bevakning: sammanställning tisdag 24 november 2026"
    assert (
        "Tidsfrister de närmaste 7 dagarna\n---------------------------------\n"
        "- måndag 30 november 2026: SIP-mötet ska ha hållits, ärende c-1 (regel x.y)\n"
    ) in text
    assert (
        "- Sam Skolsköterska (Testskolan): möte torsdag 10 december 2026 kl. 13.00, ärende c-1, "
        "sista svarsdag har passerat"
    ) in text
    assert "Nya avvikelser\n--------------\nInga nya avvikelser sedan förra sammanställningen." in text
    assert '<h2 style="font-size: 17px;">Obesvarade kallelser</h2>\n<ul><li>Sam Skolsköterska' in html
    assert "<p>Inga nya avvikelser sedan förra sammanställningen.</p>" in html


def test_hostile_names_are_cleaned_and_escaped_and_unknown_kinds_shown_as_they_are() -> None:
    _, text, html = rendered(
        digest(
            invitations=[
                DigestInvitation(
                    case_id="c-1",
                    meeting_id="m1",
                    starts_at=at("2026-12-10 13:00"),
                    participant=HOSTILE,
                    organisation=None,
                    status="sent",
                )
            ],
            deviations=[DigestDeviation(case_id="c-1", kind="new_kind", detected_at=at("2026-11-23 17:05"))],
        ).payload()
    )
    assert "<b>" not in html and "&lt;b&gt;Eva&lt;/b&gt;" in html
    assert "\u202e" not in text + html
    assert "\nBcc:" not in text
    assert "- new_kind, ärende c-1 (upptäckt måndag 23 november 2026 kl. 17.05)" in text


def test_a_payload_this_version_cannot_read_is_refused() -> None:
    with pytest.raises(UnknownNotice):
        rendered({"notice": "digest", "day": "not a day"})
