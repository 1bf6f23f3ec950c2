"""Plain e-mail without a calendar: notices about an invitation to the people who run the meeting (a
proposal of another time for the organizer, an undeliverable invitation for the coordinator), and every
other plain message the outbox holds. They name the participant concerned (the recipient invited them)
and never the person the case is about.

An outbox row of kind `notice`, `reminder`, `survey` or `digest` carries `{"notice": "<name>", ...}` in
its payload; `NOTICES` maps the name to the function that words it from the case as it stands when the
message leaves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from notifiers.compose import Sender, message_id, organizer_address
from notifiers.datefmt import format_moment, format_span
from notifiers.digest import ANSWER_NAMES, digest_notice
from notifiers.mime import Envelope, MailAddress
from notifiers.notice_subject import NoticeSubject, UnknownNotice, who
from notifiers.reminder_notices import REMINDER_NOTICES
from notifiers.templates import NoticeMessage, date_words, render_notice
from notifiers.wire import plain_email_bytes
from scheduler.case import Case, Meeting, ParticipantInfo
from scheduler.digest import NOTICE as DIGEST_NOTICE
from scheduler.digest import Digest


def proposal_notice(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    starts_at: datetime,
    ends_at: datetime | None,
    comment: str | None = None,
) -> NoticeMessage:
    words = date_words("sv")
    proposed = format_span(starts_at, ends_at, words) if ends_at else format_moment(starts_at, words)
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Förslag på ny tid för SIP-möte",
        paragraphs=(
            f"{who(participant)} föreslår en annan tid för SIP-mötet "
            f"{format_span(meeting.starts_at, meeting.ends_at, words)}.",
            f"Föreslagen tid: {proposed}.",
            *((f"Kommentar: {comment}",) if comment else ()),
            "Mötet är inte flyttat. Ska tiden ändras, gör det i ärendesystemet: då får alla en uppdaterad "
            "kallelse.",
        ),
    )


def forwarded_reply_notice(
    case: Case,
    meeting: Meeting | None,
    participant: ParticipantInfo | None,
    written: str,
    calendar_answer: str | None = None,
) -> NoticeMessage:
    """An ordinary reply (no calendar answer in it) passed on to the case's coordinator, as written."""
    words = date_words("sv")
    sender = who(participant) if participant is not None else "En mottagare av ett meddelande i ärendet"
    about = f" om SIP-mötet {format_span(meeting.starts_at, meeting.ends_at, words)}" if meeting else ""
    written_paragraphs = tuple(
        " ".join(line.strip() for line in block.splitlines() if line.strip())
        for block in written.split("\n\n")
        if block.strip()
    )
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Svar på meddelande från sipvakt",
        paragraphs=(
            f"{sender} har svarat på ett meddelande{about} med ett vanligt e-postsvar, utan svar i "
            "kalendern. sipvakt har inte ändrat något i ärendet. Svara på det här meddelandet för att "
            "svara avsändaren.",
            *(
                (
                    f"Svaret i kalendern ({ANSWER_NAMES.get(calendar_answer, calendar_answer)}) kunde "
                    "inte registreras: mötet är inställt eller redan passerat.",
                )
                if calendar_answer
                else ()
            ),
            *(written_paragraphs or ("(Svaret innehöll ingen text.)",)),
            "Eventuella bilagor har inte skickats vidare.",
        ),
    )


def undeliverable_notice(case: Case, meeting: Meeting, participant: ParticipantInfo) -> NoticeMessage:
    words = date_words("sv")
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Kallelsen kunde inte levereras",
        paragraphs=(
            f"Kallelsen till {who(participant)} för SIP-mötet "
            f"{format_span(meeting.starts_at, meeting.ends_at, words)} kunde inte levereras till "
            f"{participant.email or 'den angivna adressen'}. Mottagarens server tar inte emot den.",
            "Kallelsen räknas inte som skickad: den ger ingen kallelsetid, och inga påminnelser går dit.",
            "Kontakta deltagaren på annat sätt, eller rätta adressen och kalla på nytt.",
        ),
    )


NoticeBuilder = Callable[[NoticeSubject], NoticeMessage]


