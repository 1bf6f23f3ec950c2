"""What a plain message is about when it leaves, for the functions that word it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.case import Case, Meeting, ParticipantInfo


@dataclass(frozen=True)
class NoticeSubject:
    """What a plain message is about, as the delivery worker finds it when the message leaves: the case
    (None for messages about no single case), the meeting and participant the row names, the row's payload,
    and the participant's reply page where the row asks for one."""

    case: Case | None
    meeting: Meeting | None
    participant: ParticipantInfo | None
    payload: Mapping[str, Any]
    reply_page_url: str | None = None

    def require_meeting(self) -> tuple[Case, Meeting, ParticipantInfo]:
        if self.case is None or self.meeting is None or self.participant is None:
            raise UnknownNotice("the message's case, meeting or participant no longer exists")
        return self.case, self.meeting, self.participant


class UnknownNotice(ValueError):
    """The payload names no notice this version can word, or what it is about is gone."""


def who(participant: ParticipantInfo) -> str:
    """A participant as the people running the meeting know them: name and organisation."""
    return (
        f"{participant.name} ({participant.organisation})" if participant.organisation else participant.name
    )
