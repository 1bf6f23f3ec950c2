"""Writing access-log entries: the one call every handler that reads or changes a case makes.

An API or page handler that shows a case opens it with `service.audit.reading.open_case` (the case and
its entry in one statement); `record` writes an entry on its own, in the caller's transaction (a policy
change, a print, the erasure under retention), and `record_cases` one for each case a listing shows.
Disclosures (mail, letters, outgoing webhooks) are written by the database itself when their outbox row
commits (migration 0012).
The database numbers, links and hashes every entry.

An append to the chain takes the chain head's row lock until its transaction ends. So that it is the
last lock a transaction takes (taken earlier, it could wait for a lock held by a transaction that itself
waits, at its commit, to append: a deadlock), `record` and `record_cases` stage their entries and the
database appends them at commit (migration 0012, `audit_pending`), as it does disclosures; `open_case`,
one statement on its own, appends at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

from service.access import Principal
from service.logs import request_id
from service.storage.store import Connection

Action = Literal["read", "change", "disclose", "print", "export"]
Channel = Literal["api", "web", "mail", "letter", "webhook"]
ActorKind = Literal["token", "user", "service"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    organisation: str | None


# What the service does on its own (retention, disclosures): no person acted.
SERVICE = Actor("service", "sipvakt", None)


def actor_of(principal: Principal) -> Actor:
    """A token or signed-in user as the log names them; their organisations, comma-separated ('*': all)."""
    return Actor(principal.kind, principal.token_id, ",".join(sorted(principal.organisations)) or None)


@dataclass(frozen=True)
class CaseRef:
    """What the log keeps of the case an entry is about: its id, person reference and scope."""

    case_id: str
    person_reference: str | None
    region: str
    organisations: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: Actor
    action: Action
    channel: Channel
    case: CaseRef

    def values(self) -> list[object]:
        return [
            self.at,
            self.actor.kind,
            self.actor.id,
            self.actor.organisation,
            self.action,
            self.channel,
            self.case.case_id,
            self.case.person_reference,
            request_id.get(),
            self.case.region,
            sorted(self.case.organisations),
        ]


_COLUMNS = (
    "at, actor_kind, actor_id, actor_organisation, action, channel, case_id, person_reference, request_id,"
    " region, organisations"
)
_ARITY = 11


async def record(connection: Connection, entry: Entry) -> None:
    """Write one entry in the caller's transaction: staged now, appended to the chain at its commit."""
    params = ", ".join(f"${1 + index}" for index in range(_ARITY))
    await connection.execute(f"insert into audit_pending ({_COLUMNS}) values ({params})", *entry.values())


async def record_cases(
    connection: Connection,
    at: datetime,
    actor: Actor,
    action: Action,
    channel: Channel,
    case_ids: Sequence[str],
) -> None:
    """One entry per case of a listing (each case once), read from the cases themselves, in one INSERT."""
    if not case_ids:
        return
    await connection.execute(
        f"insert into audit_pending ({_COLUMNS}) select $1, $2, $3, $4, $5, $6, c.case_id,"
        " c.state -> 'person' ->> 'reference', $7, c.region, c.organisations from cases c"
        " where c.case_id = any($8::text[]) order by c.case_id",
        at,
        actor.kind,
        actor.id,
        actor.organisation,
        action,
        channel,
        request_id.get(),
        sorted(set(case_ids)),
    )


# The columns of `cases` an entry needs, for handlers that look a case up anyway.
CASE_COLUMNS = "region, organisations, integration_id, state -> 'person' ->> 'reference' as person_reference"


def case_ref(case_id: str, row: Mapping[str, Any] | asyncpg.Record) -> CaseRef:
    """The entry's case from a row read with CASE_COLUMNS."""
    return CaseRef(case_id, row["person_reference"], row["region"], row["organisations"])
