"""README.md's rule table must be the one the rule files give."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.rules import load_rulebook
from config.rules_table import END, START, render_rules_table, replace_between_markers

ROOT = Path(__file__).resolve().parents[2]


def test_readme_rule_table_matches_the_rule_files() -> None:
    path = ROOT / "README.md"
    if not path.exists():
        pytest.fail(f"README.md not found; it needs the markers {START} and {END}")
    readme = path.read_text(encoding="utf-8")
    table = render_rules_table(load_rulebook(ROOT / "config"))
    assert replace_between_markers(readme, table) == readme, "run scripts/update_rules_table.py"


def test_table_lists_every_region_rule_with_source_and_phrase() -> None:
    table = render_rules_table(load_rulebook(ROOT / "config"))
    row = next(line for line in table.splitlines() if "blekinge.minimum_notice_days" in line)
    assert "≥ 21 calendar days, counted from receipt" in row
    assert "| must | no |" in row
    assert "001_567d3543605ffdcd.txt" in row
    assert "minst tre veckor" in row


def test_replacing_keeps_the_text_around_the_markers() -> None:
    text = f"intro\n{START}\nold\n{END}\noutro\n"
    assert replace_between_markers(text, "new\n") == f"intro\n{START}\nnew\n{END}\noutro\n"
