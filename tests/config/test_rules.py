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
    length = vg.find("meeting_max_duration", MeetingLengthRule)
    assert length is not None and length.rule.minutes == 60


def test_an_override_keeps_inherited_numbers_and_cites_its_own_document() -> None:
    urgent = load_rulebook(CONFIG).region("jonkoping").find("urgent_meeting_within", DayRule)
    assert urgent is not None
    assert (urgent.rule.days, urgent.rule.counting, urgent.must) == (3, "working", True)
    assert urgent.qualified_name == "jonkoping.urgent_meeting_within"
    assert urgent.source.seed == "000_048d4ee2c9f821e4.txt"


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
