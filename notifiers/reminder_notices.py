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
from notifiers.datefmt import format_day, format_span
from notifiers.notice_subject import NoticeSubject, UnknownNotice, who
from notifiers.templates import NoticeMessage, date_words

WORDS = date_words("sv")


def _day(value: str) -> str:
    return format_day(start_of_day(date.fromisoformat(value)), WORDS)


def _case_reference(subject: NoticeSubject) -> str:
    if subject.case is None:
        raise UnknownNotice("the reminder's case no longer exists")
    return subject.case.case_id


def _meeting_span(subject: NoticeSubject) -> str:
    meeting = subject.meeting
    if meeting is None:
        raise UnknownNotice("the reminder's meeting no longer exists")
    return format_span(meeting.starts_at, meeting.ends_at, WORDS)


def _rsvp(subject: NoticeSubject) -> NoticeMessage:
    meeting = subject.meeting
    span = _meeting_span(subject)
    assert meeting is not None
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline="Påminnelse: svara på kallelsen till SIP-möte",
        paragraphs=(
            f"Du är kallad till SIP-mötet {span}, {meeting.location}. Vi har inte fått ditt svar ännu.",
            "Svara om du kommer, inte kommer eller skickar en ersättare: via länken nedan eller i din "
            "kalender.",
        ),
        link_url=subject.reply_page_url,
        link_label="Svara på kallelsen",
    )


def _followup_call(subject: NoticeSubject) -> NoticeMessage:
    span = _meeting_span(subject)
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline="Dags att kalla till uppföljning av SIP",
        paragraphs=(
            f"Planen från SIP-mötet {span} ska följas upp {_day(subject.payload['followup_on'])}, och du är "
            "huvudansvarig.",
            "Skicka kallelsen nu, så att alla får den i den tid som regionens riktlinje kräver.",
        ),
    )


def _consent_expiry(subject: NoticeSubject) -> NoticeMessage:
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline="Samtycket i ett SIP-ärende upphör snart",
        paragraphs=(
            f"Samtycket gäller till och med {_day(subject.payload['valid_to'])}.",
            "Behövs samordningen efter det, ta in ett nytt samtycke i tid; annars avslutas planen.",
        ),
    )


def _fixed(headline: str, *paragraphs: str) -> Callable[[NoticeSubject], NoticeMessage]:
    """A reminder whose words depend on nothing but the case reference: it tells of a day or an event
    that the case shows, since the day itself (a birthday, say) would tell more than the mail may."""

    def build(subject: NoticeSubject) -> NoticeMessage:
        return NoticeMessage(
            case_reference=_case_reference(subject), headline=headline, paragraphs=paragraphs
        )

    return build


_turns_18 = _fixed(
    "Den enskilde fyller snart 18 år",
    "Personen som planen gäller blir snart myndig. Från 18-årsdagen gäller hens eget samtycke i stället "
    "för vårdnadshavarens.",
    "Se dagen i ärendet i sipvakt, och ta in den unges eget samtycke före den.",
)

_leaves_target_group = _fixed(
    "Den enskilde lämnar snart målgruppen för SIP-riktlinjen",
    "Personen som planen gäller når snart den ålder då regionens riktlinje för SIP inte längre gäller hen.",
    "Se dagen i ärendet i sipvakt, och bestäm före den om samordningen ska lämnas över, fortsätta enligt "
    "en annan överenskommelse eller avslutas. Ärendet stängs inte av sig självt.",
)

_urgent_opened = _fixed(
    "Nytt SIP-ärende med skyddsbehov",
    "Ett SIP-ärende där den enskilde bedöms ha skyddsbehov har öppnats i sipvakt, och du är samordnare.",
    "Arbetet ska påbörjas utan dröjsmål: kalla till SIP-möte så snart som möjligt. Tidsgränsen för mötet "
    "står i ärendet i sipvakt.",
)


def _action_due(subject: NoticeSubject) -> NoticeMessage:
    payload = subject.payload
    agreed = f" bestämdes på SIP-mötet {_meeting_span(subject)} och" if subject.meeting else ""
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline="Påminnelse: en åtgärd i en SIP ska snart vara utförd",
        paragraphs=(
            f"Åtgärd {payload['action_id']}{agreed} ska vara utförd senast {_day(payload['due_on'])}.",
            "Meddela samordnaren när den är utförd. En åtgärd som inte är utförd i tid blir en avvikelse.",
        ),
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
        "no_response": lambda: (
            f"{_participant(subject)} har inte svarat på kallelsen till SIP-mötet {_meeting_span(subject)}."
        ),
        "no_show": lambda: (
            f"{_participant(subject)} kom inte till SIP-mötet {_meeting_span(subject)} trots kallelse."
        ),
        "action_not_done": lambda: f"Åtgärd {deviation.action_id} var inte utförd den dag planen anger.",
        "late": lambda: f"En tidsgräns i regionens riktlinje har passerats ({deviation.rule}).",
    }[deviation.kind]()
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Avvikelse i ett SIP-ärende",
        paragraphs=(what, "Avvikelsen är registrerad i sipvakt. Hantera den enligt er rutin för avvikelser."),
    )


def _participant(subject: NoticeSubject) -> str:
    return who(subject.participant) if subject.participant else "En kallad deltagare"


def _survey(subject: NoticeSubject) -> NoticeMessage:
    span = _meeting_span(subject)
    return NoticeMessage(
        case_reference=_case_reference(subject),
        headline="Vad tyckte du om SIP-mötet?",
        paragraphs=(
            f"Du har varit med på ett SIP-möte {span}. Vi vill gärna veta hur det fungerade för dig.",
            "Enkäten är frivillig och tar några minuter.",
        ),
        link_url=str(subject.payload["url"]),
        link_label="Till enkäten",
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
