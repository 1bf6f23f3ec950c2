"""The deadline engine, one table per rule of the seed documents, with dates on the calendar's edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from scheduler.case import ActionItem, Case, Consent
from scheduler.deadline_report import DeadlineReport
from scheduler.deadlines import compute_deadlines
from tests.scheduler.builders import add_meeting, at, make_case

BOOK = load_rulebook(Path(__file__).resolve().parents[2] / "config")
CALENDAR = WorkingCalendar()


def report(case: Case, now: datetime) -> DeadlineReport:
    return compute_deadlines(case, BOOK.region(case.region), CALENDAR, now)


def only(result: DeadlineReport, kind: str) -> list[tuple[str, date, str, str, bool]]:
    return [(d.kind, d.due, d.status, d.rule, d.must) for d in result.deadlines if d.kind == kind]


def warning_kinds(result: DeadlineReport) -> list[str]:
    return [w.kind for w in result.warnings]


VG_21 = "vastra_gotaland.meeting_within_days"

# seed, region, detected_at, due, rule, must
MEETING_DUE = [
    ("002", "halland", date(2026, 11, 24), date(2026, 12, 24), "halland.meeting_within_days", False),
    ("002", "halland", date(2026, 5, 20), date(2026, 6, 19), "halland.meeting_within_days", False),
    ("002", "halland", date(2026, 12, 1), date(2026, 12, 31), "halland.meeting_within_days", False),
    ("004", "vastra_gotaland", date(2026, 12, 10), date(2026, 12, 31), VG_21, False),
    ("004", "vastra_gotaland", date(2026, 3, 8), date(2026, 3, 29), VG_21, False),
    ("004", "vastra_gotaland", date(2026, 10, 4), date(2026, 10, 25), VG_21, False),
    ("004", "vastra_gotaland", date(2026, 12, 19), date(2027, 1, 9), VG_21, False),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "region", "detected", "due", "rule", "must"), MEETING_DUE)
def test_meeting_due_counts_calendar_days_from_the_noticed_need_without_rolling(
    seed: str, region: str, detected: date, due: date, rule: str, must: bool
) -> None:
    case = make_case(region, detected)
    assert only(report(case, at(f"{detected} 12:00")), "meeting_due") == [
        ("meeting_due", due, "pending", rule, must)
    ]


# seed, region, detected_at, due (3 working days), rule, must
URGENT = [
    ("001", "blekinge", date(2026, 12, 22), date(2026, 12, 29), "blekinge.urgent_meeting_within", False),
    ("002", "halland", date(2026, 6, 17), date(2026, 6, 23), "halland.urgent_meeting_within", False),
    ("000", "jonkoping", date(2026, 12, 30), date(2027, 1, 7), "jonkoping.urgent_meeting_within", False),
    ("004", "vastra_gotaland", date(2026, 3, 26), date(2026, 3, 31), "default.urgent_meeting_within", False),
    ("003", "dalarna", date(2026, 10, 22), date(2026, 10, 27), "default.urgent_meeting_within", False),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "region", "detected", "due", "rule", "must"), URGENT)
def test_urgent_track_meeting_due_in_working_days(
    seed: str, region: str, detected: date, due: date, rule: str, must: bool
) -> None:
    case = make_case(region, detected, urgent=True)
    assert only(report(case, at(f"{detected} 12:00")), "meeting_due") == [
        ("meeting_due", due, "pending", rule, must)
    ]


def test_meeting_due_is_met_by_a_meeting_held_on_the_last_day_and_missed_by_one_held_after() -> None:
    case = make_case("halland", date(2026, 11, 24))
    add_meeting(case, "m1", at("2026-12-24 09:00"), status="held")
    assert only(report(case, at("2027-01-10 12:00")), "meeting_due")[0][2] == "met"
    case.meetings["m1"] = case.meetings["m1"].model_copy(update={"starts_at": at("2026-12-28 09:00")})
    assert only(report(case, at("2027-01-10 12:00")), "meeting_due")[0][2] == "missed"


def test_meeting_due_is_missed_from_the_first_moment_after_its_day() -> None:
    case = make_case("halland", date(2026, 11, 24))
    assert only(report(case, at("2026-12-24 23:59")), "meeting_due")[0][2] == "pending"
    assert only(report(case, at("2026-12-25 00:00")), "meeting_due")[0][2] == "missed"


# discharge notice moment, due after the Sunday rule (lag 2017:612, default rule for every region)
DISCHARGE = [
    (at("2026-12-21 14:00"), date(2026, 12, 28)),
    (at("2026-06-16 09:00"), date(2026, 6, 22)),
    (at("2026-12-28 09:00"), date(2027, 1, 4)),
    (at("2026-03-28 23:30"), date(2026, 3, 31)),
    (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 28)),
    (at("2026-11-17 08:00"), date(2026, 11, 20)),
]


@pytest.mark.parametrize(("notice_at", "due"), DISCHARGE)
def test_invitation_due_three_days_after_discharge_notice_with_the_sunday_rule(
    notice_at: datetime, due: date
) -> None:
    case = make_case("vastra_gotaland", date(2026, 1, 5), discharge_notice_at=notice_at)
    assert only(report(case, notice_at), "invitation_due") == [
        ("invitation_due", due, "pending", "default.invitation_after_discharge", True)
    ]


def test_invitation_due_is_met_by_the_first_invitation_sent() -> None:
    case = make_case("halland", date(2026, 12, 1), discharge_notice_at=at("2026-12-21 14:00"))
    add_meeting(case, "m1", at("2027-01-12 10:00"), sent_at=at("2026-12-28 16:59"))
    assert only(report(case, at("2026-12-30 09:00")), "invitation_due")[0][2] == "met"


# Blekinge (001): three weeks counted from receipt; a letter leaves 2 working days earlier.
NOTICE = [
    (at("2027-01-14 10:00"), ("email",), date(2026, 12, 24)),
    (at("2027-01-14 10:00"), ("email", "letter"), date(2026, 12, 21)),
    (at("2026-04-19 10:00"), ("email",), date(2026, 3, 29)),
    (at("2026-07-10 10:00"), ("letter",), date(2026, 6, 16)),  # receipt by Midsummer Eve: Thursday arrival
    (at("2027-01-21 10:00"), ("letter",), date(2026, 12, 28)),  # receipt by New Year's Eve: Wednesday arrival
]


@pytest.mark.parametrize(("starts_at", "channels", "latest_send"), NOTICE)
def test_blekinge_notice_is_the_latest_day_invitations_can_leave(
    starts_at: datetime, channels: tuple[str, ...], latest_send: date
) -> None:
    case = make_case("blekinge", date(2026, 1, 2))
    add_meeting(case, "m1", starts_at, channels=channels)  # type: ignore[arg-type]
    result = report(case, at("2026-01-05 09:00"))
    assert only(result, "notice") == [
        ("notice", latest_send, "pending", "blekinge.minimum_notice_days", True)
    ]
    assert result.meetings["m1"].latest_send_on == latest_send
    assert result.meetings["m1"].required_notice_days == 21


def test_blekinge_notice_met_on_the_last_day_and_missed_the_day_after() -> None:
    case = make_case("blekinge", date(2026, 11, 2))
    add_meeting(case, "m1", at("2027-01-14 10:00"), sent_at=at("2026-12-24 08:00"))
    result = report(case, at("2026-12-27 09:00"))
    assert only(result, "notice")[0][2] == "met"
    assert (result.meetings["m1"].notice_days, result.meetings["m1"].notice_ok) == (21, True)
    add_meeting(case, "m1", at("2027-01-14 10:00"), sent_at=at("2026-12-25 08:00"))
    result = report(case, at("2026-12-27 09:00"))
    assert only(result, "notice")[0][2] == "missed"
    assert (result.meetings["m1"].notice_days, result.meetings["m1"].notice_ok) == (20, False)
    assert "notice_too_short" in warning_kinds(result)


def test_notice_agreed_and_urgent_track_drop_the_minimum_notice() -> None:
    agreed = make_case("blekinge", date(2026, 11, 2))
    add_meeting(agreed, "m1", at("2026-11-10 10:00"), notice_agreed=True)
    urgent = make_case("blekinge", date(2026, 11, 2), urgent=True)
    add_meeting(urgent, "m1", at("2026-11-05 10:00"))
    for case in (agreed, urgent):
        result = report(case, at("2026-11-03 09:00"))
        assert only(result, "notice") == []
        assert result.meetings["m1"].notice_ok is True
        assert "notice_too_short" not in warning_kinds(result)


def test_rsvp_due_seven_days_after_receipt_and_escalation_three_working_days_before() -> None:
    case = make_case("vastra_gotaland", date(2026, 12, 1))
    add_meeting(
        case, "m1", at("2027-01-14 10:00"), channels=("email", "letter"), sent_at=at("2026-12-10 09:00")
    )
    result = report(case, at("2026-12-11 09:00"))
    times = result.meetings["m1"]
    assert times.rsvp_due_by_participant == {"p0": date(2026, 12, 17), "p1": date(2026, 12, 21)}
    assert times.escalation_on == date(2027, 1, 11)
    assert only(result, "rsvp_due") == [
        ("rsvp_due", date(2026, 12, 21), "pending", "vastra_gotaland.rsvp_after", False)
    ]


def test_urgent_rsvp_and_escalation_are_compressed() -> None:
    case = make_case("blekinge", date(2026, 12, 21), urgent=True)
    add_meeting(case, "m1", at("2026-12-29 10:00"), sent_at=at("2026-12-22 09:00"))
    times = report(case, at("2026-12-22 10:00")).meetings["m1"]
    assert times.rsvp_due_by_participant == {"p0": date(2026, 12, 23)}
    assert times.escalation_on == date(2026, 12, 28)


def test_followup_due_and_the_day_to_call_it() -> None:
    case = make_case("blekinge", date(2026, 11, 2))
    add_meeting(case, "m1", at("2026-12-01 10:00"), status="held", followup_on=date(2027, 3, 1))
    result = report(case, at("2026-12-02 09:00"))
    assert only(result, "followup_due") == [
        ("followup_due", date(2027, 3, 1), "pending", "blekinge.followup_date", True)
    ]
    assert result.meetings["m1"].followup_call_by == date(2027, 2, 1)
    add_meeting(case, "m2", at("2027-02-26 10:00"), status="held")
    assert only(report(case, at("2027-03-02 09:00")), "followup_due")[0][2] == "met"


def test_followup_not_set_warns_where_the_plan_must_state_it() -> None:
    case = make_case("blekinge", date(2026, 11, 2))
    add_meeting(case, "m1", at("2026-12-01 10:00"), status="held")
    assert "followup_not_set" in warning_kinds(report(case, at("2026-12-02 09:00")))
    dalarna = make_case("dalarna", date(2026, 11, 2))
    add_meeting(dalarna, "m1", at("2026-12-01 10:00"), status="held")
    assert "followup_not_set" not in warning_kinds(report(dalarna, at("2026-12-02 09:00")))


def test_action_due_must_in_vastra_gotaland() -> None:
    case = make_case("vastra_gotaland", date(2026, 11, 2))
    case.actions["a1"] = ActionItem(
        action_id="a1",
        meeting_id="m1",
        description="Kontakta elevhälsan",
        responsible_organisation="Exempelskolan",
        due_on=date(2026, 12, 31),
    )
    assert only(report(case, at("2027-01-01 00:00")), "action_due") == [
        ("action_due", date(2026, 12, 31), "missed", "vastra_gotaland.action_date", True)
    ]
    case.actions["a1"] = case.actions["a1"].model_copy(update={"completed_at": at("2026-12-31 23:00")})
    assert only(report(case, at("2027-01-01 00:00")), "action_due")[0][2] == "met"


# Target groups are inclusive: Jönköping (000) "barn 0 – 18 år", a barn being under 18, so up to the
# 18th birthday; Västra Götaland (004) t.o.m. 20 år.
TARGET_GROUP = [
    ("000", "jonkoping", date(2008, 1, 15), date(2026, 1, 14), False),
    ("000", "jonkoping", date(2008, 1, 15), date(2026, 1, 15), True),
    ("004", "vastra_gotaland", date(2006, 1, 1), date(2026, 12, 31), False),
    ("004", "vastra_gotaland", date(2006, 1, 1), date(2027, 1, 1), True),
    ("004", "vastra_gotaland", date(2006, 2, 28), date(2027, 2, 27), False),
]


@pytest.mark.parametrize(("seed", "region", "born", "today", "outside"), TARGET_GROUP)
def test_outside_target_group_from_the_day_after_the_last_day_of_the_age_limit(
    seed: str, region: str, born: date, today: date, outside: bool
) -> None:
    case = make_case(region, date(2026, 1, 5), birth_date=born)
    assert ("outside_target_group" in warning_kinds(report(case, at(f"{today} 08:00")))) is outside


def test_dalarna_guideline_expires_after_2026_06_14_and_still_applies() -> None:
    case = make_case("dalarna", date(2026, 6, 1), urgent=True)
    assert "guideline_expired" not in warning_kinds(report(case, at("2026-06-14 23:59")))
    after = report(case, at("2026-06-15 00:00"))
    assert "guideline_expired" in warning_kinds(after)
    assert only(after, "meeting_due")[0][1] == date(2026, 6, 4)


def test_turns_18_on_christmas_eve_needs_the_young_persons_own_consent() -> None:
    case = make_case("halland", date(2026, 9, 1), birth_date=date(2008, 12, 24))
    case.consent = Consent(
        given_by="guardian",
        valid_from=date(2026, 9, 2),
        valid_to=date(2027, 9, 1),
        given_at=at("2026-09-02 10:00"),
    )
    assert only(report(case, at("2026-12-24 12:00")), "turns_18") == [
        ("turns_18", date(2026, 12, 24), "pending", "default.coming_of_age", True)
    ]
    assert only(report(case, at("2026-12-25 00:00")), "turns_18")[0][2] == "missed"
    case.consent = Consent(
        given_by="adult",
        valid_from=date(2026, 12, 24),
        valid_to=date(2027, 9, 1),
        given_at=at("2026-12-24 10:00"),
    )
    assert only(report(case, at("2026-12-25 00:00")), "turns_18")[0][2] == "met"


def test_no_turns_18_for_someone_already_adult() -> None:
    case = make_case("halland", date(2026, 9, 1), birth_date=date(2000, 1, 1))
    assert only(report(case, at("2026-09-02 12:00")), "turns_18") == []


def test_consent_expires_and_consent_without_end() -> None:
    case = make_case("vastra_gotaland", date(2026, 9, 1), birth_date=date(2015, 5, 5))
    case.consent = Consent(given_by="guardian", valid_from=date(2026, 9, 1), given_at=at("2026-09-01 10:00"))
    result = report(case, at("2026-09-02 12:00"))
    assert only(result, "consent_expires") == []
    assert "consent_without_end" in warning_kinds(result)
    case.consent = case.consent.model_copy(update={"valid_to": date(2027, 3, 28)})
    result = report(case, at("2026-09-02 12:00"))
    assert only(result, "consent_expires") == [
        ("consent_expires", date(2027, 3, 28), "pending", "default.consent_validity", True)
    ]
    assert result.consent_reminder_on == date(2027, 3, 14)
    add_meeting(case, "m1", at("2027-04-01 10:00"))
    assert "consent_ends_before_meeting" in warning_kinds(report(case, at("2026-09-02 12:00")))


def test_meeting_too_long_counts_real_minutes_across_the_autumn_dst_change() -> None:
    case = make_case("halland", date(2026, 10, 1))
    starts = datetime(2026, 10, 25, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    meeting = add_meeting(case, "m1", starts, minutes=150)
    assert meeting.ends_at.astimezone(at("2026-10-25 12:00").tzinfo).strftime("%H:%M") == "02:30"
    result = report(case, at("2026-10-02 12:00"))
    assert "meeting_too_long" in warning_kinds(result)
    assert "meeting_on_non_working_day" in warning_kinds(result)
    add_meeting(case, "m1", at("2026-10-26 09:00"), minutes=120)
    assert "meeting_too_long" not in warning_kinds(report(case, at("2026-10-02 12:00")))


def test_vastra_gotaland_meeting_structure_is_no_length_limit() -> None:
    """VG (004): "1. 20 min (laget runt) … 2. 20 min Problematisera … 3. 20 min Planera" suggests how to
    use the time; a 90-minute meeting is not too long."""
    case = make_case("vastra_gotaland", date(2026, 11, 2))
    add_meeting(case, "m1", at("2026-11-16 09:00"), minutes=90)
    assert "meeting_too_long" not in warning_kinds(report(case, at("2026-11-03 12:00")))


def test_meeting_after_due_and_missing_consent_warn() -> None:
    case = make_case("vastra_gotaland", date(2026, 11, 2))
    add_meeting(case, "m1", at("2026-11-25 09:00"))
    kinds = warning_kinds(report(case, at("2026-11-03 12:00")))
    assert "meeting_after_due" in kinds
    assert "consent_missing" in kinds


def test_a_closed_case_keeps_its_history_and_drops_what_was_still_open() -> None:
    case = make_case("halland", date(2026, 11, 2), discharge_notice_at=at("2026-10-01 10:00"))
    case.status = "closed"
    case.closed_at = at("2026-11-10 10:00")
    kinds = [d.kind for d in report(case, at("2026-11-11 12:00")).deadlines]
    assert kinds == ["invitation_due"]


def _rewritten(case: Case, offset: timedelta) -> Case:
    zone = timezone(offset)
    data = case.model_dump()

    def convert(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(zone)
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return Case.model_validate(convert(data))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(BOOK.names()),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=-12 * 4, max_value=14 * 4),
    st.booleans(),
)
def test_the_same_case_gives_the_same_deadlines_whatever_offset_its_times_are_written_with(
    region: str, day: date, hour: int, quarter_hours: int, urgent: bool
) -> None:
    notice = datetime(day.year, day.month, day.day, hour, 17, tzinfo=UTC)
    case = make_case(region, day, urgent=urgent, birth_date=date(2009, 2, 28), discharge_notice_at=notice)
    add_meeting(
        case,
        "m1",
        notice + timedelta(days=25),
        channels=("email", "letter"),
        sent_at=notice + timedelta(hours=5),
    )
    add_meeting(case, "m0", notice + timedelta(days=1), status="held", followup_on=day + timedelta(days=90))
    now = notice + timedelta(days=3)
    expected = report(case, now)
    shifted = _rewritten(case, timedelta(minutes=15 * quarter_hours))
    assert report(shifted, now.astimezone(timezone(timedelta(minutes=15 * quarter_hours)))) == expected
