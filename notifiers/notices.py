"""Notices about an invitation to the people who run the meeting: a proposal of another time for the
organizer, an undeliverable invitation for the coordinator. Plain e-mail without a calendar; they name the
participant concerned (the recipient invited them) and never the person the case is about."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notifiers.compose import Sender, message_id
from notifiers.datefmt import format_moment, format_span
from notifiers.mime import Envelope, MailAddress, build_plain_email, to_bytes
from notifiers.templates import NoticeMessage, date_words, render_notice
from scheduler.case import Case, Meeting, ParticipantInfo


def _who(participant: ParticipantInfo) -> str:
    return (
        f"{participant.name} ({participant.organisation})" if participant.organisation else participant.name
    )


def proposal_notice(
    case: Case, meeting: Meeting, participant: ParticipantInfo, starts_at: datetime, ends_at: datetime | None
) -> NoticeMessage:
    words = date_words("sv")
    proposed = format_span(starts_at, ends_at, words) if ends_at else format_moment(starts_at, words)
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Förslag på ny tid för SIP-möte",
        paragraphs=(
            f"{_who(participant)} föreslår en annan tid för SIP-mötet "
            f"{format_span(meeting.starts_at, meeting.ends_at, words)}.",
            f"Föreslagen tid: {proposed}.",
            "Mötet är inte flyttat. Ska tiden ändras, gör det i ärendesystemet: då får alla en uppdaterad "
            "kallelse.",
        ),
    )


def undeliverable_notice(case: Case, meeting: Meeting, participant: ParticipantInfo) -> NoticeMessage:
    words = date_words("sv")
    return NoticeMessage(
        case_reference=case.case_id,
        headline="Kallelsen kunde inte levereras",
        paragraphs=(
            f"Kallelsen till {_who(participant)} för SIP-mötet "
            f"{format_span(meeting.starts_at, meeting.ends_at, words)} kunde inte levereras till "
            f"{participant.email or 'den angivna adressen'}. Mottagarens server tar inte emot den.",
            "Kontakta deltagaren på annat sätt, eller rätta adressen och kalla på nytt.",
        ),
    )


def notice_email(
    case: Case,
    meeting: Meeting,
    participant: ParticipantInfo,
    payload: Mapping[str, Any],
    recipient: str,
    key: str,
    sender: Sender,
    now: datetime,
) -> bytes:
    """The notice an outbox row's payload describes, as e-mail bytes under the row's stable Message-ID."""
    kind = payload.get("notice")
    if kind == "proposal":
        ends_at = payload.get("ends_at")
        notice = proposal_notice(
            case,
            meeting,
            participant,
            datetime.fromisoformat(payload["starts_at"]),
            datetime.fromisoformat(ends_at) if ends_at else None,
        )
    elif kind == "undeliverable":
        notice = undeliverable_notice(case, meeting, participant)
    else:
        raise ValueError(f"unknown notice {kind!r}")
    envelope = Envelope(
        sender=MailAddress(name="sipvakt", email=sender.mail_from),
        recipient=MailAddress(name="", email=recipient),
        message_id=message_id(key, sender.domain),
        date=now,
    )
    return to_bytes(build_plain_email(envelope, render_notice(notice)))
