"""The rule table of README.md, written from the rule files so that the two cannot drift apart."""

from __future__ import annotations

from config.rule_schema import (
    ComingOfAgeRule,
    CountedDays,
    MeetingLengthRule,
    NoticeRule,
    Rule,
    SendWindowRule,
    Source,
    TargetGroupRule,
)
from config.rules import RuleBook

START = "<!-- rules-table:start -->"
END = "<!-- rules-table:end -->"


def render_rules_table(rulebook: RuleBook) -> str:
    """A Markdown table of every enabled rule each region applies, its own and those it inherits."""
    lines = [
        "| region | rule | number | must/should | rolls | source | phrase |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for region in rulebook.all_rules():
        for resolved in sorted(
            region.rules.values(), key=lambda r: (r.origin != region.name, r.qualified_name)
        ):
            if not resolved.rule.enabled:
                continue
            cells = [
                region.name,
                resolved.qualified_name,
                _number(resolved.rule),
                resolved.rule.obligation,
                _rolls(resolved.rule),
                _source(resolved.source),
                f"“{resolved.rule.phrase}”",
            ]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, table: str) -> str:
    """The text with everything between the two markers replaced by the table."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {START} and {END}, in that order")
    return f"{text[: start + len(START)]}\n{table}{text[end:]}"


def _number(rule: Rule) -> str:
    if isinstance(rule, NoticeRule):
        return f"≥ {rule.days} {rule.counting} days, counted from {rule.counted_from}"
    if isinstance(rule, CountedDays):
        return f"{rule.days} {rule.counting} days"
    if isinstance(rule, TargetGroupRule):
        return f"ages {rule.min_age}–{rule.max_age} inclusive"
    if isinstance(rule, ComingOfAgeRule):
        return f"age {rule.age}"
    if isinstance(rule, MeetingLengthRule):
        return f"≤ {rule.minutes} min"
    if isinstance(rule, SendWindowRule):
        return f"{rule.start:%H:%M}–{rule.end:%H:%M}"
    return "—"


def _rolls(rule: Rule) -> str:
    if isinstance(rule, CountedDays):
        return "yes" if rule.rolls else "no"
    return "—"


def _source(source: Source) -> str:
    parts = [source.title]
    parts.extend(part for part in (source.version and f"version {source.version}", source.reference) if part)
    if source.date:
        parts.append(source.date.isoformat())
    if source.seed:
        parts.append(f"seed {source.seed}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


__all__ = ["END", "START", "render_rules_table", "replace_between_markers"]
