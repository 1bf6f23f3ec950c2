"""Reminders and the survey go to a participant in the participant's language, and only a professional's
copy names the case; what goes to the people who run the case stays Swedish."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest

from notifiers.i18n import Language
from notifiers.notice_subject import NoticeSubject
from notifiers.reminder_notices import REMINDER_NOTICES
from notifiers.templates import render_notice
from tests.scheduler.builders import add_meeting, at, make_case

REPLY_PAGE = "https://sipvakt.example.se/rsvp/tok123"


def subject_for(language: Language, role: str, payload: Mapping[str, object]) -> NoticeSubject:
    case = make_case("blekinge", date(2026, 11, 20))
    meeting = add_meeting(case, "m1", at("2026-12-17 13:00"))
    participant = meeting.participants["p0"].model_copy(update={"language": language, "role": role})
    meeting.participants["p0"] = participant
    return NoticeSubject(case, meeting, participant, payload, reply_page_url=REPLY_PAGE)


@pytest.mark.parametrize(
    ("language", "subject", "said"),
    [
        ("sv", "Påminnelse: svara på kallelsen till SIP-möte", "torsdag 17 december 2026 kl. 13.00–14.00"),
        (
            "en",
            "Reminder: reply to the invitation to a SIP meeting",
            "Thursday 17 December 2026 at 13:00–14:00",
        ),
        ("sv-x-lattlast", "Kom ihåg att svara om mötet", "torsdag 17 december 2026 klockan 13.00 till 14.00"),
    ],
)
def test_a_guardians_reply_reminder_is_in_their_language_without_the_case(
    language: Language, subject: str, said: str
) -> None:
    notice = REMINDER_NOTICES["reminder"](subject_for(language, "guardian", {"reminder": "rsvp"}))
    rendered = render_notice(notice)

    assert rendered.subject == subject
    assert said in rendered.text
    assert "test-0001" not in rendered.text + rendered.html + rendered.subject
    assert f'lang="{language}"' in rendered.html
    assert REPLY_PAGE in rendered.text


def test_a_professionals_reminder_names_the_case_in_their_language() -> None:
    notice = REMINDER_NOTICES["reminder"](subject_for("en", "professional", {"reminder": "rsvp"}))
    assert (
        render_notice(notice).subject == "Reminder: reply to the invitation to a SIP meeting (case test-0001)"
    )


def test_the_survey_follows_the_participants_language() -> None:
    payload = {"url": "https://enkat.example.se/s/1"}
    notice = REMINDER_NOTICES["survey"](subject_for("sv-x-lattlast", "child", payload))
    rendered = render_notice(notice)
    assert rendered.subject == "Vad tyckte du om mötet?"
    assert "Du var på ett SIP-möte torsdag 17 december 2026 klockan 13.00 till 14.00." in rendered.text


def test_what_goes_to_the_coordinator_stays_swedish_whatever_the_participant_reads() -> None:
    payload = {"reminder": "followup_call", "followup_on": "2027-03-01"}
    notice = REMINDER_NOTICES["reminder"](subject_for("en", "professional", payload))
    rendered = render_notice(notice)
    assert rendered.subject == "Dags att kalla till uppföljning av SIP (ärende test-0001)"
    assert "måndag 1 mars 2027" in rendered.text
