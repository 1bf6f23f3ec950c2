"""What retention erases from a case document, and when."""

from __future__ import annotations

from datetime import date, timedelta

from scheduler.retention import erase, erase_due
from tests.scheduler.builders import COORDINATOR, add_meeting, at, make_case

RETENTION = timedelta(days=90)


def test_erasure_is_due_the_retention_after_closing_and_only_once() -> None:
    case = make_case("halland", date(2026, 11, 20), birth_date=date(2012, 12, 12))
    assert erase_due(case, RETENTION) is None
    case.status, case.closed_at = "closed", at("2026-12-18 10:00")
    assert erase_due(case, RETENTION) == at("2027-03-18 10:00")
    assert erase_due(erase(case, at("2027-03-18 10:00")), RETENTION) is None


def test_erasing_keeps_ids_organisations_and_times_and_drops_names_addresses_and_text() -> None:
    case = make_case("halland", date(2026, 11, 20), birth_date=date(2012, 12, 12))
    meeting = add_meeting(case, "m1", at("2026-12-17 13:00"), channels=("email", "letter"), status="held")
    meeting.questions = ["Hur går det hemma?"]
    meeting.online_url = "https://mote.example.se/rum"
    meeting.invitations["p0"].comment = "Kommer efter tre"
    case.status, case.closed_at = "closed", at("2026-12-18 10:00")

    erased = erase(case, at("2027-03-18 10:00"))

    assert erased.person.reference == case.person.reference and erased.person.birth_date is None
    assert (erased.coordinator.name, erased.coordinator.email) == ("", "")
    assert erased.organisations() == case.organisations() == {COORDINATOR.organisation}
    kept = erased.meetings["m1"]
    assert (kept.location, kept.purpose, kept.questions, kept.online_url) == ("", "", [], None)
    assert [(p.name, p.email, p.postal_address) for p in kept.participants.values()] == [("", None, None)] * 2
    assert kept.invitations["p0"].comment is None
    assert (kept.status, kept.starts_at, kept.kind) == (meeting.status, meeting.starts_at, meeting.kind)
    assert case.meetings["m1"].purpose, "the input is left as it was"
    assert erase(erased, at("2027-04-01 10:00")) == erased
