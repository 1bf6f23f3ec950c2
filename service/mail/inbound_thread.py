"""Which of our messages a received e-mail answers, from the Message-IDs in its In-Reply-To and References.

Every message we send has a Message-ID that ends in a keyed tag of its outbox key (see
``notifiers.compose.message_id``), so an id that verifies names exactly one outbox row, and with it the
case, the meeting and the participant the message went to. Nobody who has not received the message can
name it, so an answer read this way is as safe as one given through the reply link.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from notifiers.compose import MESSAGE_TAG_LENGTH, Sender, message_id
from scheduler.case import Case
from service.storage import store
from service.storage.database import Pool


@dataclass(frozen=True)
class AnsweredMessage:
    """The message a reply answers: its case, and the meeting and participant it was about, if any."""

    case: Case
    meeting_id: str | None
    participant_id: str | None
    recipient: str


def _case_id_candidates(local: str) -> list[str]:
    """Outbox keys of a case's messages start with the case id and a separator that the Message-ID shows
    as a dot; every dot is a place where the case id may end."""
    return [local[:i] for i, char in enumerate(local) if char == "." and i > 0]


async def answered_message(
    pool: Pool, message_ids: tuple[str, ...], sender: Sender
) -> AnsweredMessage | None:
    """The first of `message_ids` that is one of our messages about a case that still exists."""
    for found in message_ids:
        local, _, domain = found.rpartition("@")
        named, _, tag = local.rpartition(".")
        if domain.lower() != sender.domain.lower() or len(tag) != MESSAGE_TAG_LENGTH:
            continue
        rows = await pool.fetch(
            "select message_id, case_id, meeting_id, participant_id, recipient from outbox"
            " where case_id = any($1::text[]) and channel = 'email'",
            _case_id_candidates(named),
        )
        wanted = f"<{found}>"
        for row in rows:
            if hmac.compare_digest(message_id(row["message_id"], sender).encode(), wanted.encode()):
                async with pool.acquire() as connection:
                    case = await store.load_case(connection, row["case_id"])
                if case is not None:
                    return AnsweredMessage(case, row["meeting_id"], row["participant_id"], row["recipient"])
    return None
