"""Calendar UIDs: a random one per invitation, stored, and the way back from a reply's UID to invitations.

A UID is drawn from the operating system's random source when the invitation's first calendar is written,
and every later calendar of that invitation (updates, the cancellation, a REFRESH answer) reuses it, so
the participant's calendar keeps one event. Nothing about the case or the meeting is in it: a reply is
found only through the stored UID, and nobody can name one without having received the calendar.
Invitations whose calendars left before UIDs were random keep their old UID (see migration 0013).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

from service.storage.store import Connection

# 20 random bytes, 160 bits: as hard to guess as any key the service holds.
_RANDOM_BYTES = 20


@dataclass(frozen=True)
class BoundInvitation:
    """An invitation that a UID names."""

    case_id: str
    meeting_id: str
    participant_id: str
    legacy: bool


def new_uid(domain: str) -> str:
    random = base64.b32encode(secrets.token_bytes(_RANDOM_BYTES)).decode().rstrip("=").lower()
    return f"{random}@{domain}"


_STORED_UID = (
    "select uid, legacy from calendar_uids where case_id = $1 and meeting_id = $2 and participant_id = $3"
)


async def invitation_uid(
    connection: Connection, case_id: str, meeting_id: str, participant_id: str, domain: str, now: datetime
) -> str:
    """The invitation's UID: the stored one, or a new one stored now (the first writer wins a race)."""
    # One round trip in the usual cases: the new row as inserted, or the stored one as this statement's
    # snapshot sees it. Only when another transaction stored it concurrently does neither show, and the
    # row is read again, now that the insert has waited for that one to commit.
    row = await connection.fetchrow(
        "with stored as (insert into calendar_uids (case_id, meeting_id, participant_id, uid, created_at)"
        " values ($1, $2, $3, $4, $5) on conflict (case_id, meeting_id, participant_id) do nothing"
        " returning uid, legacy)"
        f" select uid, legacy from stored union all {_STORED_UID} limit 1",
        case_id,
        meeting_id,
        participant_id,
        new_uid(domain),
        now,
    ) or await connection.fetchrow(_STORED_UID, case_id, meeting_id, participant_id)
    assert row is not None
    return f"{row['uid']}@{domain}" if row["legacy"] else str(row["uid"])


async def bound_invitations(connection: Connection, uid: str, domain: str) -> list[BoundInvitation]:
    """The invitations whose calendars carry `uid`: one for a random UID, those of one meeting for a legacy
    one, none for a UID we never sent."""
    local, _, uid_domain = uid.rpartition("@")
    legacy_local = local if uid_domain.lower() == domain.lower() else None
    rows = await connection.fetch(
        "select case_id, meeting_id, participant_id, legacy from calendar_uids"
        " where (uid = $1 and not legacy) or (uid = $2 and legacy)",
        uid,
        legacy_local,
    )
    found = [BoundInvitation(r["case_id"], r["meeting_id"], r["participant_id"], r["legacy"]) for r in rows]
    # A UID names one meeting; should two rows ever disagree, the reply is not trusted with either.
    if len({(item.case_id, item.meeting_id) for item in found}) > 1:
        return []
    return found
