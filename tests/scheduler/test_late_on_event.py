"""A missed must is a deviation however it is noticed: by its timer, or by an event that comes first."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from scheduler.events import parse_event
from scheduler.planning import DeadlinePlanner
from scheduler.replay import replay
from tests import samples

CONFIG = Path(__file__).resolve().parents[2] / "config"


def planner() -> DeadlinePlanner:
    return DeadlinePlanner(load_rulebook(CONFIG), WorkingCalendar())


def held_with_followup(followup_on: str) -> dict[str, object]:
    return samples.event(
        "meeting.held",
        occurred_at="2026-12-17T15:00:00+01:00",
        meeting_id="m1",
        absent=[],
        responsible={
            "name": "Kim Koordinator",
            "email": "kim.koordinator@example.se",
            "organisation": "Testkommun",
        },
        followup_on=followup_on,
        actions=[
            {
                "action_id": "a1",
                "description": "Anpassad studiegång",
                "responsible_organisation": "Testskolan",
                "due_on": "2027-01-29",
            }
        ],
    )


def test_an_event_after_a_missed_must_records_one_late_deviation() -> None:
    # Blekinge: the plan's follow-up date is a must. Nothing is held by 2027-02-15; an event on 2027-02-20
    # notices that before any timer could.
    bodies = [
        samples.case_opened(),
        samples.consent_given(),
        samples.meeting_scheduled(),
        held_with_followup("2027-02-15"),
        samples.event("action.completed", occurred_at="2027-02-20T10:00:00+01:00", action_id="a1"),
    ]
    result = replay(
        [parse_event(body) for body in bodies], planner(), datetime.fromisoformat("2027-02-20T12:00:00+01:00")
    )
    assert result.case is not None
    followup = [d for d in result.case.deadlines if d.kind == "followup_due"]
    assert [(d.status, d.must) for d in followup] == [("missed", True)]
    late = [d for d in result.case.deviations if d.kind == "late"]
    assert [d.rule for d in late] == [followup[0].rule]


def test_a_should_that_is_missed_records_no_deviation() -> None:
    bodies = [
        samples.case_opened("hall-1", region="halland"),
        samples.consent_given("hall-1"),
    ]
    # Halland's 30 days from the noticed need (2026-11-20) are a should; no meeting by 2027-01-10.
    result = replay(
        [parse_event(body) for body in bodies], planner(), datetime.fromisoformat("2027-01-10T12:00:00+01:00")
    )
    assert result.case is not None
    assert [d.status for d in result.case.deadlines if d.kind == "meeting_due"] == ["missed"]
    assert result.case.deviations == []


def test_late_is_reportable_only_under_a_region_rule_that_names_its_own_missed_rules(tmp_path: Path) -> None:
    """RULES.md: a deviation is reportable only where the region's guideline names the situation an
    avvikelse. No shipped guideline names a missed deadline one, so Blekinge's missed follow-up date
    (001 "När uppföljning ska ske") is late and not reportable; a region file whose rule of kind
    `deviation` covers `late` makes the misses of its own `must` rules reportable, and only those."""
    replayed = [
        parse_event(body)
        for body in (
            samples.case_opened(discharge_notice_at="2026-11-10T10:00:00+01:00"),
            samples.consent_given(),
            samples.meeting_scheduled(),
            held_with_followup("2027-02-15"),
        )
    ]
    now = datetime.fromisoformat("2027-02-20T12:00:00+01:00")

    def late(config: Path) -> dict[str, tuple[str | None, bool]]:
        result = replay(replayed, DeadlinePlanner(load_rulebook(config), WorkingCalendar()), now)
        assert result.case is not None
        return {d.rule or "": (d.rule, d.reportable) for d in result.case.deviations if d.kind == "late"}

    shipped = late(CONFIG)
    assert shipped["blekinge.followup_date"] == ("blekinge.followup_date", False)
    assert shipped["default.invitation_after_discharge"] == ("default.invitation_after_discharge", False)

    shutil.copytree(CONFIG / "regions", tmp_path / "regions")
    blekinge = tmp_path / "regions" / "blekinge.toml"
    blekinge.write_text(
        blekinge.read_text(encoding="utf-8")
        + '\n[rules.guideline_not_followed]\nkind = "deviation"\ncovers = ["late"]\nreportable = true\n'
        'obligation = "must"\nphrase = "när riktlinjen inte följs"\n',
        encoding="utf-8",
    )
    reporting = late(tmp_path)
    assert reporting["blekinge.followup_date"] == ("blekinge.followup_date", True)
    # The national discharge rule is not the region's guideline: still sipvakt's, not reportable.
    assert reporting["default.invitation_after_discharge"] == ("default.invitation_after_discharge", False)
