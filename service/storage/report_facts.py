"""What the yearly summary counts of a case, kept beside the case document whenever it is saved.

Counting from the documents themselves meant reading and parsing every case of a region for each summary;
the facts here are small rows indexed by region and Stockholm year, carrying the case's scope, so a
region of ten thousand cases is summarised without reading a case. The rules of what counts (held,
which kind, after discharge) are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from calendars.stockholm import local_date
from scheduler.case import Case

if TYPE_CHECKING:
    # Only for the annotation: the store saves the facts with the case, so it imports this module.
    from service.storage.store import Connection


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


async def write_held_meetings(connection: Connection, case: Case, held: list[HeldMeeting]) -> None:
    """Replace the case's rows with `held` (its `held_meetings`), in the transaction that saves the case."""
    await connection.execute("delete from held_meetings where case_id = $1", case.case_id)
    rows = [row(case, meeting) for meeting in held]
    if rows:
        await connection.executemany(
            f"insert into held_meetings ({', '.join(COLUMNS)})"
            f" values ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})",
            rows,
        )


COLUMNS = (
    "case_id",
    "meeting_id",
    "region",
    "organisations",
    "integration_id",
    "kind",
    "starts_at",
    "local_year",
    "local_month",
    "after_discharge",
)


def row(case: Case, held: HeldMeeting) -> tuple[object, ...]:
    """The table's row of one held meeting, in `COLUMNS` order; the case's scope as it is now."""
    day = local_date(held.starts_at)
    return (
        case.case_id,
        held.meeting_id,
        case.region,
        sorted(case.organisations()),
        case.integration_id,
        held.kind,
        held.starts_at,
        day.year,
        day.month,
        held.after_discharge,
    )
