"""Recording a deviation once: its id is derived from what it is about, so noticing it again finds it."""

from __future__ import annotations

import hashlib
from datetime import datetime

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
    rule: str | None = None,
) -> RecordDeviation:
    """Add the deviation to the case unless it is there already; the effect stores it once as well."""
    deviation = Deviation(
        deviation_id=deviation_id(
            case.case_id,
            kind,
            meeting_id=meeting_id,
            participant_id=participant_id,
            action_id=action_id,
            rule=rule,
        ),
        kind=kind,
        detected_at=now,
        meeting_id=meeting_id,
        participant_id=participant_id,
        action_id=action_id,
        rule=rule,
    )
    if all(existing.deviation_id != deviation.deviation_id for existing in case.deviations):
        case.deviations.append(deviation)
    return RecordDeviation(deviation)
