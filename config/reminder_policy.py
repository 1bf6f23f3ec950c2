"""Reminder policies: when sipvakt reminds whom, and when silence is escalated.

A policy is resolved in layers, each overriding the one below key by key:

1. the region's rules (`config/regions/*.toml`): the rule kinds in `RULE_BACKED` give the day counts
   and the working hours, so a deadline and the reminder that hangs on it never disagree;
2. the `[reminder_policy]` tables of the region's rule files (default.toml sets the numbers no rule
   has: repeats, leads for turning 18 and for actions, which kinds are on);
3. the region's override and 4. the case's override, both set by coordinators through the API.

An override is a partial policy (any subset of the keys below). The resolved policy also rewrites the
region's rules (`apply_to_rules`), so that a coordinator who moves the RSVP day moves the `rsvp_due`
deadline with it; such a rule is then cited as `reminder_policy.<rule>`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.region_rules import RegionRules, ResolvedRule
from config.rule_schema import Counting, DayRule, SendWindowRule

POLICY_ORIGIN = "reminder_policy"


class _Strict(BaseModel):
    # Strict: "7" is not a number of days and "yes" not a flag. Documents are validated as JSON (see
    # `validate_policy`), where strict mode still reads times of day from "08:00" strings.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DayCount(_Strict):
    days: Annotated[int, Field(ge=0, le=365, description="a number of days, never negative")]
    counting: Counting


class WorkingHours(_Strict):
    """The part of a working day in which reminders go out (Europe/Stockholm)."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RsvpPolicy(_Strict):
    enabled: bool
    after: DayCount | None = Field(description="first reminder this long after the invitation arrived")
    urgent_after: DayCount | None = Field(description="the same on the urgent track")
    repeat_every_days: Annotated[int, Field(ge=1, le=60)]
    max_reminders: Annotated[int, Field(ge=0, le=10)]


class EscalationPolicy(_Strict):
    before_meeting: DayCount | None = Field(description="unanswered invitations escalate this long before")
    urgent_before_meeting: DayCount | None


class LeadPolicy(_Strict):
    """A reminder this long before the day it is about."""

    enabled: bool
    lead: DayCount | None


class Toggle(_Strict):
    enabled: bool


class ReminderPolicy(_Strict):
    working_hours: WorkingHours
    rsvp: RsvpPolicy
    escalation: EscalationPolicy
    followup_call: LeadPolicy
    consent_expiry: LeadPolicy
    turns_18: LeadPolicy
    leaves_target_group: LeadPolicy
    action_due: LeadPolicy
    deviation: Toggle


# Policy keys whose defaults are rules, with the rule kind behind each.
RULE_BACKED: dict[tuple[str, str], str] = {
    ("rsvp", "after"): "rsvp_after",
    ("rsvp", "urgent_after"): "urgent_rsvp_after",
    ("escalation", "before_meeting"): "escalation_before_meeting",
    ("escalation", "urgent_before_meeting"): "urgent_escalation_before_meeting",
    ("followup_call", "lead"): "followup_call_lead",
    ("consent_expiry", "lead"): "consent_expiry_lead",
}


@dataclass(frozen=True)
class PolicyError:
    """One thing wrong with a policy: where (a dotted path) and what."""

    location: str
    message: str
    # pydantic's error type and its bounds (`ge`, `le`), for a reader that words the message itself.
    code: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


