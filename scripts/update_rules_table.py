"""Rewrite the rule table in README.md (between its rules-table markers) from config/regions/*.toml."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.rules import load_rulebook  # noqa: E402
from config.rules_table import render_rules_table, replace_between_markers  # noqa: E402


def main() -> int:
    readme = ROOT / "README.md"
    table = render_rules_table(load_rulebook(ROOT / "config"))
    text = readme.read_text(encoding="utf-8")
    updated = replace_between_markers(text, table)
    if updated != text:
        readme.write_text(updated, encoding="utf-8")
        print("README.md: rule table updated")
    else:
        print("README.md: rule table already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
