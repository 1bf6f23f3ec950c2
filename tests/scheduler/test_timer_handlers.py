"""The pure timer handlers: what a deadline timer does to its case when it fires."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from calendars.stockholm import end_of_day
from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from scheduler.case import Case
from scheduler.effects import RecordDeviation, SetTimer
from scheduler.planning import DeadlinePlanner
from scheduler.timers import HANDLERS, DueTimer, Fired, TimerContext, bring_up_to_date
from tests.scheduler.builders import add_meeting, at, make_case

PLANNER = DeadlinePlanner(load_rulebook(Path(__file__).resolve().parents[2] / "config"), WorkingCalendar())
FOLLOWUP_ON = date(2027, 2, 15)


def followed_up_case(region: str) -> Case:
    """A meeting held with every invitation answered in time, and a follow-up agreed for FOLLOWUP_ON."""
    case = make_case(region, date(2026, 11, 2))
    meeting = add_meeting(
        case,
        "m1",
        at("2026-11-26 13:00"),
        sent_at=at("2026-11-03 09:00"),
        status="held",
        followup_on=FOLLOWUP_ON,
    )
    for invitation in meeting.invitations.values():
        invitation.status = "accepted"
        invitation.responded_at = at("2026-11-04 09:00")
    PLANNER.refresh(case, at("2026-11-26 15:00"))
    return case


def timer(key: str = "deadline:followup_due:m1") -> DueTimer:
    return DueTimer(
        timer_id=1,
        case_id="test-0001",
        key=key,
        kind="deadline",
        due_at=end_of_day(FOLLOWUP_ON),
        payload={"deadline": "followup_due"},
        attempts=1,
    )


def fire(case: Case | None, now: datetime) -> Fired:
    return HANDLERS["deadline"](case, timer(), TimerContext(now=now, planner=PLANNER))


def deviations(fired: Fired) -> list[RecordDeviation]:
    return [effect for effect in fired.effects if isinstance(effect, RecordDeviation)]


def test_a_passed_must_deadline_turns_missed_and_is_a_late_deviation() -> None:
    case = followed_up_case("blekinge")
    fired = fire(case, end_of_day(FOLLOWUP_ON))
    assert fired.case is not None
    followup = [d for d in fired.case.deadlines if d.kind == "followup_due"]
    assert [(d.status, d.must) for d in followup] == [("missed", True)]
    late = deviations(fired)
    assert [(e.deviation.kind, e.deviation.rule, e.deviation.meeting_id) for e in late] == [
        ("late", "blekinge.followup_date", "m1")
    ]
    assert fired.case.deviations == [late[0].deviation]
    assert case.deviations == []  # the case handed in is left as it was


def test_firing_again_finds_the_same_deviation_and_adds_none() -> None:
    first = fire(followed_up_case("blekinge"), end_of_day(FOLLOWUP_ON))
    assert first.case is not None
    again = fire(first.case, at("2027-02-16 08:00"))
    assert again.case is not None
    assert [e.deviation.deviation_id for e in deviations(again)] == [
        e.deviation.deviation_id for e in deviations(first)
    ]
    assert len(again.case.deviations) == 1


def test_a_missed_should_deadline_is_no_deviation() -> None:
    fired = fire(followed_up_case("halland"), end_of_day(FOLLOWUP_ON))
    assert fired.case is not None
    assert [(d.status, d.must) for d in fired.case.deadlines if d.kind == "followup_due"] == [
        ("missed", False)
    ]
    assert deviations(fired) == []
    assert fired.case.deviations == []


def test_a_timer_firing_before_its_deadline_passed_re_arms_it_and_records_nothing() -> None:
    fired = fire(followed_up_case("blekinge"), at("2027-02-15 23:00"))
    assert deviations(fired) == []
    assert [(e.key, e.due_at) for e in fired.effects if isinstance(e, SetTimer)] == [
        ("deadline:followup_due:m1", end_of_day(FOLLOWUP_ON))
    ]


def test_a_closed_or_unknown_case_is_left_alone() -> None:
    case = followed_up_case("blekinge")
    case.status = "closed"
    assert fire(case, end_of_day(FOLLOWUP_ON)) == Fired()
    assert fire(None, end_of_day(FOLLOWUP_ON)) == Fired()


def test_the_registry_knows_deadline_timers() -> None:
    assert HANDLERS["deadline"] is bring_up_to_date
