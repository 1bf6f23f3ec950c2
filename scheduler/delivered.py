"""What a delivered invitation does to its case: `(case, message) -> Applied | None`, with no I/O.

An invitation is `sent` when it reaches the participant: the mail server's 250 OK, or a letter marked
posted. Only then does the notice count, and the reply day and the escalation with it. The message must
carry the meeting's current time (its `sequence`): one composed before the meeting moved told the
participant a time that no longer holds, and the update that follows it is what counts.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.case import Case, Meeting, Warning
from scheduler.decide import Applied
from scheduler.undeliverable import INVITING_KINDS


def invitation_delivered(
    case: Case, meeting_id: str, participant_id: str, kind: str, sequence: int | None, at: datetime
) -> Applied | None:
    """The case with the invitation sent at `at`; None if the delivery changes nothing (a cancellation, a
    time that has moved on since, a participant told this time already). Planning follows in the shell."""
    meeting = case.meetings.get(meeting_id)
    # A held meeting still takes the fact: a letter marked posted after the meeting was recorded.
    if kind not in INVITING_KINDS or meeting is None or meeting.status == "cancelled":
        return None
    invitation = meeting.invitations.get(participant_id)
    stale = sequence is not None and sequence != meeting.sequence
    if invitation is None or stale or invitation.sent_at is not None:
        return None
    changed = case.model_copy(deep=True)
    delivered = changed.meetings[meeting_id].invitations[participant_id]
    delivered.sent_at = at
    delivered.first_sent_at = delivered.first_sent_at or at
    # An answer that came before the message (through an earlier reply link) stays; a failure is undone
    # by the delivery that proves the address works after all.
    if delivered.status in ("pending", "queued", "failed"):
        delivered.status = "sent"
    address = (meeting.participants[participant_id].email or "").lower()
    if address in changed.unreachable:
        changed.unreachable.remove(address)
    return Applied(changed)


def delivered_at_once(case: Case, at: datetime) -> Case:
    """The case with every queued invitation delivered at `at`: what is known offline (`sipvakt
    deadlines`), where no mail server answers and the event's time is the best knowledge of sending."""
    for meeting in case.meetings.values():
        for participant_id, invitation in meeting.invitations.items():
            if invitation.status != "queued":
                continue
            delivered = invitation_delivered(case, meeting.meeting_id, participant_id, "request", None, at)
            if delivered is not None:
                case = delivered.case
    return case


def delivery_warnings(case: Case) -> list[Warning]:
    """A warning for each invitation to an upcoming meeting that did not reach its participant, and for
    each reminder called off because its address is unreachable."""
    return [
        *(
            _not_delivered(meeting, participant_id)
            for meeting in case.meetings.values()
            if meeting.status == "scheduled"
            for participant_id, invitation in meeting.invitations.items()
            if invitation.status == "failed"
        ),
        *(
            Warning(
                kind="reminder_not_sent",
                message=f"The {reminder.kind} reminder due {reminder.due_at.date().isoformat()} is cancelled:"
                " its address was refused for good by the mail server.",
            )
            for reminder in case.reminders
            if reminder.status == "cancelled" and reminder.to.lower() in case.unreachable
        ),
    ]


def _not_delivered(meeting: Meeting, participant_id: str) -> Warning:
    return Warning(
        kind="invitation_not_delivered",
        message=f"The invitation of participant '{participant_id}' to meeting '{meeting.meeting_id}' was"
        " not delivered: it gives no notice, and the participant gets no reminders. Reach them another way.",
    )
