"""Reminder policies: the defaults the rule files give, the coordinators' override layers on top, every error
of an override at once, and the policy's day counts written back into the rules the deadlines come from."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from calendars.workdays import WorkingCalendar
from config.region_rules import RegionRules
from config.reminder_policy import (
    POLICY_ORIGIN,
    InvalidPolicy,
    PolicyOverrides,
    apply_to_rules,
    check_override,
    deep_merge,
    resolve,
    rule_defaults,
    validate_policy,
)
from config.rule_schema import DayRule, SendWindowRule, SurveyRule
from config.rules import RuleBook, RuleFileError, load_rulebook
from scheduler.case import Case, Deadline
from scheduler.deadlines import compute_deadlines
from scheduler.planning import DeadlinePlanner
from tests.scheduler.builders import add_meeting, at, make_case

CONFIG = Path(__file__).resolve().parents[2] / "config"
BOOK = load_rulebook(CONFIG)
CALENDAR = WorkingCalendar()
# Monday 2026-11-23, the morning the invitations below leave.
NOW = at("2026-11-23 09:00")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copytree(CONFIG / "regions", tmp_path / "regions")
    return tmp_path


def write_region(config_dir: Path, name: str, body: str) -> Path:
    """A rule file with a valid head and the given tables under it."""
    path = config_dir / "regions" / f"{name}.toml"
    path.write_text(f'name = "Testland"\n[document]\ntitle = "Testriktlinje"\n{body}', encoding="utf-8")
    return path


def refusals(config_dir: Path) -> list[tuple[str, str, str]]:
    """Every problem the loader reports, as (file, key, reason); the test fails if it loads."""
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    return [(problem.file, problem.key, problem.reason) for problem in raised.value.problems]


def region(name: str = "blekinge") -> RegionRules:
    return BOOK.region(name)


# --- layers 1 and 2: the rule files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", BOOK.names())
def test_each_regions_default_policy_is_what_the_rule_files_say(name: str) -> None:
    resolved = resolve(region(name))
    assert resolved.ignored == ()
    policy = resolved.policy.model_dump(mode="json")
    assert policy == {
        "working_hours": {"start": "08:00:00", "end": "17:00:00"},
        "rsvp": {
            "enabled": True,
            "after": {"days": 7, "counting": "calendar"},
            "urgent_after": {"days": 1, "counting": "working"},
            "repeat_every_days": 3,
            "max_reminders": 2,
        },
        "escalation": {
            "before_meeting": {"days": 3, "counting": "working"},
            "urgent_before_meeting": {"days": 1, "counting": "working"},
        },
        "followup_call": {"enabled": True, "lead": {"days": 5, "counting": "working"}},
        "consent_expiry": {"enabled": True, "lead": {"days": 14, "counting": "calendar"}},
        "turns_18": {"enabled": True, "lead": {"days": 30, "counting": "calendar"}},
        "leaves_target_group": {"enabled": True, "lead": {"days": 30, "counting": "calendar"}},
        "action_due": {"enabled": True, "lead": {"days": 2, "counting": "working"}},
        "deviation": {"enabled": True},
    }


@pytest.mark.parametrize("name", BOOK.names())
def test_rule_backed_defaults_are_read_from_the_rules_themselves(name: str) -> None:
    # Not the same numbers by chance: each count is the region's rule of that kind.
    rules = region(name)
    defaults = rule_defaults(rules)
    for section, key, kind in [
        ("rsvp", "after", "rsvp_after"),
        ("rsvp", "urgent_after", "urgent_rsvp_after"),
        ("escalation", "before_meeting", "escalation_before_meeting"),
        ("escalation", "urgent_before_meeting", "urgent_escalation_before_meeting"),
        ("followup_call", "lead", "followup_call_lead"),
        ("consent_expiry", "lead", "consent_expiry_lead"),
    ]:
        found = rules.find(kind, DayRule)
        assert found is not None
        assert defaults[section][key] == {"days": found.rule.days, "counting": found.rule.counting}
    window = rules.find("send_window", SendWindowRule)
    assert window is not None
    assert defaults["working_hours"] == {"start": "08:00:00", "end": "17:00:00"}
    assert (window.rule.start, window.rule.end) == (time(8), time(17))


def test_a_rule_file_changes_the_default_policy_of_its_region(config_dir: Path) -> None:
    write_region(
        config_dir,
        "testland",
        """
