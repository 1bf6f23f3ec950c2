"""The words of reminders and of the survey message, from the case as it stands when they leave.

What they may carry is what an invitation carries: meeting times and places, the case reference, the
action's id and due day, the participant concerned (for the people who invited them). Never the person's
name, identity number or birth date (the turns-18 reminder says "soon", and the case shows the day), nor
an action's description, which is free text from the plan and may hold what only the case should.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from calendars.stockholm import start_of_day
from notifiers.compose import PROFESSIONAL_ROLES
from notifiers.datefmt import format_day, format_span
from notifiers.i18n import DEFAULT_LANGUAGE, Language, text
from notifiers.notice_subject import NoticeSubject, UnknownNotice, who
from notifiers.templates import NoticeMessage

# The people who run a case have no language of their own in the contract: their reminders are Swedish.
STAFF: Language = DEFAULT_LANGUAGE


def _day(value: str, language: Language = STAFF) -> str:
    return format_day(start_of_day(date.fromisoformat(value)), language)


def _case_reference(subject: NoticeSubject) -> str:
    if subject.case is None:
        raise UnknownNotice("the reminder's case no longer exists")
    return subject.case.case_id


def _meeting_span(subject: NoticeSubject, language: Language = STAFF) -> str:
    meeting = subject.meeting
    if meeting is None:
        raise UnknownNotice("the reminder's meeting no longer exists")
    return format_span(meeting.starts_at, meeting.ends_at, language)


def _participant_language(subject: NoticeSubject) -> Language:
    return subject.participant.language if subject.participant is not None else DEFAULT_LANGUAGE


def _participant_reference(subject: NoticeSubject) -> str | None:
    """The case reference, for a professional only: to a child or a parent it means nothing, and it is a
    handle on the case (as in the invitation itself)."""
    reference = _case_reference(subject)
    participant = subject.participant
    return reference if participant is not None and participant.role in PROFESSIONAL_ROLES else None


def _rsvp(subject: NoticeSubject) -> NoticeMessage:
    meeting = subject.meeting
    language = _participant_language(subject)
    span = _meeting_span(subject, language)
    assert meeting is not None
    return NoticeMessage(
        case_reference=_participant_reference(subject),
        headline=text(language, "rsvp_reminder.headline"),
        paragraphs=(
            text(language, "rsvp_reminder.asked", span=span, location=meeting.location),
            text(language, "rsvp_reminder.how"),
        ),
        link_url=subject.reply_page_url,
        link_label=text(language, "rsvp_reminder.link_label"),
        language=language,
    )


def _followup_call(subject: NoticeSubject) -> NoticeMessage:
    span = _meeting_span(subject)
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline=text(STAFF, "followup_call.headline"),
        paragraphs=(
            text(STAFF, "followup_call.due", span=span, day=_day(subject.payload["followup_on"])),
            text(STAFF, "followup_call.act"),
        ),
    )


def _consent_expiry(subject: NoticeSubject) -> NoticeMessage:
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline=text(STAFF, "consent_expiry.headline"),
        paragraphs=(
            text(STAFF, "consent_expiry.until", day=_day(subject.payload["valid_to"])),
            text(STAFF, "consent_expiry.act"),
        ),
    )


def _fixed(name: str) -> Callable[[NoticeSubject], NoticeMessage]:
    """A reminder whose words depend on nothing but the case reference: it tells of a day or an event
    that the case shows, since the day itself (a birthday, say) would tell more than the mail may."""

    def build(subject: NoticeSubject) -> NoticeMessage:
        return NoticeMessage(
            case_reference=_case_reference(subject),
            headline=text(STAFF, f"{name}.headline"),
            paragraphs=(text(STAFF, f"{name}.what"), text(STAFF, f"{name}.act")),
        )

    return build


_turns_18 = _fixed("turns_18")
_leaves_target_group = _fixed("leaves_target_group")
_urgent_opened = _fixed("urgent_opened")


def _action_due(subject: NoticeSubject) -> NoticeMessage:
    payload = subject.payload
    due = {"action_id": payload["action_id"], "day": _day(payload["due_on"])}
    what = (
        text(STAFF, "action_due.agreed_due", span=_meeting_span(subject), **due)
        if subject.meeting
        else text(STAFF, "action_due.due", **due)
    )
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline=text(STAFF, "action_due.headline"),
        paragraphs=(what, text(STAFF, "action_due.act")),
    )


def _deviation(subject: NoticeSubject) -> NoticeMessage:
    case = subject.case
    if case is None:
        raise UnknownNotice("the reminder's case no longer exists")
    deviation = next(
        (d for d in case.deviations if d.deviation_id == subject.payload.get("deviation_id")), None
    )
    if deviation is None:
        raise UnknownNotice("the deviation is no longer in the case")
    what = {
        "no_response": lambda: text(
            STAFF, "deviation.no_response", participant=_participant(subject), span=_meeting_span(subject)
        ),
        "no_show": lambda: text(
            STAFF, "deviation.no_show", participant=_participant(subject), span=_meeting_span(subject)
        ),
        "action_not_done": lambda: text(STAFF, "deviation.action_not_done", action_id=deviation.action_id),
        "late": lambda: text(STAFF, "deviation.late", rule=deviation.rule),
    }[deviation.kind]()
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(STAFF, "deviation.headline"),
        paragraphs=(what, text(STAFF, "deviation.act")),
    )


def _participant(subject: NoticeSubject) -> str:
    return who(subject.participant) if subject.participant else text(STAFF, "deviation.someone")


def _survey(subject: NoticeSubject) -> NoticeMessage:
    language = _participant_language(subject)
    span = _meeting_span(subject, language)
    return NoticeMessage(
        case_reference=_participant_reference(subject),
        headline=text(language, "survey.headline"),
        paragraphs=(text(language, "survey.asked", span=span), text(language, "survey.voluntary")),
        link_url=str(subject.payload["url"]),
        link_label=text(language, "survey.link_label"),
        language=language,
    )


_REMINDERS: dict[str, Callable[[NoticeSubject], NoticeMessage]] = {
    "rsvp": _rsvp,
    "followup_call": _followup_call,
    "consent_expiry": _consent_expiry,
    "turns_18": _turns_18,
    "leaves_target_group": _leaves_target_group,
    "urgent_opened": _urgent_opened,
    "action_due": _action_due,
    "deviation": _deviation,
}


def _reminder(subject: NoticeSubject) -> NoticeMessage:
    builder = _REMINDERS.get(str(subject.payload.get("reminder")))
    if builder is None:
        raise UnknownNotice(f"unknown reminder {subject.payload.get('reminder')!r}")
    return builder(subject)


REMINDER_NOTICES: dict[str, Callable[[NoticeSubject], NoticeMessage]] = {
    "reminder": _reminder,
    "survey": _survey,
}
