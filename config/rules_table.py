"""The rule table of README.md, written from the rule files so that the two cannot drift apart."""

from __future__ import annotations

from config.region_rules import RegionRules, ResolvedRule
from config.rule_schema import (
    ComingOfAgeRule,
    CountedDays,
    DeviationRule,
    MeetingLengthRule,
    NoticeRule,
    Rule,
    SendWindowRule,
    Source,
    TargetGroupRule,
)
from config.rules import DEFAULT, RuleBook

START = "<!-- rules-table:start -->"
END = "<!-- rules-table:end -->"


def render_rules_table(rulebook: RuleBook) -> str:
    """A Markdown table of every enabled rule each region applies, its own and those it inherits, with
    where each number comes from and which deviations are the region's reportable ones."""
    lines = [
        "| region | rule | number | number from | must/should | rolls | source | phrase |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    sipvakt = rulebook.all_rules()[0].documents[DEFAULT].as_source()
    for region in rulebook.all_rules():
        for resolved in sorted(
            region.rules.values(), key=lambda r: (r.origin != region.name, r.qualified_name)
        ):
            if not resolved.rule.enabled:
                continue
            number = _number(resolved.rule)
            if isinstance(resolved.rule, DeviationRule):
                number = _deviations(region, resolved)
                if not number:
                    continue  # every kind it covers is the region's own reportable rule's
            cells = [
                region.name,
                resolved.qualified_name,
                number,
                _number_from(resolved, sipvakt),
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


def _deviations(region: RegionRules, resolved: ResolvedRule[Rule]) -> str:
    """The deviation kinds this rule makes in the region: those no reportable rule of the region takes."""
    assert isinstance(resolved.rule, DeviationRule)
    kinds = [
        kind
        for kind in resolved.rule.covers
        if (found := region.deviation_rule(kind)) is not None and found.name == resolved.name
    ]
    if not kinds:
        return ""
    if resolved.rule.reportable:
        return f"deviation {', '.join(kinds)}: reportable (the guideline's avvikelse)"
    return f"deviation {', '.join(kinds)}: sipvakt's escalation, not reportable"


def _number_from(resolved: ResolvedRule[Rule], sipvakt: Source) -> str:
    source = resolved.number_source
    if source is None:
        return "—"
    if source == sipvakt:
        return "sipvakt's default (no source gives it)"
    return _source(source)


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
