"""What an invitation that cannot be delivered does to its case: `(case, message) -> Applied | None`.

A mail server's permanent refusal (5xx), or a temporary one that lasts through every retry, is final for
that address: the invitation is marked `failed` (it never meets the notice), the address is recorded as
unreachable, so that every reminder to it is called off at once (planning lists it cancelled, and any still
in the outbox is withdrawn), and the coordinator is told, so someone reaches them another way.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.case import Case
from scheduler.decide import Applied
from scheduler.effects import CancelTimers, CancelUnsentMessages, Effect, QueueMessage

# A refused cancellation changes nothing in the case: the meeting is off whether or not it arrived.
INVITING_KINDS = ("request", "update")


def invitation_undeliverable(
    case: Case, meeting_id: str, participant_id: str, kind: str, sequence: int, now: datetime
) -> Applied | None:
    """The case with the invitation failed and a notice to the coordinator queued; None if nothing changes.
    Planning follows in the shell."""
    meeting = case.meetings.get(meeting_id)
    if kind not in INVITING_KINDS or meeting is None or meeting.status != "scheduled":
        return None
    invitation = meeting.invitations.get(participant_id)
    if invitation is None or invitation.status in ("failed", "delegated"):
        return None
    changed = case.model_copy(deep=True)
    changed_invitation = changed.meetings[meeting_id].invitations[participant_id]
    changed_invitation.status = "failed"
    changed_invitation.sent_at = None
    changed_invitation.responded_at = None
    address = (meeting.participants[participant_id].email or "").lower()
    if address and address not in changed.unreachable:
        changed.unreachable.append(address)
    effects: list[Effect] = [
        CancelTimers(prefix=f"meeting:{meeting_id}:rsvp:{participant_id}"),
        CancelUnsentMessages(meeting_id=meeting_id, participant_id=participant_id, kinds=("reminder",)),
        QueueMessage(
            key=f"{case.case_id}/{meeting_id}/{participant_id}/undeliverable/{sequence}",
            kind="notice",
            channel="email",
            meeting_id=meeting_id,
            participant_id=participant_id,
            recipient=case.coordinator.email,
            payload={"notice": "undeliverable", "queued_at": now.isoformat()},
        ),
    ]
    return Applied(changed, effects)
