"""Loading the region rule files: the shipped files, inheritance, a user's new region, and every error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.rule_schema import DayRule, MeetingLengthRule, NoticeRule, TargetGroupRule
from config.rules import RuleFileError, load_rulebook

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copytree(CONFIG / "regions", tmp_path / "regions")
    return tmp_path


def write(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / "regions" / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rule_files_load() -> None:
    book = load_rulebook(CONFIG)
    assert book.names() == ["blekinge", "dalarna", "halland", "jonkoping", "vastra_gotaland"]
    notice = book.region("blekinge").find("minimum_notice", NoticeRule)
    assert notice is not None and notice.rule.days == 21 and notice.must
    assert notice.source.seed == "001_567d3543605ffdcd.txt"
    halland = book.region("halland").find("meeting_within", DayRule)
    assert halland is not None and halland.qualified_name == "halland.meeting_within_days"
    assert not halland.must
    vg = book.region("vastra_gotaland")
    assert vg.find("target_group", TargetGroupRule) is not None
    # "3 × 20 min" is a suggested structure, not a limit on a meeting's length.
    assert vg.find("meeting_max_duration", MeetingLengthRule) is None


def test_an_override_keeps_inherited_numbers_and_cites_its_own_document() -> None:
    """Jönköping (000): "samverka skyndsamt" quotes its own duty; the 3 working days stay sipvakt's."""
    book = load_rulebook(CONFIG)
    urgent = book.region("jonkoping").find("urgent_meeting_within", DayRule)
    assert urgent is not None
    assert (urgent.rule.days, urgent.rule.counting, urgent.must) == (3, "working", False)
    assert urgent.qualified_name == "jonkoping.urgent_meeting_within"
    assert urgent.source.seed == "000_048d4ee2c9f821e4.txt"
    assert urgent.number_source == book.region("default").document.as_source()


def test_a_user_added_region_file_works(config_dir: Path) -> None:
    write(
        config_dir,
        "varmland",
        """
name = "Värmland"

[document]
title = "Exempelriktlinje för SIP"
valid_from = 2025-01-01

[rules.urgent_within_ten_days]
kind = "meeting_within"
days = 10
counting = "calendar"
rolls = true
obligation = "must"
phrase = "skyndsamt, inom tio dagar"
""",
    )
    book = load_rulebook(config_dir)
    assert "varmland" in book.names()
    rule = book.region("varmland").find("meeting_within", DayRule)
    assert rule is not None and rule.qualified_name == "varmland.urgent_within_ten_days" and rule.rule.rolls
    assert book.region("varmland").chain == ("varmland", "default")


def test_a_region_may_inherit_from_another_region(config_dir: Path) -> None:
    write(
        config_dir,
        "karlskrona",
        'name = "Karlskrona"\ninherits = "blekinge"\n[document]\ntitle = "Lokal rutin"\n',
    )
    region = load_rulebook(config_dir).region("karlskrona")
    assert region.chain == ("karlskrona", "blekinge", "default")
    assert region.find("minimum_notice", NoticeRule) is not None


BAD_FILES = [
    (
        "missing number",
        '[rules.meeting_within_days]\nkind = "meeting_within"\ncounting = "calendar"\nrolls = false\n'
        'obligation = "should"\nphrase = "inom"\n',
        "rules.meeting_within_days.days",
        "missing key",
    ),
    (
        "negative days",
        '[rules.meeting_within_days]\nkind = "meeting_within"\ndays = -3\ncounting = "calendar"\n'
        'rolls = false\nobligation = "should"\nphrase = "inom"\n',
        "rules.meeting_within_days.days",
        "must be 0 or more",
    ),
    (
        "unknown key",
        '[rules.meeting_within_days]\nkind = "meeting_within"\ndays = 3\ncounting = "calendar"\n'
        'rolls = false\nobligation = "should"\nphrase = "inom"\ndeadline = 4\n',
        "rules.meeting_within_days.deadline",
        "unknown key",
    ),
    (
        "bad date",
        "",
        "document.valid_to",
        "not a valid date",
    ),
]


