"""The digest's pure parts: on which days and at what time it goes out, and what each coordinator's lists
hold."""

from __future__ import annotations

from datetime import date, time

from calendars.workdays import WorkingCalendar
from scheduler.case import ContactInfo, Deadline
from scheduler.digest import DigestSchedule, NewDeviation, collect
from tests.scheduler.builders import COORDINATOR, add_meeting, at, make_case

SCHEDULE = DigestSchedule(WorkingCalendar(), time(8, 0))
DAY = date(2026, 11, 24)
NOW = at("2026-11-24 08:00")


def test_the_next_digest_is_today_before_eight_on_a_working_day_else_the_next_working_day() -> None:
    assert SCHEDULE.next_day(at("2026-11-24 07:59")) == date(2026, 11, 24)
    assert SCHEDULE.next_day(at("2026-11-24 08:00")) == date(2026, 11, 25)
    assert SCHEDULE.next_day(at("2026-11-27 09:00")) == date(2026, 11, 30)  # Friday: Monday
    assert SCHEDULE.next_day(at("2026-12-23 12:00")) == date(2026, 12, 28)  # over Christmas
    assert SCHEDULE.next_day(at("2026-12-30 12:00")) == date(2027, 1, 4)  # over New Year
    assert SCHEDULE.next_day(at("2027-06-18 12:00")) == date(2027, 6, 21)  # Friday before Midsummer Eve
    assert SCHEDULE.next_day(at("2027-06-24 12:00")) == date(2027, 6, 28)  # Midsummer Eve is not working


def test_the_sending_time_is_stockholm_time_in_winter_and_in_summer() -> None:
    assert SCHEDULE.due_at(date(2026, 11, 24)).isoformat() == "2026-11-24T08:00:00+01:00"
    assert SCHEDULE.due_at(date(2027, 6, 21)).utcoffset() == at("2027-06-21 08:00").utcoffset()
    assert SCHEDULE.due_at(date(2027, 6, 21)) == at("2027-06-21 08:00")


def test_a_timer_sends_only_on_its_own_working_day_and_a_late_one_catches_up_on_the_next() -> None:
    assert SCHEDULE.sends_on(DAY, at("2026-11-24 08:00"))
    assert SCHEDULE.sends_on(DAY, at("2026-11-24 16:00"))  # late, but the same day
    assert not SCHEDULE.sends_on(DAY, at("2026-11-25 08:00"))
    assert not SCHEDULE.sends_on(date(2026, 12, 24), at("2026-12-24 08:00"))
    assert SCHEDULE.catch_up_day(at("2026-11-25 10:00")) == date(2026, 11, 25)
    assert SCHEDULE.catch_up_day(at("2026-12-24 10:00")) == date(2026, 12, 28)


def test_deadlines_from_today_through_a_week_ahead_that_are_still_pending() -> None:
    case = make_case("blekinge", date(2026, 11, 20))
    for kind, due, status in (
        ("yesterday", date(2026, 11, 23), "pending"),
        ("today", date(2026, 11, 24), "pending"),
        ("met", date(2026, 11, 26), "met"),
        ("in_seven_days", date(2026, 12, 1), "pending"),
        ("in_eight_days", date(2026, 12, 2), "pending"),
        # The 18th birthday would give away the birth date: the case shows it, the mail does not.
        ("turns_18", date(2026, 11, 25), "pending"),
    ):
        case.deadlines.append(Deadline(kind=kind, due=due, status=status, rule=f"blekinge.{kind}"))
    [digest] = collect(DAY, NOW, [case], []).values()
    assert [(d.kind, d.due, d.rule) for d in digest.deadlines] == [
        ("today", date(2026, 11, 24), "blekinge.today"),
        ("in_seven_days", date(2026, 12, 1), "blekinge.in_seven_days"),
    ]


def test_unanswered_invitations_of_upcoming_scheduled_meetings_only() -> None:
    case = make_case("blekinge", date(2026, 11, 20))
    sent = at("2026-11-02 09:00")
    upcoming = add_meeting(case, "m-upcoming", at("2026-12-10 13:00"), channels=("email",) * 4, sent_at=sent)
    upcoming.invitations["p1"].status = "accepted"
    upcoming.invitations["p2"].status = "unanswered"
    upcoming.invitations["p3"].status = "pending"  # not sent yet: nobody has been asked
    add_meeting(case, "m-past", at("2026-11-24 07:00"), sent_at=sent)
    add_meeting(case, "m-cancelled", at("2026-12-11 13:00"), sent_at=sent, status="cancelled")
    [digest] = collect(DAY, NOW, [case], []).values()
    assert [(i.meeting_id, i.participant, i.status) for i in digest.invitations] == [
        ("m-upcoming", "Deltagare 0", "sent"),
        ("m-upcoming", "Deltagare 2", "unanswered"),
    ]


def test_one_digest_per_coordinator_across_cases_and_spellings_none_for_closed_or_empty_cases() -> None:
    first = make_case("blekinge", date(2026, 11, 20)).model_copy(update={"case_id": "a-1"})
    second = make_case("halland", date(2026, 11, 20)).model_copy(
        update={
            "case_id": "a-2",
            "coordinator": COORDINATOR.model_copy(update={"email": "Samordnare@Example.org"}),
        }
    )
    closed = make_case("blekinge", date(2026, 11, 20)).model_copy(
        update={
            "case_id": "a-3",
            "status": "closed",
            "coordinator": ContactInfo(
                name="Stängd", email="closed@example.org", organisation="Exempelkommun"
            ),
        }
    )
    quiet = make_case("blekinge", date(2026, 11, 20)).model_copy(
        update={
            "case_id": "a-4",
            "coordinator": ContactInfo(name="Tyst", email="quiet@example.org", organisation="Exempelkommun"),
        }
    )
    deviations = [
        NewDeviation(f"dev-{case_id}", case_id, "late", at("2026-11-23 17:00"))
        for case_id in ("a-1", "a-2", "a-3", "unknown")
    ]
    digests = collect(DAY, NOW, [first, second, closed, quiet], deviations)
    assert list(digests) == ["samordnare@example.org"]
    assert [d.case_id for d in digests["samordnare@example.org"].deviations] == ["a-1", "a-2"]
