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
from notifiers.digest import LANGUAGE, answer_name, digest_notice
from notifiers.i18n import text
from notifiers.mime import Envelope, MailAddress
from notifiers.notice_subject import NoticeSubject, UnknownNotice, who
from notifiers.reminder_notices import REMINDER_NOTICES
from notifiers.templates import NoticeMessage, render_notice
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
    proposed = format_span(starts_at, ends_at, LANGUAGE) if ends_at else format_moment(starts_at, LANGUAGE)
    span = format_span(meeting.starts_at, meeting.ends_at, LANGUAGE)
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(LANGUAGE, "proposal.headline"),
        paragraphs=(
            text(LANGUAGE, "proposal.what", participant=who(participant), span=span),
            text(LANGUAGE, "proposal.proposed", proposed=proposed),
            *((text(LANGUAGE, "proposal.comment", comment=comment),) if comment else ()),
            text(LANGUAGE, "proposal.act"),
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
    sender = who(participant) if participant is not None else text(LANGUAGE, "forwarded_reply.someone")
    if meeting is not None:
        span = format_span(meeting.starts_at, meeting.ends_at, LANGUAGE)
        what = text(LANGUAGE, "forwarded_reply.what_meeting", sender=sender, span=span)
    else:
        what = text(LANGUAGE, "forwarded_reply.what", sender=sender)
    written_paragraphs = tuple(
        " ".join(line.strip() for line in block.splitlines() if line.strip())
        for block in written.split("\n\n")
        if block.strip()
    )
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(LANGUAGE, "forwarded_reply.headline"),
        paragraphs=(
            what,
            *(
                (text(LANGUAGE, "forwarded_reply.calendar_lost", answer=answer_name(calendar_answer)),)
                if calendar_answer
                else ()
            ),
            *(written_paragraphs or (text(LANGUAGE, "forwarded_reply.empty"),)),
            text(LANGUAGE, "forwarded_reply.attachments"),
        ),
    )


def delegation_notice(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    delegate_name: str,
    delegate_email: str,
    comment: str | None = None,
) -> NoticeMessage:
    """A substitute named in a calendar reply, held for the coordinator: a mailed calendar answer can be
    forged, so the substitute gets nothing until someone who can vouch for them confirms."""
    span = format_span(meeting.starts_at, meeting.ends_at, LANGUAGE)
    delegate = f"{delegate_name}, {delegate_email}"
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(LANGUAGE, "delegation.headline"),
        paragraphs=(
            text(LANGUAGE, "delegation.what", participant=who(participant), span=span, delegate=delegate),
            *((text(LANGUAGE, "delegation.comment", comment=comment),) if comment else ()),
            text(LANGUAGE, "delegation.held"),
            text(LANGUAGE, "delegation.act"),
        ),
    )


def other_sender_notice(
    case: Case, meeting: Meeting, participant: ParticipantInfo, answer: str, sender: str
) -> NoticeMessage:
    """A calendar answer under a participant's own UID that another address sent (a forwarded invitation,
    an alias): not recorded, since only the one invited answers for themselves; the coordinator is told."""
    span = format_span(meeting.starts_at, meeting.ends_at, LANGUAGE)
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(LANGUAGE, "other_sender.headline"),
        paragraphs=(
            text(
                LANGUAGE,
                "other_sender.what",
                answer=answer_name(answer),
                participant=who(participant),
                span=span,
                sender=sender,
            ),
            text(LANGUAGE, "other_sender.held"),
            text(LANGUAGE, "other_sender.act"),
        ),
    )


def undeliverable_notice(case: Case, meeting: Meeting, participant: ParticipantInfo) -> NoticeMessage:
    address = participant.email or text(LANGUAGE, "undeliverable.given_address")
    span = format_span(meeting.starts_at, meeting.ends_at, LANGUAGE)
    return NoticeMessage(
        case_reference=case.case_id,
        headline=text(LANGUAGE, "undeliverable.headline"),
        paragraphs=(
            text(LANGUAGE, "undeliverable.what", participant=who(participant), span=span, address=address),
            text(LANGUAGE, "undeliverable.counts"),
            text(LANGUAGE, "undeliverable.act"),
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


def _delegation(subject: NoticeSubject) -> NoticeMessage:
    case, meeting, participant = subject.require_meeting()
    return delegation_notice(
        case,
        meeting,
        participant,
        str(subject.payload.get("delegate_name", "")),
        str(subject.payload.get("delegate_email", "")),
        subject.payload.get("comment"),
    )


def _other_sender(subject: NoticeSubject) -> NoticeMessage:
    case, meeting, participant = subject.require_meeting()
    return other_sender_notice(
        case,
        meeting,
        participant,
        str(subject.payload.get("answer", "")),
        str(subject.payload.get("sender", "")),
    )


def _undeliverable(subject: NoticeSubject) -> NoticeMessage:
    return undeliverable_notice(*subject.require_meeting())


def _webhook_disabled(subject: NoticeSubject) -> NoticeMessage:
    """To whoever a webhook subscription names: its endpoint failed for three days and gets nothing now.
    About an endpoint, not a case: it names the subscription and the endpoint's origin, nothing else."""
    payload = subject.payload
    subscription = str(payload["subscription_id"])
    described = f" ({payload['description']})" if payload.get("description") else ""
    since = format_moment(datetime.fromisoformat(payload["failing_since"]), LANGUAGE)
    return NoticeMessage(
        case_reference=None,
        headline=text(LANGUAGE, "webhook_disabled.headline"),
        paragraphs=(
            text(
                LANGUAGE,
                "webhook_disabled.what",
                subscription=subscription,
                described=described,
                endpoint=payload["endpoint"],
            ),
            text(LANGUAGE, "webhook_disabled.since", since=since, error=payload["last_error"]),
            text(LANGUAGE, "webhook_disabled.act", subscription=subscription),
        ),
    )


NOTICES: dict[str, NoticeBuilder] = {
    "proposal": _proposal,
    "undeliverable": _undeliverable,
    "forwarded_reply": _forwarded_reply,
    "delegation": _delegation,
    "other_sender": _other_sender,
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