@pytest.mark.parametrize(("label", "rules", "key", "reason"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_an_invalid_file_names_file_key_and_reason(
    config_dir: Path, label: str, rules: str, key: str, reason: str
) -> None:
    valid_to = '"2026-02-30"' if label == "bad date" else "2027-01-01"
    path = write(
        config_dir,
        "testland",
        f'name = "Testland"\n[document]\ntitle = "Testriktlinje"\nvalid_to = {valid_to}\n{rules}',
    )
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    lines = str(raised.value).splitlines()[1:]
    assert any(line.startswith(f"{path}: {key}: ") and reason in line for line in lines), lines


def test_every_error_of_every_file_is_reported_at_once(config_dir: Path) -> None:
    write(
        config_dir,
        "first",
        'name = "Ett"\ninherits = "nowhere"\n[document]\ntitle = "A"\nvalid_from = 2026-05-01\n'
        "valid_to = 2026-04-01\n",
    )
    write(
        config_dir,
        "second",
        'name = "Två"\n[document]\ntitle = "B"\n[rules.rsvp_after]\ndays = -1\n'
        '[rules.odd]\nkind = "sometime"\nobligation = "must"\nphrase = "x"\n',
    )
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    message = str(raised.value)
    assert "first.toml: inherits: unknown region 'nowhere'" in message
    assert "first.toml: document: valid_to is before valid_from" in message
    assert "second.toml: rules.rsvp_after.days: must be 0 or more" in message
    assert "second.toml: rules.rsvp_after.phrase: an override must quote its own document's phrase" in message
    assert "second.toml: rules.odd.kind: unknown kind 'sometime'" in message
    assert len(raised.value.problems) == len(message.splitlines()) - 1


def test_an_override_may_not_change_a_kind_and_two_rules_of_one_kind_conflict(config_dir: Path) -> None:
    write(
        config_dir,
        "third",
        'name = "Tre"\n[document]\ntitle = "C"\n'
        '[rules.rsvp_after]\nkind = "postal_delay"\nphrase = "y"\n'
        '[rules.second_rsvp]\nkind = "urgent_meeting_within"\ndays = 1\ncounting = "working"\nrolls = false\n'
        'obligation = "must"\nphrase = "z"\n',
    )
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    message = str(raised.value)
    assert "third.toml: rules.rsvp_after.kind: an override cannot change the kind" in message
    assert (
        "third.toml: rules.second_rsvp.kind: a second enabled rule of kind 'urgent_meeting_within'" in message
    )


def test_a_file_that_is_not_toml_is_reported(config_dir: Path) -> None:
    write(config_dir, "broken", "name = \n")
    with pytest.raises(RuleFileError, match=r"broken\.toml: \(file\): not valid TOML"):
        load_rulebook(config_dir)


def test_a_missing_default_is_reported(config_dir: Path) -> None:
    (config_dir / "regions" / "default.toml").unlink()
    with pytest.raises(RuleFileError, match=r"default\.toml: \(file\): file not found"):
        load_rulebook(config_dir)


def test_a_number_no_source_gives_is_refused_as_a_must(config_dir: Path) -> None:
    """RULES.md: "A number that no source gives is always a `should` … even where a region's own rule
    names the duty" — Blekinge (001) says "Lagstiftningen har inte närmare specificerat vad som menas med
    skyndsamt", so its urgent rule may quote "ska påbörjas skyndsamt" but not make sipvakt's days a must."""
    write(
        config_dir,
        "strict",
        'name = "Strikt"\n[document]\ntitle = "S"\n'
        '[rules.urgent_meeting_within]\nobligation = "must"\nphrase = "ska påbörjas skyndsamt"\n'
        '[rules.rsvp_after]\nobligation = "must"\nphrase = "svara inom fem dagar"\ndays = 5\n',
    )
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    problems = [(Path(p.file).name, p.key) for p in raised.value.problems]
    # The override that brings its own number (rsvp_after days = 5) may be a must; the other may not.
    assert problems == [("strict.toml", "rules.urgent_meeting_within.obligation")]
    assert "sipvakt's default" in raised.value.problems[0].reason


def test_every_rule_carries_the_source_of_its_number() -> None:
    """An override that only quotes its own phrase keeps the inherited number, and with it the number's
    source: Blekinge's "ska påbörjas skyndsamt" (001) has sipvakt's 3 working days; Halland's "30 dagar"
    (002) is the leaflet's own; the discharge rule's three days come from lag (2017:612)."""
    book = load_rulebook(CONFIG)
    sipvakt = book.region("default").document.as_source()
    blekinge = book.region("blekinge").rules["urgent_meeting_within"]
    assert blekinge.source.seed == "001_567d3543605ffdcd.txt"
    assert (blekinge.number_source, blekinge.must) == (sipvakt, False)
    halland = book.region("halland").rules["meeting_within_days"]
    assert halland.number_source is not None and halland.number_source.seed == "002_9a31e25deb1c6efa.txt"
    discharge = book.region("halland").rules["invitation_after_discharge"]
    assert discharge.number_source is not None and "2017:612" in (discharge.number_source.reference or "")
    assert book.region("halland").rules["caller_is_responsible"].number_source is None
    for region in book.all_rules():
        for rule in region.rules.values():
            if rule.number_source == sipvakt:
                assert rule.rule.obligation == "should", rule.qualified_name


def test_a_deviation_rule_needs_absent_exactly_with_no_show_and_one_rule_per_kind(config_dir: Path) -> None:
    write(
        config_dir,
        "dev",
        'name = "Avvikelser"\n[document]\ntitle = "D"\n'
        '[rules.a]\nkind = "deviation"\ncovers = ["no_show"]\nreportable = true\nobligation = "must"\n'
        'phrase = "x"\n'
        '[rules.b]\nkind = "deviation"\ncovers = ["action_not_done"]\nreportable = true\nabsent = "invited"\n'
        'obligation = "must"\nphrase = "y"\n'
        '[rules.c]\nkind = "deviation"\ncovers = ["no_response"]\nreportable = true\nobligation = "must"\n'
        'phrase = "z"\n'
        '[rules.d]\nkind = "deviation"\ncovers = ["no_response"]\nreportable = true\nobligation = "must"\n'
        'phrase = "w"\n',
    )
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(config_dir)
    message = str(raised.value)
    assert "dev.toml: rules.a: absent is required with no_show in covers, and only then" in message
    assert "dev.toml: rules.b: absent is required with no_show in covers, and only then" in message
    assert "dev.toml: rules.d.covers: 'no_response' is already covered by dev.c" in message


def test_each_deviation_kind_has_the_regions_reportable_rule_or_sipvakts_escalation() -> None:
    """Halland (002) names "att någon representant trots kallelse inte kommit" and "att någon del av
    planen inte följts" avvikelser; VG (004) "Insatser/åtgärder som överenskommits om i SIP inte har
    utförts"; everything else sipvakt escalates is `default.escalation`, not reportable."""
    book = load_rulebook(CONFIG)

    def made_by(region: str, kind: str) -> tuple[str, bool]:
        rule = book.region(region).deviation_rule(kind)
        assert rule is not None
        return rule.qualified_name, rule.rule.reportable

    assert made_by("halland", "no_show") == ("halland.no_show", True)
    assert made_by("halland", "action_not_done") == ("halland.plan_not_followed", True)
    assert made_by("halland", "no_response") == ("default.escalation", False)
    assert made_by("vastra_gotaland", "action_not_done") == ("vastra_gotaland.actions_not_done", True)
    assert made_by("vastra_gotaland", "no_show") == ("default.escalation", False)
    for region in ("blekinge", "dalarna", "jonkoping"):
        for kind in ("no_response", "no_show", "action_not_done"):
            assert made_by(region, kind) == ("default.escalation", False)


def test_national_rules_cite_the_section_they_rest_on() -> None:
    """The guardian's say ends with the custody at 18 (föräldrabalken 6 kap. 2 §, not 9 kap. 1 § about
    property); the discharge rule quotes the act's words *planering* and *underrättelse*; the urgent duty
    quotes SoL (2001:453) 2 kap. 7 §, named as the act replaced on 2025-07-01."""
    default = load_rulebook(CONFIG).region("default")
    coming_of_age = default.rules["coming_of_age"]
    assert "6 kap. 2 §" in (coming_of_age.source.reference or "")
    assert "9 kap." not in coming_of_age.rule.phrase + (coming_of_age.source.reference or "")
    discharge = default.rules["invitation_after_discharge"]
    assert "samordnad individuell planering" in discharge.rule.phrase
    assert "underrättelse" in discharge.rule.phrase
    assert "2017:612" in (discharge.source.reference or "")
    urgent = default.rules["start_without_delay"]
    assert urgent.rule.phrase == "Arbetet med planen ska påbörjas utan dröjsmål."
    assert "upphävd 2025-07-01" in urgent.source.title and "2 kap. 7 §" in (urgent.source.reference or "")
    # The urgent track's number is sipvakt's own, quoted as such, not attributed to the law.
    assert default.rules["urgent_meeting_within"].source == default.document.as_source()
