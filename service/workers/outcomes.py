"""Delivery outcomes fed back into their case: an invitation delivered (250 OK, or a letter posted) or
undeliverable, applied under the case's lock in the caller's transaction (the one that records the
outcome), with the case planned again, so that its notice, reply day, escalation and reminders follow
what really reached the participant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scheduler.case import Case
from scheduler.decide import Applied, Planner
from scheduler.delivered import invitation_delivered
from scheduler.undeliverable import invitation_undeliverable
from service.storage import policies, store
from service.storage.store import Connection

LOCK_CASE = "select pg_advisory_xact_lock(hashtextextended('case:' || $1, 0))"


@dataclass(frozen=True)
class InvitationMessage:
    """Which invitation a message was: its case, meeting, participant and kind, and the meeting sequence
    whose time it carried (None: not known)."""

    case_id: str
    meeting_id: str
    participant_id: str
    kind: str
    sequence: int | None


class DeliveryOutcomes:
    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def delivered(self, connection: Connection, message: InvitationMessage, at: datetime) -> None:
        await self._apply(
            connection,
            message.case_id,
            lambda case: invitation_delivered(
                case, message.meeting_id, message.participant_id, message.kind, message.sequence, at
            ),
            at,
        )

    async def undeliverable(self, connection: Connection, message: InvitationMessage, at: datetime) -> None:
        await self._apply(
            connection,
            message.case_id,
            lambda case: invitation_undeliverable(
                case, message.meeting_id, message.participant_id, message.kind, message.sequence or 0, at
            ),
            at,
        )

    async def _apply(
        self, connection: Connection, case_id: str, change: Callable[[Case], Applied | None], now: datetime
    ) -> None:
        await connection.execute(LOCK_CASE, case_id)
        case, overrides = await policies.case_for_update(connection, case_id)
        if case is None or case.status == "closed":
            return
        applied = change(case)
        if applied is None:
            return
        applied.effects.extend(self.planner.with_overrides(overrides).refresh(applied.case, now))
        await store.save_case(connection, applied.case, now)
        await store.carry_out(connection, applied.case, applied.effects, now)
