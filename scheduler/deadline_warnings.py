"""Warnings on a case: what a coordinator should look at although no binding deadline has been missed.

Kinds: guideline_expired, guideline_not_yet_valid, outside_target_group, birth_date_unknown,
consent_without_end, consent_missing, waiting_for_consent, guardian_consent_after_18,
consent_ends_before_meeting, notice_too_short, meeting_too_long, meeting_after_due,
meeting_on_non_working_day, followup_not_set, recommendation_missed. Messages are
Swedish, for coordinators, and never carry the person's name or personnummer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from calendars.ages import age_on, last_day_of_age
from calendars.stockholm import local_date
from calendars.workdays import WorkingCalendar
from config.region_rules import RegionRules, ResolvedRule
from config.rule_schema import (
    ComingOfAgeRule,
    DateRule,
    FollowupRequiredRule,
    MeetingLengthRule,
    RuleBase,
    TargetGroupRule,
)
from scheduler.case import Case, Deadline, Meeting, Warning
from scheduler.consent import (
    Hold,
    guardian_consent_after_majority,
    has_pending_invitations,
    invitation_hold,
)
from scheduler.deadline_report import MeetingTimes


def case_warnings(
    case: Case,
    rules: RegionRules,
    calendar: WorkingCalendar,
    meetings: Mapping[str, MeetingTimes],
    deadlines: list[Deadline],
    today: date,
) -> list[Warning]:
    found = [*_guideline(rules, today), *_person(case, rules, today), *_consent(case, today)]
    upcoming = [m for m in case.meetings.values() if m.status == "scheduled"]
    for meeting in sorted(upcoming, key=lambda m: (m.starts_at, m.meeting_id)):
        found.extend(_held_invitations(case, meeting, today))
        found.extend(_meeting(case, meeting, rules, calendar, meetings[meeting.meeting_id], deadlines, today))
    found.extend(_followup(case, rules))
    found.extend(_missed_recommendations(deadlines))
    return found


def _missed_recommendations(deadlines: list[Deadline]) -> list[Warning]:
    """A missed `should` is a warning (a missed `must` is a deviation instead)."""
    return [
        Warning(
            kind="recommendation_missed",
            message=f"Riktlinjens rekommendation {deadline.rule} ({deadline.kind}, senast "
            f"{deadline.due.isoformat()}) hölls inte.",
        )
        for deadline in deadlines
        if deadline.status == "missed" and not deadline.must
    ]


def _guideline(rules: RegionRules, today: date) -> list[Warning]:
    found = [
        Warning(
            kind="guideline_expired",
            message=f"Riktlinjen för {file} ({document.title}) gällde t.o.m. {document.valid_to}; "
            "dess regler tillämpas tills en ny version finns.",
        )
        for file, document in rules.expired_documents(today)
    ]
    found.extend(
        Warning(
            kind="guideline_not_yet_valid",
            message=f"Riktlinjen för {file} ({document.title}) gäller först fr.o.m. {document.valid_from}.",
        )
        for file, document in rules.premature_documents(today)
    )
    return found


def _person(case: Case, rules: RegionRules, today: date) -> list[Warning]:
    group = rules.find("target_group", TargetGroupRule)
    adult = rules.find("coming_of_age", ComingOfAgeRule)
    born = case.person.birth_date
    if born is None:
        if group is None and adult is None:
            return []
        return [
            Warning(
                kind="birth_date_unknown",
                message="Födelsedatum saknas: målgrupp och 18-årsdag kan inte beräknas.",
            )
        ]
    if group is None:
        return []
    age = age_on(born, today)
    low, high = group.rule.min_age, group.rule.max_age
    if low <= age <= high:
        return []
    when = f"t.o.m. {last_day_of_age(born, high)}" if age > high else f"från {age} år"
    return [
        Warning(
            kind="outside_target_group",
            message=f"Personen är {age} år och utanför målgruppen {low}–{high} år ({when}) enligt "
            f"{group.qualified_name}; ärendet stängs inte av sig självt.",
        )
    ]


def _consent(case: Case, today: date) -> list[Warning]:
    consent = case.consent
    found = []
    if consent is not None and consent.withdrawn_at is None and consent.valid_to is None:
        found.append(
            Warning(
                kind="consent_without_end",
                message="Samtycket saknar slutdatum (Gäller till); det bör tidsbegränsas.",
            )
        )
    has_upcoming = any(m.status == "scheduled" for m in case.meetings.values())
    starts_later = consent is not None and consent.withdrawn_at is None and consent.valid_from > today
    if case.status == "open" and has_upcoming and not case.consent_active(today) and not starts_later:
        found.append(
            Warning(kind="consent_missing", message="Ett möte är planerat men giltigt samtycke saknas i dag.")
        )
    return found


_HOLD_REASONS = {
    "no_consent": "Kallelserna hålls tills giltigt samtycke finns.",
    "consent_starts_later": "Kallelserna hålls tills samtycket börjar gälla {until}.",
    "guardian_consent_after_18": "Kallelserna hålls tills personens eget samtycke finns.",
}


def _held_invitations(case: Case, meeting: Meeting, today: date) -> list[Warning]:
    """Invitations that consent holds back (or a meeting that a guardian's consent no longer covers)."""
    if case.status != "open":
        return []
    meeting_id = meeting.meeting_id
    to_send = has_pending_invitations(meeting)
    if guardian_consent_after_majority(case, meeting):
        then = (
            "Kallelserna skickas när personens eget samtycke eller en legal företrädares finns."
            if to_send
            else "Kallelserna gick ut före 18-årsdagen; fråga personen om eget samtycke före mötet."
        )
        return [
            Warning(
                kind="guardian_consent_after_18",
                message=f"Möte {meeting_id}: personen är 18 år på mötesdagen och vårdnadshavarens samtycke "
                f"gäller inte längre (föräldrabalken 6 kap. 2 §). {then}",
            )
        ]
    hold = invitation_hold(case, meeting, today)
    if to_send and hold is not None and hold.reason == "consent_starts_later":
        return [
            Warning(
                kind="waiting_for_consent",
                message=f"Möte {meeting_id}: samtycket gäller från {hold.until}; kallelserna skickas då, när "
                "utskicksfönstret öppnar.",
            )
        ]
    return []


def _hold_reason(hold: Hold | None) -> str:
    return "" if hold is None else " " + _HOLD_REASONS[hold.reason].format(until=hold.until)


def _meeting(
    case: Case,
    meeting: Meeting,
    rules: RegionRules,
    calendar: WorkingCalendar,
    times: MeetingTimes,
    deadlines: list[Deadline],
    today: date,
) -> list[Warning]:
    found = []
    meeting_id = meeting.meeting_id
    meeting_day = local_date(meeting.starts_at)
    if times.notice_ok is False:
        to_send = has_pending_invitations(meeting)
        hold = invitation_hold(case, meeting, today) if to_send else None
        found.append(
            Warning(
                kind="notice_too_short",
                message=f"Möte {meeting_id}: kallelsetiden blir {times.notice_days} dagar, minst "
                f"{times.required_notice_days} krävs.{_hold_reason(hold)}",
            )
        )
    length = rules.find("meeting_max_duration", MeetingLengthRule)
    minutes = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
    if length is not None and minutes > length.rule.minutes:
        found.append(
            Warning(
                kind="meeting_too_long",
                message=f"Möte {meeting_id}: {minutes} minuter, längre än {length.rule.minutes} "
                f"({'krav' if length.must else 'rekommendation'}, {length.qualified_name}).",
            )
        )
    consent = case.consent
    if consent is not None and consent.valid_to is not None and meeting_day > consent.valid_to:
        found.append(
            Warning(
                kind="consent_ends_before_meeting",
                message=f"Möte {meeting_id} ({meeting_day}) ligger efter samtyckets slut {consent.valid_to}.",
            )
        )
    for deadline in deadlines:
        if deadline.kind == "meeting_due" and deadline.status == "pending" and meeting_day > deadline.due:
            found.append(
                Warning(
                    kind="meeting_after_due",
                    message=f"Möte {meeting_id} ({meeting_day}) efter {deadline.due} ({deadline.rule}).",
                )
            )
    if not calendar.is_working_day(meeting_day):
        name = calendar.holiday_name(meeting_day) or "helg"
        found.append(
            Warning(
                kind="meeting_on_non_working_day",
                message=f"Möte {meeting_id} ligger på en dag som inte är arbetsdag ({meeting_day}, {name}).",
            )
        )
    return found


def _followup(case: Case, rules: RegionRules) -> list[Warning]:
    """A held meeting without a follow-up date, where the guideline asks the plan to name one: by a rule
    of its own (`followup_required`), or by making the follow-up date a `must`."""
    rule: ResolvedRule[RuleBase] | None = rules.find("followup_required", FollowupRequiredRule)
    if rule is None:
        dated = rules.find("followup_date", DateRule)
        rule = dated if dated is not None and dated.must else None
    if rule is None or case.status != "open":
        return []
    held = [m for m in case.meetings.values() if m.status == "held"]
    if not held:
        return []
    latest = max(held, key=lambda m: m.starts_at)
    if latest.followup_on is not None:
        return []
    return [
        Warning(
            kind="followup_not_set",
            message=f"Möte {latest.meeting_id} hölls utan datum för uppföljning ({rule.qualified_name}: "
            f"”{rule.rule.phrase}”).",
        )
    ]