def _proposal(subject: NoticeSubject) -> NoticeMessage:
    case, meeting, participant = subject.require_meeting()
    ends_at = subject.payload.get("ends_at")
    return proposal_notice(
        case,
        meeting,
        participant,
        datetime.fromisoformat(subject.payload["starts_at"]),
        datetime.fromisoformat(ends_at) if ends_at else None,
        subject.payload.get("comment"),
    )


def _forwarded_reply(subject: NoticeSubject) -> NoticeMessage:
    if subject.case is None:
        raise UnknownNotice("the forwarded reply's case no longer exists")
    return forwarded_reply_notice(
        subject.case,
        subject.meeting,
        subject.participant,
        str(subject.payload.get("text", "")),
        subject.payload.get("calendar_answer"),
    )


def _undeliverable(subject: NoticeSubject) -> NoticeMessage:
    return undeliverable_notice(*subject.require_meeting())


def _webhook_disabled(subject: NoticeSubject) -> NoticeMessage:
    """To whoever a webhook subscription names: its endpoint failed for three days and gets nothing now.
    About an endpoint, not a case: it names the subscription and the endpoint's origin, nothing else."""
    payload = subject.payload
    subscription = str(payload["subscription_id"])
    described = f" ({payload['description']})" if payload.get("description") else ""
    since = format_moment(datetime.fromisoformat(payload["failing_since"]), date_words("sv"))
    return NoticeMessage(
        case_reference=None,
        headline="Webhook-prenumeration avstängd",
        paragraphs=(
            f"sipvakt har slutat skicka händelser till webhook-prenumerationen {subscription}{described}, "
            f"mottagare {payload['endpoint']}.",
            f"Mottagaren har inte tagit emot en händelse som sipvakt försökt leverera sedan {since}. "
            f"Senaste fel: {payload['last_error']}.",
            "Händelser som väntade på leverans sparas. Rätta mottagaren och aktivera prenumerationen igen "
            f"med POST /v1/webhook-subscriptions/{subscription}/enable: då skickas de väntande händelserna "
            "och nya händelser igen. Det som händer medan prenumerationen är avstängd skickas inte.",
        ),
    )


NOTICES: dict[str, NoticeBuilder] = {
    "proposal": _proposal,
    "undeliverable": _undeliverable,
    "forwarded_reply": _forwarded_reply,
    "webhook_disabled": _webhook_disabled,
    **REMINDER_NOTICES,
}


def _digest(subject: NoticeSubject) -> NoticeMessage:
    """A coordinator's daily digest: about no single case, worded from the lists its payload holds."""
    try:
        digest = Digest.from_payload(subject.payload)
    except ValidationError as error:
        raise UnknownNotice(
            f"a digest payload this version cannot read: {error.error_count()} errors"
        ) from None
    return digest_notice(digest)


NOTICES[DIGEST_NOTICE] = _digest


def build_notice(subject: NoticeSubject) -> NoticeMessage:
    """The notice the payload names, worded from what it is about."""
    builder = NOTICES.get(str(subject.payload.get("notice")))
    if builder is None:
        raise UnknownNotice(f"unknown notice {subject.payload.get('notice')!r}")
    return builder(subject)


def notice_reply_to(subject: NoticeSubject) -> MailAddress | None:
    """Who an ordinary reply to a notice reaches: the participant a forwarded message came from (so the
    coordinator answers them directly), else the meeting's organizer; none for notices about no meeting."""
    if (
        subject.participant is not None
        and subject.participant.email
        and subject.payload.get("reply_to_sender")
    ):
        return MailAddress(name=subject.participant.name, email=subject.participant.email)
    if subject.meeting is not None:
        return organizer_address(subject.meeting)
    return None


def notice_email(
    notice: NoticeMessage,
    recipient: str,
    key: str,
    sender: Sender,
    now: datetime,
    reply_to: MailAddress | None = None,
) -> bytes:
    """The notice as e-mail bytes under the outbox row's stable Message-ID."""
    envelope = Envelope(
        sender=MailAddress(name="sipvakt", email=sender.mail_from),
        recipient=MailAddress(name="", email=recipient),
        message_id=message_id(key, sender),
        date=now,
        reply_to=reply_to,
    )
    return plain_email_bytes(envelope, render_notice(notice))
