"""Recording a deviation once: its id is derived from what it is about, so noticing it again finds it.

Each deviation names the rule that makes it one and whether that rule is the region's own *avvikelse*
(`reportable`) or sipvakt's escalation. The rule is not part of the id, except for `late`, where two
missed rules about one meeting are two deviations: a change of rule files never records one twice."""

from __future__ import annotations

import hashlib
from datetime import datetime

from config.region_rules import ResolvedRule
from config.rule_schema import DeviationRule
from scheduler.case import Case, Deviation, DeviationKind
from scheduler.effects import RecordDeviation


def deviation_id(
    case_id: str,
    kind: DeviationKind,
    *,
    meeting_id: str | None = None,
    participant_id: str | None = None,
    action_id: str | None = None,
    rule: str | None = None,
) -> str:
    subject = "\x1f".join(part or "" for part in (case_id, kind, meeting_id, participant_id, action_id, rule))
    return "dev_" + hashlib.sha256(subject.encode()).hexdigest()[:24]


def record_deviation(
    case: Case,
    kind: DeviationKind,
    now: datetime,
    *,
    meeting_id: str | None = None,
    participant_id: str | None = None,
    action_id: str | None = None,
    rule: str,
    reportable: bool,
) -> RecordDeviation:
    """Add the deviation to the case unless it is there already; the effect stores it once as well."""
    deviation = Deviation(
        deviation_id=deviation_id(
            case.case_id,
            kind,
            meeting_id=meeting_id,
            participant_id=participant_id,
            action_id=action_id,
            rule=rule if kind == "late" else None,
        ),
        kind=kind,
        detected_at=now,
        meeting_id=meeting_id,
        participant_id=participant_id,
        action_id=action_id,
        rule=rule,
        reportable=reportable,
    )
    if all(existing.deviation_id != deviation.deviation_id for existing in case.deviations):
        case.deviations.append(deviation)
    return RecordDeviation(deviation)


def record_under(
    case: Case,
    rule: ResolvedRule[DeviationRule],
    kind: DeviationKind,
    now: datetime,
    *,
    meeting_id: str | None = None,
    participant_id: str | None = None,
    action_id: str | None = None,
) -> RecordDeviation:
    """Record a deviation that a region's deviation rule makes, citing it and its reportability."""
    return record_deviation(
        case,
        kind,
        now,
        meeting_id=meeting_id,
        participant_id=participant_id,
        action_id=action_id,
        rule=rule.qualified_name,
        reportable=rule.rule.reportable,
    )
