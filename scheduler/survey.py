"""The survey some regions ask the person to fill in after a new plan and after each follow-up (Blekinge:
"Den enskilde ombeds att fylla i en SIP-enkät"). Sent once per held meeting, to the person if the case
has their address, otherwise to the child, guardians and representatives invited by e-mail."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.region_rules import RegionRules
from config.rule_schema import SurveyRule
from scheduler.case import Case, Meeting
from scheduler.effects import Effect, QueueMessage

SURVEY_ROLES = frozenset({"child", "guardian", "representative"})
# A meeting recorded as held long ago (before the region named its survey, say) gets no survey now.
SURVEY_TOO_LATE = timedelta(days=7)


def survey_messages(case: Case, rules: RegionRules, now: datetime) -> list[Effect]:
    found = rules.find("survey", SurveyRule)
    if found is None or found.rule.url is None:
        return []
    effects: list[Effect] = []
    for meeting in case.meetings.values():
        if meeting.status != "held" or meeting.survey_sent_at is not None or meeting.held_at is None:
            continue
        if now - meeting.held_at > SURVEY_TOO_LATE:
            continue
        meeting.survey_sent_at = now
        for participant_id, address in _recipients(case, meeting):
            effects.append(
                QueueMessage(
                    key=f"{case.case_id}/{meeting.meeting_id}/survey/{participant_id or 'person'}",
                    kind="survey",
                    channel="email",
                    meeting_id=meeting.meeting_id,
                    participant_id=participant_id,
                    recipient=address,
                    payload={"notice": "survey", "url": found.rule.url, "queued_at": now.isoformat()},
                )
            )
    return effects


def _recipients(case: Case, meeting: Meeting) -> list[tuple[str | None, str]]:
    if case.person.email:
        return [(None, case.person.email)]
    return [
        (participant.participant_id, participant.email)
        for participant in meeting.participants.values()
        if participant.role in SURVEY_ROLES and participant.channel == "email" and participant.email
    ]
