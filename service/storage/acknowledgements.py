"""Acknowledging a deviation: a coordinator in scope says they have seen it, with a note of their own.

`POST /v1/cases/{case_id}/deviations/{deviation_id}/acknowledgement` with `{"note": "…"}`; the web app's
form does the same through `acknowledge`. The first acknowledgement is the one kept: acknowledging again,
by anyone, changes nothing and answers with the first one, so a retried request is harmless and nobody's
note is overwritten. The note is free text: one holding a personnummer or samordningsnummer is refused
(400 at `note`, never echoed), and it never leaves the service (no API answer, message or webhook
carries it); only the web app shows it, to those who see the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from scheduler.events import FieldError, field_errors
from scheduler.identity import contains_identity_number
from service.access import Principal
from service.audit.record import Channel, actor_of, record_cases
from service.storage.store import Connection

NOTE_MAX_LENGTH = 2000


def _no_identity_number(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    if contains_identity_number(value):
        raise ValueError("must not contain a personnummer or samordningsnummer")
    return value


# May be empty: often there is nothing to add to "seen".
Note = Annotated[
    str,
    # The length is checked as sent (as the OpenAPI document's maxLength says), the spaces around it
    # dropped only after.
    StringConstraints(max_length=NOTE_MAX_LENGTH),
    AfterValidator(_no_identity_number),
    AfterValidator(str.strip),
]


class AcknowledgementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    note: Note


@dataclass(frozen=True)
class Acknowledgement:
    acknowledged_at: datetime
    acknowledged_by: str
    note: str


class NoteRefused(ValueError):
    """The note cannot be kept; `errors` say where and why, without the note."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("the note cannot be kept")
        self.errors = errors


def checked_note(body: object) -> str:
    """The note of an acknowledgement body, or NoteRefused naming every fault."""
    try:
        return AcknowledgementRequest.model_validate(body).note
    except ValidationError as exc:
        raise NoteRefused(field_errors(exc)) from None


async def acknowledgements_of(connection: Connection, case_id: str) -> dict[str, Acknowledgement]:
    """The acknowledged deviations of a case, by deviation id."""
    rows = await connection.fetch(
        "select deviation_id, acknowledged_at, acknowledged_by, acknowledgement_note from deviations"
        " where case_id = $1 and acknowledged_at is not null",
        case_id,
    )
    return {
        row["deviation_id"]: Acknowledgement(
            row["acknowledged_at"], row["acknowledged_by"], row["acknowledgement_note"] or ""
        )
        for row in rows
    }


async def acknowledge(
    connection: Connection,
    case_id: str,
    deviation_id: str,
    principal: Principal,
    note: str,
    now: datetime,
    channel: Channel,
) -> Acknowledgement | None:
    """Acknowledge the deviation of this case (the caller has checked that the case is in scope); the
    acknowledgement in force afterwards, or None when the case has no such deviation. A first
    acknowledgement is a change made by a person: its access-log entry is written with it."""
    row = await connection.fetchrow(
        "update deviations set acknowledged_at = $3, acknowledged_by = $4, acknowledgement_note = $5"
        " where deviation_id = $1 and case_id = $2 and acknowledged_at is null"
        " returning acknowledged_at, acknowledged_by, acknowledgement_note",
        deviation_id,
        case_id,
        now,
        principal.token_id,
        note,
    )
    if row is not None:
        await record_cases(connection, now, actor_of(principal), "change", channel, [case_id])
    else:
        row = await connection.fetchrow(
            "select acknowledged_at, acknowledged_by, acknowledgement_note from deviations"
            " where deviation_id = $1 and case_id = $2",
            deviation_id,
            case_id,
        )
    if row is None:
        return None
    return Acknowledgement(row["acknowledged_at"], row["acknowledged_by"], row["acknowledgement_note"] or "")


async def case_in_scope(connection: Connection, case_id: str, principal: Principal) -> bool:
    row = await connection.fetchrow(
        "select region, organisations, integration_id from cases where case_id = $1", case_id
    )
    return row is not None and principal.sees(row["region"], row["organisations"], row["integration_id"])
