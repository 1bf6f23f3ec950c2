"""One region's rules after inheritance: what the deadline engine reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Generic, TypeVar

from config.rule_schema import DeviationRule, Document, Rule, RuleBase, SendWindowRule, Source

R = TypeVar("R", bound=RuleBase, covariant=True)
M = TypeVar("M", bound=RuleBase)


@dataclass(frozen=True)
class ResolvedRule(Generic[R]):
    """A rule with the file it was last set in (`origin`), the source its phrase is quoted from, and the
    source of its number (`number_source`, None for a rule without one), which an override that only
    quotes its own phrase does not change."""

    name: str
    origin: str
    rule: R
    source: Source
    number_source: Source | None = None

    @property
    def qualified_name(self) -> str:
        """ "region.rule_name", the file that set the rule and the rule's name, as deadlines cite it."""
        return f"{self.origin}.{self.name}"

    @property
    def must(self) -> bool:
        return self.rule.obligation == "must"


@dataclass(frozen=True)
class RegionRules:
    """The rules of one region: its own file's rules over those of the files it inherits from."""

    name: str
    display_name: str
    chain: tuple[str, ...]
    documents: Mapping[str, Document]
    rules: Mapping[str, ResolvedRule[Rule]]
    # The `[reminder_policy]` tables of the chain, merged (the region's own file wins).
    policy_settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def document(self) -> Document:
        return self.documents[self.name]

    def find(self, kind: str, model: type[M]) -> ResolvedRule[M] | None:
        """The enabled rule of a kind (the loader allows at most one per kind), or None."""
        for resolved in self.rules.values():
            if resolved.rule.enabled and getattr(resolved.rule, "kind", None) == kind:
                if not isinstance(resolved.rule, model):
                    raise TypeError(f"rule {resolved.qualified_name} is not a {model.__name__}")
                return ResolvedRule(
                    resolved.name, resolved.origin, resolved.rule, resolved.source, resolved.number_source
                )
        return None

    def deviation_rule(self, kind: str) -> ResolvedRule[DeviationRule] | None:
        """The rule that makes a deviation of this kind: the region's reportable one where its guideline
        names the situation an *avvikelse*, otherwise sipvakt's own escalation (None: no rule covers it)."""
        covering = [
            ResolvedRule(r.name, r.origin, r.rule, r.source, r.number_source)
            for r in self.rules.values()
            if r.rule.enabled and isinstance(r.rule, DeviationRule) and kind in r.rule.covers
        ]
        covering.sort(key=lambda r: not r.rule.reportable)
        return covering[0] if covering else None

    def expired_documents(self, on: date) -> list[tuple[str, Document]]:
        """Every document in the chain whose validity ended before the day (the rules still apply)."""
        return [
            (file, document)
            for file, document in self.documents.items()
            if document.valid_to is not None and document.valid_to < on
        ]

    def premature_documents(self, on: date) -> list[tuple[str, Document]]:
        """Every document in the chain that is not valid yet on the day."""
        return [
            (file, document)
            for file, document in self.documents.items()
            if document.valid_from is not None and on < document.valid_from
        ]

    def send_window(self) -> tuple[time, time] | None:
        """The working hours in which reminders go out, if the rules set them."""
        found = self.find("send_window", SendWindowRule)
        return (found.rule.start, found.rule.end) if found else None