[rules.rsvp_after]
days = 10
phrase = "svar inom tio dagar"

[rules.send_window]
start = 09:30:00
end = 15:00:00
phrase = "påminnelser mellan 09.30 och 15.00"

[reminder_policy.rsvp]
max_reminders = 4

[reminder_policy.deviation]
enabled = false
""",
    )
    policy = resolve(load_rulebook(config_dir).region("testland")).policy
    assert (policy.rsvp.after and policy.rsvp.after.days, policy.rsvp.max_reminders) == (10, 4)
    assert policy.rsvp.repeat_every_days == 3  # from default.toml, untouched
    assert (policy.working_hours.start, policy.working_hours.end) == (time(9, 30), time(15))
    assert policy.deviation.enabled is False


# --- layers 3 and 4: coordinators' overrides ------------------------------------------------------------


def test_a_region_override_then_a_case_override_stack_key_by_key() -> None:
    overrides = PolicyOverrides(
        region={"rsvp": {"after": {"days": 4}, "max_reminders": 3}, "turns_18": {"enabled": False}},
        case={
            "rsvp": {"after": {"counting": "working"}, "max_reminders": 1},
            "working_hours": {"start": "09:00"},
        },
    )
    resolved = resolve(region(), overrides)
    policy = resolved.policy
    assert resolved.ignored == ()
    # days from the region, counting from the case: layers merge per key, not per section.
    assert policy.rsvp.after is not None
    assert (policy.rsvp.after.days, policy.rsvp.after.counting) == (4, "working")
    assert policy.rsvp.max_reminders == 1  # the case wins over the region
    assert policy.rsvp.repeat_every_days == 3  # neither set it: the rule files' value
    assert policy.turns_18.enabled is False  # the region's, with the case silent on it
    assert policy.turns_18.lead is not None and policy.turns_18.lead.days == 30
    assert (policy.working_hours.start, policy.working_hours.end) == (time(9), time(17))


def test_the_region_layer_alone_applies_to_every_case_of_the_region() -> None:
    policy = resolve(region(), PolicyOverrides(region={"rsvp": {"repeat_every_days": 5}})).policy
    assert policy.rsvp.repeat_every_days == 5
    assert resolve(region()).policy.rsvp.repeat_every_days == 3


def test_an_override_that_no_longer_fits_is_ignored_and_the_rest_applies() -> None:
    # The case's start of working hours is after the end the layers under it give (17:00).
    overrides = PolicyOverrides(
        region={"rsvp": {"max_reminders": 4}}, case={"working_hours": {"start": "18:00"}}
    )
    resolved = resolve(region(), overrides)
    assert resolved.ignored == ("case",)
    assert resolved.policy.working_hours.start == time(8)
    assert resolved.policy.rsvp.max_reminders == 4  # the region layer still applies


def test_an_ignored_region_layer_leaves_the_case_layer_on_the_rule_files() -> None:
    overrides = PolicyOverrides(
        region={"working_hours": {"end": "07:00"}}, case={"consent_expiry": {"lead": {"days": 30}}}
    )
    resolved = resolve(region(), overrides)
    assert resolved.ignored == ("region",)
    assert resolved.policy.working_hours.end == time(17)
    assert resolved.policy.consent_expiry.lead is not None
    assert resolved.policy.consent_expiry.lead.days == 30


def test_both_layers_may_be_ignored() -> None:
    overrides = PolicyOverrides(region={"rsvp": {"max_reminders": 99}}, case={"rsvp": {"after": 5}})
    resolved = resolve(region(), overrides)
    assert resolved.ignored == ("region", "case")
    assert resolved.policy == resolve(region()).policy


def test_resolving_changes_neither_the_overrides_nor_the_rule_files() -> None:
    region_layer: dict[str, Any] = {"rsvp": {"after": {"days": 2}}}
    case_layer: dict[str, Any] = {"rsvp": {"after": {"counting": "working"}}}
    before = rule_defaults(region())
    resolve(region(), PolicyOverrides(region=region_layer, case=case_layer))
    assert region_layer == {"rsvp": {"after": {"days": 2}}}
    assert case_layer == {"rsvp": {"after": {"counting": "working"}}}
    assert rule_defaults(region()) == before


def test_deep_merge_merges_tables_and_replaces_everything_else() -> None:
    base: dict[str, Any] = {"a": {"b": 1, "c": {"d": 2}}, "e": 3, "f": {"g": 4}, "i": {"j": 8}}
    top: dict[str, Any] = {"a": {"c": {"x": 5}}, "e": {"h": 6}, "f": 7}
    merged = deep_merge(base, top)
    assert merged == {"a": {"b": 1, "c": {"d": 2, "x": 5}}, "e": {"h": 6}, "f": 7, "i": {"j": 8}}
    # The result shares no table with its inputs, whether the table came from below or from on top.
    merged["a"]["c"]["d"] = 99
    merged["e"]["h"] = 99
    merged["i"]["j"] = 99
    assert base == {"a": {"b": 1, "c": {"d": 2}}, "e": 3, "f": {"g": 4}, "i": {"j": 8}}
    assert top == {"a": {"c": {"x": 5}}, "e": {"h": 6}, "f": 7}


# --- checking an override -------------------------------------------------------------------------------


def errors_of(base: dict[str, Any], override: object) -> dict[str, str]:
    with pytest.raises(InvalidPolicy) as raised:
        check_override(base, override)
    found = {error.location: error.message for error in raised.value.errors}
    # Each error once: a location listed twice would hide one of them in the dict above.
    assert len(found) == len(raised.value.errors)
    return found


def test_check_override_lists_every_error_at_once_with_its_location() -> None:
    override = {
        "rsvp": {
            "after": {"days": -1, "counting": "weekdays"},
            "max_reminders": 11,
            "repeat_every_days": 0,
            "colour": "red",
        },
        "working_hours": {"start": "25:00"},
        "escalation": "soon",
        "reminders": True,
    }
    found = errors_of(rule_defaults(region()), override)
    assert set(found) == {
        "rsvp.after.days",
        "rsvp.after.counting",
        "rsvp.max_reminders",
        "rsvp.repeat_every_days",
        # Unknown keys, each at the table that holds it: a caller's key is not repeated.
        "rsvp",
        "working_hours.start",
        "escalation",
        "",
    }
    assert "greater than or equal to 0" in found["rsvp.after.days"]
    assert "'calendar' or 'working'" in found["rsvp.after.counting"]
    assert "less than or equal to 10" in found["rsvp.max_reminders"]
    assert "greater than or equal to 1" in found["rsvp.repeat_every_days"]
    assert "time" in found["working_hours.start"]
    assert "object" in found["escalation"]
    assert "no policy has" in found["rsvp"] and "no policy has" in found[""]
    assert not any("colour" in message or "reminders" in message for message in found.values())


def test_end_before_start_is_listed_with_the_errors_of_other_sections() -> None:
    # Start and end can only be compared once both are times, so this error stands beside other
    # sections' errors rather than beside a bad time in the same table.
    found = errors_of(
        rule_defaults(region()), {"working_hours": {"start": "18:00"}, "turns_18": {"lead": {"days": 400}}}
    )
    assert found == {
        "working_hours": "end must be after start",
        "turns_18.lead.days": "Input should be less than or equal to 365",
    }


def test_an_override_is_checked_on_top_of_the_layers_under_it() -> None:
    base = deep_merge(rule_defaults(region()), {"working_hours": {"end": "20:00"}})
    # 18:00 fits under a region override that ends the day at 20:00, not under the rule files' 17:00.
    assert check_override(base, {"working_hours": {"start": "18:00"}}) == {
        "working_hours": {"start": "18:00"}
    }
    assert set(errors_of(rule_defaults(region()), {"working_hours": {"start": "18:00"}})) == {"working_hours"}


@pytest.mark.parametrize("override", [[], ["rsvp"], "rsvp", 7, None, True])
def test_an_override_that_is_not_an_object_is_refused(override: object) -> None:
    assert errors_of(rule_defaults(region()), override) == {"": "a policy override is a JSON object"}


@pytest.mark.parametrize(
    "override",
    [
        {},
        {"rsvp": {"enabled": False}},
        {"rsvp": {"after": None}},
        {"escalation": {"before_meeting": {"days": 0, "counting": "calendar"}}},
        {"working_hours": {"start": "07:00", "end": "19:30"}},
    ],
)
def test_a_valid_override_comes_back_as_given(override: dict[str, Any]) -> None:
    assert check_override(rule_defaults(region()), override) == override


# --- the policy in the rules: deadlines move with it ----------------------------------------------------


def invited_case(name: str = "blekinge", *, urgent: bool = False) -> Case:
    """A case whose meeting on Thursday 2026-12-17 was called by e-mail on Monday 2026-11-23."""
    case = make_case(name, date(2026, 11, 20), urgent=urgent)
    add_meeting(case, "m1", at("2026-12-17 13:00"), sent_at=NOW)
    return case


def rsvp_due(case: Case, rules: RegionRules) -> list[Deadline]:
    return [d for d in compute_deadlines(case, rules, CALENDAR, NOW).deadlines if d.kind == "rsvp_due"]


def under(overrides: PolicyOverrides, name: str = "blekinge") -> RegionRules:
    return apply_to_rules(region(name), resolve(region(name), overrides).policy)


def test_the_rule_files_policy_leaves_the_rules_as_they_are() -> None:
    assert apply_to_rules(region(), resolve(region()).policy) is region()
    [deadline] = rsvp_due(invited_case(), region())
    # Seven calendar days after the e-mail arrived on 2026-11-23.
    assert (deadline.due, deadline.rule) == (date(2026, 11, 30), "default.rsvp_after")


@pytest.mark.parametrize(
    ("after", "due"),
    [
        ({"days": 2, "counting": "calendar"}, date(2026, 11, 25)),
        # Five working days from Monday: the next Monday, where five calendar days would be Saturday.
        ({"days": 5, "counting": "working"}, date(2026, 11, 30)),
        ({"days": 5, "counting": "calendar"}, date(2026, 11, 28)),
        # Later than the escalation day (Monday 2026-12-14, three working days before the meeting): capped.
        ({"days": 30, "counting": "calendar"}, date(2026, 12, 14)),
    ],
)
def test_a_policy_moves_the_rsvp_deadline_and_cites_itself(after: dict[str, Any], due: date) -> None:
    [deadline] = rsvp_due(invited_case(), under(PolicyOverrides(case={"rsvp": {"after": after}})))
    assert (deadline.due, deadline.rule) == (due, f"{POLICY_ORIGIN}.rsvp_after")


def test_the_planner_reports_the_deadline_under_its_overrides() -> None:
    planner = DeadlinePlanner(BOOK, CALENDAR)
    case = invited_case()
    plain = [d for d in planner.report(case, NOW).deadlines if d.kind == "rsvp_due"]
    moved = planner.with_overrides(
        PolicyOverrides(case={"rsvp": {"after": {"days": 2, "counting": "calendar"}}})
    ).report(case, NOW)
    [deadline] = [d for d in moved.deadlines if d.kind == "rsvp_due"]
    assert [(d.due, d.rule) for d in plain] == [(date(2026, 11, 30), "default.rsvp_after")]
    assert (deadline.due, deadline.rule) == (date(2026, 11, 25), "reminder_policy.rsvp_after")
    assert moved.meetings["m1"].rsvp_due_by_participant == {"p0": date(2026, 11, 25)}


def test_an_ignored_case_layer_moves_nothing_and_warns() -> None:
    planner = DeadlinePlanner(BOOK, CALENDAR).with_overrides(
        PolicyOverrides(
            case={"rsvp": {"after": {"days": 2, "counting": "calendar"}}, "working_hours": {"start": "18:00"}}
        )
    )
    case = invited_case()
    [deadline] = [d for d in planner.report(case, NOW).deadlines if d.kind == "rsvp_due"]
    assert (deadline.due, deadline.rule) == (date(2026, 11, 30), "default.rsvp_after")
    assert [w.kind for w in planner.case_rules(case).warnings] == ["reminder_policy_ignored"]


def test_a_changed_rule_keeps_its_obligation() -> None:
    # Västra Götaland makes answering a duty but gives no number: the days are sipvakt's, a should, and
    # moved by a coordinator they stay one.
    [before] = rsvp_due(invited_case("vastra_gotaland"), region("vastra_gotaland"))
    assert (before.rule, before.must) == ("vastra_gotaland.rsvp_after", False)
    moved = under(PolicyOverrides(region={"rsvp": {"after": {"days": 3}}}), "vastra_gotaland")
    [after] = rsvp_due(invited_case("vastra_gotaland"), moved)
    assert (after.due, after.rule, after.must) == (date(2026, 11, 26), "reminder_policy.rsvp_after", False)


def test_the_urgent_count_moves_only_the_urgent_deadline() -> None:
    moved = under(PolicyOverrides(case={"rsvp": {"urgent_after": {"days": 3}}}))
    [normal] = rsvp_due(invited_case(), moved)
    [urgent] = rsvp_due(invited_case(urgent=True), moved)
    assert (normal.due, normal.rule) == (date(2026, 11, 30), "default.rsvp_after")
    assert (urgent.due, urgent.rule) == (date(2026, 11, 26), "reminder_policy.urgent_rsvp_after")


def test_a_null_count_switches_its_rule_off() -> None:
    moved = under(PolicyOverrides(region={"rsvp": {"after": None}}))
    assert moved.find("rsvp_after", DayRule) is None
    assert rsvp_due(invited_case(), moved) == []


def test_a_working_day_count_never_rolls() -> None:
    moved = under(PolicyOverrides(case={"consent_expiry": {"lead": {"days": 10, "counting": "working"}}}))
    lead = moved.find("consent_expiry_lead", DayRule)
    assert lead is not None
    assert (lead.rule.days, lead.rule.counting, lead.rule.rolls) == (10, "working", False)
    assert lead.qualified_name == "reminder_policy.consent_expiry_lead"


def test_a_count_switched_to_working_days_stops_rolling(config_dir: Path) -> None:
    # A calendar-day rule that rolls, made a working-day count by a coordinator: a working-day count never
    # ends on a holiday, and the rule file's schema forbids the pair, so the rule must stop rolling.
    write_region(
        config_dir,
        "testland",
        '[rules.rsvp_after]\nrolls = true\nphrase = "svar inom sju dagar, helgdag flyttar"\n',
    )
    rules = load_rulebook(config_dir).region("testland")
    before = rules.find("rsvp_after", DayRule)
    assert before is not None and before.rule.rolls
    moved = apply_to_rules(
        rules, resolve(rules, PolicyOverrides(case={"rsvp": {"after": {"counting": "working"}}})).policy
    )
    after = moved.find("rsvp_after", DayRule)
    assert after is not None
    assert (after.rule.days, after.rule.counting, after.rule.rolls) == (7, "working", False)
    DayRule.model_validate(after.rule.model_dump())


def test_the_escalation_day_and_working_hours_follow_the_policy() -> None:
    overrides = PolicyOverrides(
        region={"escalation": {"before_meeting": {"days": 1}}, "working_hours": {"start": "07:00"}}
    )
    moved = under(overrides)
    case = invited_case()
    times = compute_deadlines(case, moved, CALENDAR, NOW).meetings["m1"]
    plain = compute_deadlines(case, region(), CALENDAR, NOW).meetings["m1"]
    assert (plain.escalation_on, times.escalation_on) == (date(2026, 12, 14), date(2026, 12, 16))
    window = moved.find("send_window", SendWindowRule)
    assert window is not None
    assert (window.rule.start, window.rule.end, window.origin) == (time(7), time(17), POLICY_ORIGIN)


# --- what a rule file may say in [reminder_policy] ------------------------------------------------------


def test_a_rule_backed_key_in_a_rule_files_policy_is_refused_with_file_and_key(config_dir: Path) -> None:
    path = write_region(
        config_dir,
        "testland",
        '[reminder_policy.rsvp]\nafter = { days = 2, counting = "calendar" }\n'
        '[reminder_policy.followup_call]\nlead = { days = 1, counting = "working" }\n',
    )
    found = refusals(config_dir)
    assert (
        str(path),
        "reminder_policy.rsvp.after",
        "set by the rule of kind 'rsvp_after'; change that rule instead",
    ) in found
    assert (
        str(path),
        "reminder_policy.followup_call.lead",
        "set by the rule of kind 'followup_call_lead'; change that rule instead",
    ) in found
    assert len(found) == 2, found


def test_working_hours_in_a_rule_files_policy_are_refused(config_dir: Path) -> None:
    path = write_region(config_dir, "testland", "[reminder_policy.working_hours]\nstart = 09:00:00\n")
    assert [(file, key) for file, key, _ in refusals(config_dir)] == [
        (str(path), "reminder_policy.working_hours")
    ]


def test_a_bad_value_in_a_rule_files_policy_is_refused(config_dir: Path) -> None:
    path = write_region(
        config_dir, "testland", '[reminder_policy.rsvp]\nmax_reminders = 11\ncolour = "red"\n'
    )
    assert sorted((file, key) for file, key, _ in refusals(config_dir)) == [
        (str(path), "reminder_policy.rsvp.colour"),
        (str(path), "reminder_policy.rsvp.max_reminders"),
    ]


def test_a_region_inherits_the_policy_table_of_the_region_it_inherits_from(config_dir: Path) -> None:
    write_region(config_dir, "parent", "[reminder_policy.rsvp]\nmax_reminders = 5\nrepeat_every_days = 4\n")
    child = config_dir / "regions" / "child.toml"
    child.write_text(
        'name = "Barnland"\ninherits = "parent"\n[document]\ntitle = "B"\n'
        "[reminder_policy.rsvp]\nmax_reminders = 1\n",
        encoding="utf-8",
    )
    book: RuleBook = load_rulebook(config_dir)
    policy = resolve(book.region("child")).policy
    assert (policy.rsvp.max_reminders, policy.rsvp.repeat_every_days) == (1, 4)
    assert validate_policy(rule_defaults(book.region("parent"))).rsvp.max_reminders == 5


# --- the survey rule ------------------------------------------------------------------------------------

SURVEY = '[rules.survey]\nkind = "survey"\nobligation = "should"\nphrase = "fyll i en SIP-enkät"\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://enkat.example.se/sip",
        "ftp://enkat.example.se/sip",
        "enkat.example.se/sip",
        "https://",
        "https:///sip",
        "https://enkat example.se/sip",
        "javascript:alert(1)",
    ],
)
def test_a_survey_url_that_is_not_https_is_refused(config_dir: Path, url: str) -> None:
    path = write_region(config_dir, "testland", f"{SURVEY}url = {url!r}\n".replace("'", '"'))
    assert [(file, key) for file, key, _ in refusals(config_dir)] == [(str(path), "rules.survey.url")]


@pytest.mark.parametrize("url", ["https://enkat.example.se/sip", "https://enkat.example.se", None])
def test_a_survey_with_an_https_url_or_none_loads(config_dir: Path, url: str | None) -> None:
    write_region(config_dir, "testland", SURVEY + (f'url = "{url}"\n' if url else ""))
    survey = load_rulebook(config_dir).region("testland").find("survey", SurveyRule)
    assert survey is not None and survey.rule.url == url


def test_an_override_is_read_strictly_no_number_from_text_no_flag_from_a_word() -> None:
    base = rule_defaults(BOOK.region("blekinge"))
    with pytest.raises(InvalidPolicy) as raised:
        check_override(base, {"rsvp": {"max_reminders": "2", "enabled": "yes", "repeat_every_days": 2.5}})
    assert {error.location for error in raised.value.errors} == {
        "rsvp.max_reminders",
        "rsvp.enabled",
        "rsvp.repeat_every_days",
    }
