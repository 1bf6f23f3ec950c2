"""Opening a case to show it: the case if the principal may see it, and its read entry, in one statement.

Every handler that shows a case (an API answer, a page of the web app) opens it here, so that a read
without its entry cannot be written by accident: a page added later calls `open_case` with channel `web`
and is logged like the rest. Outside the principal's scope the case is not found and nothing is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.case import Case
from service.access import Principal
from service.audit.record import Action, Channel, actor_of
from service.logs import request_id
from service.storage.database import Pool

# The scope test is `Principal.sees` in SQL; the INSERT in the WITH runs once, and only for a row found.
_OPEN = """
with found as (
    select case_id, state, region, organisations, integration_id from cases
    where case_id = $1
      and ($2::text is null or integration_id = $2)
      and ($3::text[] is null or region = any($3))
      and ($4::text[] is null or organisations && $4)
), entry as (
    insert into audit_log (at, actor_kind, actor_id, actor_organisation, action, channel, case_id,
        person_reference, request_id, region, organisations)
    select $5, $6, $7, $8, $9, $10, case_id, state -> 'person' ->> 'reference', $11, region, organisations
    from found
)
select state, region, organisations from found
"""


@dataclass(frozen=True)
class OpenedCase:
    case: Case
    region: str
    organisations: list[str]


def _scope(principal: Principal) -> tuple[str | None, list[str] | None, list[str] | None]:
    if principal.role == "admin":
        return None, None, None
    return principal.integration_id, principal.region_filter(), principal.organisation_filter()


async def open_case(
    pool: Pool,
    principal: Principal,
    case_id: str,
    channel: Channel,
    at: datetime,
    action: Action = "read",
) -> OpenedCase | None:
    """The case, logged as read (or printed, exported) by the principal; None outside their scope. Call it
    outside a transaction: it is one of its own, which appends to the chain and commits."""
    actor = actor_of(principal)
    row = await pool.fetchrow(
        _OPEN,
        case_id,
        *_scope(principal),
        at,
        actor.kind,
        actor.id,
        actor.organisation,
        action,
        channel,
        request_id.get(),
    )
    if row is None:
        return None
    return OpenedCase(Case.model_validate(row["state"]), row["region"], list(row["organisations"]))
