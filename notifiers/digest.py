"""The words of a coordinator's daily digest, in Swedish: a headline with the day, then three headed lists
(deadlines this coming week, unanswered invitations, invitations not delivered, new deviations) and, when
there are any, the answers that came with a comment.

Everything comes from the outbox row's payload (`scheduler.digest.Digest`), which was written when the
digest ran: a digest reports the morning it was made, not the moment the mail server took it. A list with
nothing in it says so, so that the coordinator can tell "nothing" from "not checked".
"""

from __future__ import annotations

from calendars.stockholm import start_of_day
from notifiers.datefmt import format_day, format_moment
from notifiers.templates import NoticeMessage, NoticeSection, date_words
from scheduler.digest import HORIZON_DAYS, Digest, DigestDeadline, DigestDeviation, DigestInvitation

DEADLINE_NAMES = {
    "meeting_due": "SIP-mötet ska ha hållits",
    "invitation_due": "Kallelserna ska ha skickats",
    "notice": "Sista dag att skicka kallelser",
    "rsvp_due": "Sista svarsdag för kallelsen",
    "followup_due": "Uppföljningen ska ha hållits",
    "consent_expires": "Samtycket upphör",
    "turns_18": "Fyller 18 år",
    "action_due": "Åtgärd ska vara klar",
}
DEVIATION_NAMES = {
    "no_response": "Inget svar på kallelsen",
    "no_show": "Kallad deltagare kom inte",
    "action_not_done": "Åtgärd inte genomförd i tid",
    "late": "Tidsfrist överskriden",
}


def digest_notice(digest: Digest) -> NoticeMessage:
    words = date_words("sv")
    return NoticeMessage(
        case_reference=None,
        headline=f"SIP-bevakning: sammanställning {format_day(start_of_day(digest.day), words)}",
        paragraphs=(
            "Det här är dagens sammanställning för dina öppna SIP-ärenden. Den skickas varje arbetsdag då "
            "någon av listorna har något att ta upp.",
        ),
        sections=(
            NoticeSection(
                f"Tidsfrister de närmaste {HORIZON_DAYS} dagarna",
                tuple(_deadline(deadline) for deadline in digest.deadlines),
                f"Inga tidsfrister de närmaste {HORIZON_DAYS} dagarna.",
            ),
            NoticeSection(
                "Obesvarade kallelser",
                tuple(_invitation(invitation) for invitation in digest.invitations),
                "Inga obesvarade kallelser till kommande möten.",
            ),
            NoticeSection(
                "Kallelser som inte har kommit fram",
                tuple(_undelivered(invitation) for invitation in digest.undelivered),
                "Alla kallelser till kommande möten har kommit fram.",
            ),
            NoticeSection(
                "Nya avvikelser",
                tuple(_deviation(deviation) for deviation in digest.deviations),
                "Inga nya avvikelser sedan förra sammanställningen.",
            ),
            *(
                (NoticeSection("Svar med kommentar", tuple(_answer(answer) for answer in digest.answers)),)
                if digest.answers
                else ()
            ),
        ),
    )


def _deadline(deadline: DigestDeadline) -> str:
    name = DEADLINE_NAMES.get(deadline.kind, deadline.kind)
    day = format_day(start_of_day(deadline.due), date_words("sv"))
    return f"{day}: {name}, ärende {deadline.case_id} (regel {deadline.rule})"


def _invitation(invitation: DigestInvitation) -> str:
    late = ", sista svarsdag har passerat" if invitation.status == "unanswered" else ""
    return _invitation_line(invitation) + late


def _undelivered(invitation: DigestInvitation) -> str:
    if invitation.status == "failed":
        return _invitation_line(invitation) + ", kunde inte levereras: kontakta deltagaren på annat sätt"
    return _invitation_line(invitation) + ", inte levererad ännu"


def _who(invitation: DigestInvitation) -> str:
    if invitation.organisation:
        return f"{invitation.participant} ({invitation.organisation})"
    return invitation.participant


def _invitation_line(invitation: DigestInvitation) -> str:
    meeting = format_moment(invitation.starts_at, date_words("sv"))
    return f"{_who(invitation)}: möte {meeting}, ärende {invitation.case_id}"


ANSWER_NAMES = {
    "accepted": "tackar ja",
    "declined": "tackar nej",
    "tentative": "svarar kanske",
    "delegated": "skickar ersättare",
}


def _answer(answer: DigestInvitation) -> str:
    meeting = format_moment(answer.starts_at, date_words("sv"))
    said = ANSWER_NAMES.get(answer.status, answer.status)
    return f"{_who(answer)} {said} till mötet {meeting}, ärende {answer.case_id}: {answer.comment}"


def _deviation(deviation: DigestDeviation) -> str:
    name = DEVIATION_NAMES.get(deviation.kind, deviation.kind)
    detected = format_moment(deviation.detected_at, date_words("sv"))
    return f"{name}, ärende {deviation.case_id} (upptäckt {detected})"
