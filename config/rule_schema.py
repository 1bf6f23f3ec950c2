"""The shape of a region rule file (`config/regions/<region>.toml`), as typed pydantic models.

A file names the document it implements (`[document]`) and lists its rules (`[rules.<rule_name>]`). Each
rule has a `kind` from the engine's vocabulary below; the kind decides which numbers the rule must carry.
Rules of kind `procedure` carry no number: they record a duty of the guideline that sipvakt does not
compute a date for, so that the rule table shows the whole guideline.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Days = Annotated[int, Field(ge=0, le=3650)]
Obligation = Literal["must", "should", "scope"]
Counting = Literal["calendar", "working"]

DayKind = Literal[
    "meeting_within",
    "urgent_meeting_within",
    "postal_delay",
    "invitation_after_discharge",
    "rsvp_after",
    "urgent_rsvp_after",
    "escalation_before_meeting",
    "urgent_escalation_before_meeting",
    "followup_call_lead",
    "consent_expiry_lead",
]
# The kinds, as a tuple, for building the kind → model table below.
DAY_KINDS: tuple[str, ...] = get_args(DayKind)
DateKind = Literal["followup_date", "action_date", "consent_validity"]
# The kinds of deviation sipvakt records (scheduler.case.DeviationKind), as a rule file names them.
DeviationKind = Literal["no_response", "no_show", "action_not_done", "late"]


class Strict(BaseModel):
    """A typo in a rule file must be an error, never a silently ignored key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a rule's words come from: a seed document, a law, or the project's own default."""

    title: NonEmpty
    seed: NonEmpty | None = None
    issuer: NonEmpty | None = None
    reference: NonEmpty | None = None
    version: NonEmpty | None = None
    date: dt.date | None = None


class Document(Source):
    """The guideline a file implements, with the period its issuer says it is valid."""

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @model_validator(mode="after")
    def _valid_period(self) -> Document:
        if self.valid_from is not None and self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def as_source(self) -> Source:
        return Source(
            title=self.title,
            seed=self.seed,
            issuer=self.issuer,
            reference=self.reference,
            version=self.version,
            date=self.date,
        )


class RuleBase(Strict):
    obligation: Obligation
    phrase: NonEmpty
    section: NonEmpty | None = None
    source: Source | None = None
    enabled: bool = True


class CountedDays(RuleBase):
    """A number of days, counted in calendar days or working days."""

    days: Days
    counting: Counting
    rolls: bool

    @model_validator(mode="after")
    def _rolls_only_on_calendar_days(self) -> CountedDays:
        if self.rolls and self.counting == "working":
            raise ValueError(
                "rolls applies only to counting = 'calendar' (a working-day count never ends on a holiday)"
            )
        return self


class DayRule(CountedDays):
    kind: DayKind


class NoticeRule(CountedDays):
    """The least time between an invitation and its meeting, counted backwards from the meeting."""

    kind: Literal["minimum_notice"]
    counted_from: Literal["receipt", "sending"]
    agreement_overrides: bool


class TargetGroupRule(RuleBase):
    """The ages a guideline covers, both ends inclusive ("t.o.m. 20 år" is max_age = 20)."""

    kind: Literal["target_group"]
    min_age: Annotated[int, Field(ge=0, le=150)]
    max_age: Annotated[int, Field(ge=0, le=150)]

    @model_validator(mode="after")
    def _ordered(self) -> TargetGroupRule:
        if self.max_age < self.min_age:
            raise ValueError("max_age is below min_age")
        return self


class ComingOfAgeRule(RuleBase):
    kind: Literal["coming_of_age"]
    age: Annotated[int, Field(ge=1, le=150)]


class MeetingLengthRule(RuleBase):
    kind: Literal["meeting_max_duration"]
    minutes: Annotated[int, Field(gt=0, le=24 * 60)]


class SendWindowRule(RuleBase):
    """The hours of a working day in which reminders are sent."""

    kind: Literal["send_window"]
    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> SendWindowRule:
        if self.end <= self.start:
            raise ValueError("end is not after start")
        return self


class DateRule(RuleBase):
    """A deadline dated by the case itself: the plan's follow-up date, an action's due date, consent."""

    kind: DateKind


class SurveyRule(RuleBase):
    """A survey the person (or guardian) is asked to fill in after a new plan and after each follow-up.
    Without `url` the rule is shown but nothing is sent: the address is the region's to give."""

    kind: Literal["survey"]
    url: Annotated[str, StringConstraints(pattern=r"^https://[^\s/]+(/\S*)?$", max_length=500)] | None = None


class ProcedureRule(RuleBase):
    kind: Literal["procedure"]


class FollowupRequiredRule(RuleBase):
    """The plan names a follow-up date: a meeting recorded held without one gets a warning."""

    kind: Literal["followup_required"]


class DeviationRule(RuleBase):
    """What makes a silence, an absence or an undone action a deviation, and whether it is the region's
    own *avvikelse* (`reportable`) or sipvakt's escalation to the coordinator.

    `absent` (for `no_show`) says whose absence counts: those who had `accepted`, or everyone `invited`.
    For `late`, a reportable rule covers the missed `must` deadlines of the region's own file."""

    kind: Literal["deviation"]
    covers: Annotated[list[DeviationKind], Field(min_length=1)]
    reportable: bool
    absent: Literal["accepted", "invited"] | None = None

    @model_validator(mode="after")
    def _absent_with_no_show(self) -> DeviationRule:
        if len(set(self.covers)) != len(self.covers):
            raise ValueError("covers names a kind twice")
        if ("no_show" in self.covers) != (self.absent is not None):
            raise ValueError("absent is required with no_show in covers, and only then")
        return self


Rule = (
    DayRule
    | NoticeRule
    | TargetGroupRule
    | ComingOfAgeRule
    | MeetingLengthRule
    | SendWindowRule
    | DateRule
    | SurveyRule
    | ProcedureRule
    | FollowupRequiredRule
    | DeviationRule
)

RULE_MODELS: dict[str, type[RuleBase]] = {
    **dict.fromkeys(DAY_KINDS, DayRule),
    "minimum_notice": NoticeRule,
    "target_group": TargetGroupRule,
    "coming_of_age": ComingOfAgeRule,
    "meeting_max_duration": MeetingLengthRule,
    "send_window": SendWindowRule,
    "followup_date": DateRule,
    "action_date": DateRule,
    "consent_validity": DateRule,
    "survey": SurveyRule,
    "procedure": ProcedureRule,
    "followup_required": FollowupRequiredRule,
    "deviation": DeviationRule,
}

# The keys that carry a rule's number: the file that last set one of them is where the number comes from.
NUMBER_KEYS = frozenset({"days", "counting", "minutes", "age", "min_age", "max_age", "start", "end"})

RegionName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]


class FileHeader(Strict):
    """Everything in a rule file except its rules, which are validated one by one after inheritance."""

    name: NonEmpty
    inherits: RegionName | None = None
    document: Document
    rules: dict[str, dict[str, object]] = Field(default_factory=dict)
    # Reminder settings no rule carries (config/reminder_policy.py), checked once the chain is merged.
    reminder_policy: dict[str, object] = Field(default_factory=dict)
