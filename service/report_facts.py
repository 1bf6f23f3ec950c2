"""What the yearly summary counts of a case, kept beside the case document whenever it is saved.

Counting from the documents themselves meant reading and parsing every case of a region for each summary;
the facts here are small rows with an index on the meeting's start, so a region of ten thousand cases is
summarised in milliseconds. The rules of what counts (held, which kind, after discharge) are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler.case import Case

if TYPE_CHECKING:
    # Only for the annotation: the store saves the facts with the case, so it imports this module.
    from service.store import Connection


@dataclass(frozen=True)
class HeldMeeting:
    meeting_id: str
    kind: str
    starts_at: datetime
    # KVÅ AUI25: the plan was made at or after the notice that the patient was ready for discharge.
    after_discharge: bool


def held_meetings(case: Case) -> list[HeldMeeting]:
    notice = case.discharge_notice_at
    return [
        HeldMeeting(
            meeting.meeting_id,
            meeting.kind,
            meeting.starts_at,
            meeting.kind == "initial" and notice is not None and meeting.starts_at >= notice,
        )
        for meeting in case.meetings.values()
        if meeting.status == "held"
    ]


async def write_held_meetings(connection: Connection, case: Case) -> None:
    """Replace the case's rows, in the transaction that saves the case."""
    await connection.execute("delete from held_meetings where case_id = $1", case.case_id)
    rows = [(case.case_id, m.meeting_id, m.kind, m.starts_at, m.after_discharge) for m in held_meetings(case)]
    if rows:
        await connection.executemany(
            "insert into held_meetings (case_id, meeting_id, kind, starts_at, after_discharge)"
            " values ($1, $2, $3, $4, $5)",
            rows,
        )
