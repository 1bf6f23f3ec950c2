"""What consent lets leave, and when: a consent that starts later, and a guardian's consent for a person
who is of age at the meeting. Pure: events replayed offline through the intake's own validation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from scheduler.accepted import accept_event
from scheduler.case import Case
from scheduler.planning import DeadlinePlanner
from scheduler.replay import replay
from tests import samples

CONFIG = Path(__file__).resolve().parents[2] / "config"
# Born 2008-12-10: 18 on 2026-12-10, a week before the sample meeting (2026-12-17). Serial 98x, like the
# test numbers Skatteverket hands out; Luhn-valid.
TURNS_18_IN_DECEMBER = "20081210-9817"


def run(bodies: list[dict[str, Any]], now: str) -> Case:
    rulebook = load_rulebook(CONFIG)
    events = [accept_event(body, rulebook.names()) for body in bodies]
    result = replay(events, DeadlinePlanner(rulebook, WorkingCalendar()), datetime.fromisoformat(now))
    assert result.case is not None and not result.rejected and not result.waiting
    return result.case


def kinds(case: Case) -> set[str]:
    return {warning.kind for warning in case.warnings}


def sent(case: Case) -> dict[str, str | None]:
    """When each e-mail invitation was sent; offline, no letter is ever marked posted."""
    meeting = case.meetings["m1"]
    return {
        pid: invitation.sent_at.isoformat() if invitation.sent_at else None
        for pid, invitation in meeting.invitations.items()
        if meeting.participants[pid].channel == "email"
    }


def consent_from(valid_from: str, given_by: str = "guardian") -> dict[str, Any]:
    return samples.consent_given(given_by=given_by, valid_from=valid_from, valid_to="2027-11-22")


def test_consent_that_starts_later_holds_the_invitations_and_warns_waiting_for_consent() -> None:
    """RULES.md "Decisions": consent that starts later holds the invitations until its first day
    (CONTRACT v1.1 warning `waiting_for_consent`); no `consent_missing` besides."""
    case = run(
        [samples.case_opened(), consent_from("2026-11-25"), samples.meeting_scheduled()],
        now="2026-11-24T16:00:00+01:00",
    )
    assert set(sent(case).values()) == {None}
    assert "waiting_for_consent" in kinds(case) and "consent_missing" not in kinds(case)


def test_held_invitations_leave_at_the_opening_of_the_consents_first_day() -> None:
    """CONTRACT v1.1 `waiting_for_consent`: the invitations leave at the opening of the consent's first day
    (08:00 Europe/Stockholm, the send window of config/regions/default.toml), by timer."""
    case = run(
        [samples.case_opened(), consent_from("2026-11-25"), samples.meeting_scheduled()],
        now="2026-11-25T12:00:00+01:00",
    )
    assert set(sent(case).values()) == {"2026-11-25T08:00:00+01:00"}
    assert "waiting_for_consent" not in kinds(case)
    # A letter posted Wednesday arrives Friday (two postal working days): 20 days before the meeting.
    assert case.meetings["m1"].notice_days == 20


def test_a_late_consent_shows_notice_too_short_with_its_reason() -> None:
    """Blekinge (001, "Sammankalla till SIP"): "minst tre veckor innan mötet äger rum"; counted from the
    consent's first day, the letter arrives too late, and the warning says why."""
    case = run(
        [samples.case_opened(), consent_from("2026-11-26"), samples.meeting_scheduled()],
        now="2026-11-24T12:00:00+01:00",
    )
    [warning] = [w for w in case.warnings if w.kind == "notice_too_short"]
    assert "2026-11-26" in warning.message and "samtycket" in warning.message
    assert case.meetings["m1"].notice_days == 17


def test_guardian_consent_does_not_cover_a_person_who_is_18_at_the_meeting() -> None:
    """Föräldrabalken 6 kap. 2 § (custody ends at 18); Blekinge (001, "Samtycke") and Västra Götaland (004,
    "Få samtycke": "Huvudregel: den unge/vårdnadshavare ger sitt/sina samtycke/n"): no invitation leaves."""
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    case = run(
        [opened, consent_from("2026-11-23"), samples.meeting_scheduled()], now="2026-11-24T12:00:00+01:00"
    )
    assert set(sent(case).values()) == {None}
    assert "guardian_consent_after_18" in kinds(case)


def test_the_persons_own_consent_releases_what_the_guardians_held() -> None:
    """CONTRACT v1.1 `guardian_consent_after_18`: consent `given_by` `adult` (or `representative`) arrives,
    and the invitations leave with it."""
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    own = consent_from("2026-11-24", given_by="adult") | {"occurred_at": "2026-11-24T10:00:00+01:00"}
    case = run(
        [opened, consent_from("2026-11-23"), samples.meeting_scheduled(), own],
        now="2026-11-24T12:00:00+01:00",
    )
    assert set(sent(case).values()) == {"2026-11-24T10:00:00+01:00"}
    assert "guardian_consent_after_18" not in kinds(case)


def test_guardian_consent_still_covers_a_meeting_before_the_18th_birthday() -> None:
    """Föräldrabalken 9 kap. 1 §: under 18 the person is a minor, and the guardian's consent counts."""
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    early = samples.meeting_scheduled(
        starts_at="2026-12-09T13:00:00+01:00", ends_at="2026-12-09T14:00:00+01:00"
    )
    case = run([opened, consent_from("2026-11-23"), early], now="2026-11-24T12:00:00+01:00")
    assert set(sent(case).values()) == {"2026-11-23T11:00:00+01:00"}
    assert "guardian_consent_after_18" not in kinds(case)


def test_a_meeting_moved_past_the_18th_birthday_keeps_its_invitations_and_warns() -> None:
    """README "Consent": invitations sent under a guardian's consent before the birthday stand; the case
    warns `guardian_consent_after_18` so that the coordinator asks the young person."""
    opened = samples.case_opened(person={"reference": "person-1", "personnummer": TURNS_18_IN_DECEMBER})
    early = samples.meeting_scheduled(
        starts_at="2026-12-09T13:00:00+01:00", ends_at="2026-12-09T14:00:00+01:00"
    )
    moved = samples.rescheduled("2026-12-17T13:00:00+01:00", "2026-12-17T14:00:00+01:00")
    case = run([opened, consent_from("2026-11-23"), early, moved], now="2026-11-25T12:00:00+01:00")
    # The update with the new time goes out at the move, not held; the first invitations stay sent.
    assert set(sent(case).values()) == {"2026-11-24T08:00:00+01:00"}
    first = {i.first_sent_at.isoformat() for i in case.meetings["m1"].invitations.values() if i.first_sent_at}
    assert first == {"2026-11-23T11:00:00+01:00"}
    [warning] = [w for w in case.warnings if w.kind == "guardian_consent_after_18"]
    assert "före 18-årsdagen" in warning.message
