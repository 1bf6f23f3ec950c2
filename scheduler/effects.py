"""What applying an event asks the shell to do, written in the same transaction as the new state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from scheduler.case import Deviation

MessageKind = Literal["request", "update", "cancel", "reminder", "notice", "survey", "digest"]


@dataclass(frozen=True)
class SetTimer:
    """Create the timer `key` of the case, or move it if it exists (same key, new due time)."""

    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelTimers:
    """Cancel the case's pending timers whose key starts with `prefix` ("" cancels them all)."""

    prefix: str = ""


@dataclass(frozen=True)
class QueueMessage:
    """A message to one recipient; `key` is stable, so queueing it twice sends it once. Every kind but the
    meeting messages (request, update, cancel) is a plain notice: its payload's `notice` names its words."""

    key: str
    kind: MessageKind
    channel: Literal["email", "letter"]
    meeting_id: str | None
    participant_id: str | None
    recipient: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelUnsentMessages:
    """Withdraw every message of the case that has not left yet (closing, consent withdrawn), or only
    those about one participant of one meeting, of the given kinds (an address that failed for good).
    `erase`: their addresses and contents go as well (consent withdrawn: nothing of them may stay)."""

    meeting_id: str | None = None
    participant_id: str | None = None
    kinds: tuple[MessageKind, ...] = ()
    erase: bool = False


@dataclass(frozen=True)
class RecordDeviation:
    deviation: Deviation


Effect = SetTimer | CancelTimers | QueueMessage | CancelUnsentMessages | RecordDeviation
