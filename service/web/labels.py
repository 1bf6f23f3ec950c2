"""Swedish words for the codes the case documents use, shown by the case pages."""

from __future__ import annotations

from datetime import date, datetime

from calendars.stockholm import STOCKHOLM

DEADLINE_KINDS = {
    "meeting_due": "SIP-möte hållet senast",
    "invitation_due": "Kallelser skickade senast",
    "notice": "Sista dag för kallelse",
    "rsvp_due": "Sista svarsdag",
    "followup_due": "Uppföljning senast",
    "consent_expires": "Samtycket upphör",
    "turns_18": "Fyller 18 år",
    "action_due": "Åtgärd klar senast",
}
DEADLINE_STATUSES = {"pending": "Pågår", "met": "Uppfylld", "missed": "Missad"}
DEVIATION_KINDS = {
    "no_response": "Inget svar på kallelse",
    "no_show": "Uteblev från möte",
    "action_not_done": "Åtgärd inte utförd",
    "late": "Tidsfrist missad",
}
INVITATION_STATUSES = {
    "pending": "Inte skickad",
    "queued": "I utkorgen",
    "sent": "Skickad, inget svar",
    "accepted": "Kommer",
    "declined": "Kommer inte",
    "tentative": "Kanske",
    "delegated": "Skickar ersättare",
    "unanswered": "Obesvarad",
    "failed": "Kunde inte levereras",
}
MEETING_STATUSES = {"scheduled": "Planerat", "cancelled": "Inställt", "held": "Hållet"}
MEETING_KINDS = {"initial": "SIP-möte", "followup": "Uppföljningsmöte"}
REMINDER_KINDS = {
    "rsvp": "Påminnelse om svar",
    "followup_call": "Dags att kalla till uppföljning",
    "consent_expiry": "Samtycket upphör snart",
    "turns_18": "Personen fyller 18",
    "leaves_target_group": "Personen lämnar målgruppen",
    "action_due": "Åtgärd ska vara klar",
    "deviation": "Avvikelse till samordnaren",
    "urgent_opened": "Brådskande ärende öppnat",
}
REMINDER_STATUSES = {"scheduled": "Planerad", "sent": "Skickad", "cancelled": "Avbruten"}
EVENT_TYPES = {
    "case.opened": "Ärendet öppnades",
    "consent.given": "Samtycke lämnades",
    "consent.withdrawn": "Samtycket återkallades",
    "meeting.scheduled": "Möte planerades",
    "meeting.rescheduled": "Möte flyttades",
    "meeting.cancelled": "Möte ställdes in",
    "participant.responded": "Deltagare svarade",
    "meeting.held": "Möte hölls",
    "action.completed": "Åtgärd utfördes",
    "case.closed": "Ärendet avslutades",
}
RESPONSES = {
    "accepted": "kommer",
    "declined": "kommer inte",
    "tentative": "kanske",
    "delegated": "skickar ersättare",
}


def label(table: dict[str, str], code: str | None) -> str:
    """The Swedish word for a code; an unknown code (a newer kind) is shown as it is."""
    if code is None:
        return ""
    return table.get(code, code)


def moment(value: datetime | None) -> str:
    """A time as a Swedish reader expects it, in Stockholm: 2026-11-23 09:15."""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else ""


def day(value: date | None) -> str:
    return value.isoformat() if value else ""