class InvalidPolicy(ValueError):
    def __init__(self, errors: list[PolicyError]) -> None:
        super().__init__("; ".join(f"{e.location}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class PolicyOverrides:
    """The coordinators' overrides for one case: its region's and its own (None: none set)."""

    region: Mapping[str, Any] | None = None
    case: Mapping[str, Any] | None = None


NO_OVERRIDES = PolicyOverrides()


@dataclass(frozen=True)
class ResolvedPolicy:
    policy: ReminderPolicy
    # Override layers that no longer fit the layers under them (the region changed since): skipped.
    ignored: tuple[str, ...] = ()


def rule_defaults(rules: RegionRules) -> dict[str, Any]:
    """Layers 1 and 2: what the region's rule files say, as a policy document."""
    document = deep_merge({}, rules.policy_settings)
    for (section, key), kind in RULE_BACKED.items():
        found = rules.find(kind, DayRule)
        document.setdefault(section, {})[key] = (
            {"days": found.rule.days, "counting": found.rule.counting} if found else None
        )
    window = rules.send_window()
    if window is not None:
        document["working_hours"] = {"start": window[0].isoformat(), "end": window[1].isoformat()}
    return document


def resolve(rules: RegionRules, overrides: PolicyOverrides = NO_OVERRIDES) -> ResolvedPolicy:
    """The policy in force for a case: each override layer on top, unless it no longer fits."""
    document = rule_defaults(rules)
    policy = validate_policy(document)
    ignored: list[str] = []
    for name, layer in (("region", overrides.region), ("case", overrides.case)):
        if not layer:
            continue
        candidate = deep_merge(document, layer)
        try:
            policy = validate_policy(candidate)
        except ValidationError:
            ignored.append(name)
            continue
        document = candidate
    return ResolvedPolicy(policy, tuple(ignored))


def validate_policy(document: Mapping[str, Any]) -> ReminderPolicy:
    """A whole policy from a document; raises pydantic's ValidationError listing every error."""
    return ReminderPolicy.model_validate_json(json.dumps(document, default=_json_value))


def _json_value(value: object) -> str:
    if isinstance(value, dt.time | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a policy value")


def check_override(base: Mapping[str, Any], override: object) -> dict[str, Any]:
    """The override, if it is a JSON object that gives a valid policy on top of `base`; every error else."""
    if not isinstance(override, dict):
        raise InvalidPolicy([PolicyError("", "a policy override is a JSON object", "dict_type")])
    try:
        validate_policy(deep_merge(base, override))
    except ValidationError as exc:
        raise InvalidPolicy(policy_errors(exc, from_caller=True)) from None
    return override


def policy_errors(exc: ValidationError, *, from_caller: bool = False) -> list[PolicyError]:
    """Every error with its dotted location. For a policy from a caller (not a rule file of the
    operator's), an unknown key is reported at the table that holds it: the key is the caller's own text
    (a personnummer, even) and is not repeated."""
    found = []
    for error in exc.errors(include_input=False):
        loc = error["loc"]
        message = error["msg"].removeprefix("Value error, ")
        if from_caller and error["type"] == "extra_forbidden":
            loc, message = loc[:-1], "has a field that no policy has (its name is not repeated)"
        location = ".".join(str(part) for part in loc)
        context = {key: value for key, value in error.get("ctx", {}).items() if isinstance(value, int | str)}
        found.append(PolicyError(location, message, error["type"], context))
    return found


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, table by table; a value that is not a table replaces what is under it, and a
    table replaces a value that is not one."""
    merged = {
        key: deep_merge({}, value) if isinstance(value, Mapping) else value for key, value in base.items()
    }
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping):
            # Copied, never shared: the caller may change the result without touching its inputs.
            merged[key] = deep_merge(below if isinstance(below, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def apply_to_rules(rules: RegionRules, policy: ReminderPolicy) -> RegionRules:
    """The region's rules with the policy's numbers in the rules they come from; a count set to null
    switches its rule off."""
    changed: dict[str, ResolvedRule[Any]] = {}
    for (section, key), kind in RULE_BACKED.items():
        found = rules.find(kind, DayRule)
        count: DayCount | None = getattr(getattr(policy, section), key)
        if found is None:
            continue
        if count is None:
            changed[found.name] = replace(found, rule=found.rule.model_copy(update={"enabled": False}))
        elif (found.rule.days, found.rule.counting) != (count.days, count.counting):
            update = {"days": count.days, "counting": count.counting}
            if count.counting == "working":
                update["rolls"] = False
            rule = found.rule.model_copy(update=update)
            changed[found.name] = ResolvedRule(found.name, POLICY_ORIGIN, rule, found.source)
    window = rules.find("send_window", SendWindowRule)
    hours = policy.working_hours
    if window is not None and (window.rule.start, window.rule.end) != (hours.start, hours.end):
        hours_rule = window.rule.model_copy(update={"start": hours.start, "end": hours.end})
        changed[window.name] = ResolvedRule(window.name, POLICY_ORIGIN, hours_rule, window.source)
    if not changed:
        return rules
    return replace(rules, rules={**rules.rules, **changed})
