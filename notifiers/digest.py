"""The words of a coordinator's daily digest, in Swedish (the catalogs' `digest` texts): a headline with
the day, then three headed lists
(deadlines this coming week, unanswered invitations, invitations not delivered, new deviations) and, when
there are any, the answers that came with a comment.

Everything comes from the outbox row's payload (`scheduler.digest.Digest`), which was written when the
digest ran: a digest reports the morning it was made, not the moment the mail server took it. A list with
nothing in it says so, so that the coordinator can tell "nothing" from "not checked".
"""

from __future__ import annotations

from calendars.stockholm import start_of_day
from notifiers.datefmt import format_day, format_moment
from notifiers.i18n import DEFAULT_LANGUAGE, Language, section, text
from notifiers.templates import NoticeMessage, NoticeSection
from scheduler.digest import HORIZON_DAYS, Digest, DigestDeadline, DigestDeviation, DigestInvitation

# A coordinator has no language of their own in the contract: digests are Swedish.
LANGUAGE: Language = DEFAULT_LANGUAGE


def answer_name(answer: str, language: Language = LANGUAGE) -> str:
    """``tackar ja`` for ``accepted``; an answer without a name is shown as it is."""
    return section(language, "answer_names").get(answer, answer)


def digest_notice(digest: Digest) -> NoticeMessage:
    day = format_day(start_of_day(digest.day), LANGUAGE)
    return NoticeMessage(
        case_reference=None,
        headline=text(LANGUAGE, "digest.headline", day=day),
        paragraphs=(text(LANGUAGE, "digest.intro"),),
        sections=(
            NoticeSection(
                text(LANGUAGE, "digest.deadlines", days=HORIZON_DAYS),
                tuple(_deadline(deadline) for deadline in digest.deadlines),
                text(LANGUAGE, "digest.no_deadlines", days=HORIZON_DAYS),
            ),
            NoticeSection(
                text(LANGUAGE, "digest.invitations"),
                tuple(_invitation(invitation) for invitation in digest.invitations),
                text(LANGUAGE, "digest.no_invitations"),
            ),
            NoticeSection(
                text(LANGUAGE, "digest.undelivered"),
                tuple(_undelivered(invitation) for invitation in digest.undelivered),
                text(LANGUAGE, "digest.no_undelivered"),
            ),
            NoticeSection(
                text(LANGUAGE, "digest.deviations"),
                tuple(_deviation(deviation) for deviation in digest.deviations),
                text(LANGUAGE, "digest.no_deviations"),
            ),
            *(
                (
                    NoticeSection(
                        text(LANGUAGE, "digest.answers"), tuple(_answer(answer) for answer in digest.answers)
                    ),
                )
                if digest.answers
                else ()
            ),
        ),
    )


def _deadline(deadline: DigestDeadline) -> str:
    name = section(LANGUAGE, "deadline_names").get(deadline.kind, deadline.kind)
    day = format_day(start_of_day(deadline.due), LANGUAGE)
    return text(
        LANGUAGE, "digest.deadline_line", day=day, name=name, case_id=deadline.case_id, rule=deadline.rule
    )


def _invitation(invitation: DigestInvitation) -> str:
    late = text(LANGUAGE, "digest.past_rsvp") if invitation.status == "unanswered" else ""
    return _invitation_line(invitation) + late


def _undelivered(invitation: DigestInvitation) -> str:
    if invitation.status == "failed":
        return _invitation_line(invitation) + text(LANGUAGE, "digest.failed")
    return _invitation_line(invitation) + text(LANGUAGE, "digest.not_yet")


def _who(invitation: DigestInvitation) -> str:
    if invitation.organisation:
        return f"{invitation.participant} ({invitation.organisation})"
    return invitation.participant


def _invitation_line(invitation: DigestInvitation) -> str:
    meeting = format_moment(invitation.starts_at, LANGUAGE)
    return text(
        LANGUAGE, "digest.invitation_line", who=_who(invitation), meeting=meeting, case_id=invitation.case_id
    )


def _answer(answer: DigestInvitation) -> str:
    return text(
        LANGUAGE,
        "digest.answer_line",
        who=_who(answer),
        said=answer_name(answer.status),
        meeting=format_moment(answer.starts_at, LANGUAGE),
        case_id=answer.case_id,
        comment=answer.comment,
    )


def _deviation(deviation: DigestDeviation) -> str:
    name = section(LANGUAGE, "deviation_names").get(deviation.kind, deviation.kind)
    detected = format_moment(deviation.detected_at, LANGUAGE)
    return text(LANGUAGE, "digest.deviation_line", name=name, case_id=deviation.case_id, detected=detected)
