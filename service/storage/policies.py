"""Reminder policy overrides in the database: read for every change to a case, written by coordinators."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from config.reminder_policy import PolicyOverrides
from scheduler.case import Case
from scheduler.events import CaseOpened, Event
from service.storage import store
from service.storage.store import Connection

Scope = Literal["region", "case"]


async def overrides_for(connection: Connection, region: str, case_id: str) -> PolicyOverrides:
    """The overrides that apply to a case: its region's and its own."""
    rows = await connection.fetch(
        "select scope, override from reminder_policies"
        " where (scope = 'region' and subject = $1) or (scope = 'case' and subject = $2)",
        region,
        case_id,
    )
    found = {row["scope"]: row["override"] for row in rows}
    return PolicyOverrides(region=found.get("region"), case=found.get("case"))


def _case_with_overrides(*columns: str) -> str:
    """A case under its lock, with the overrides that apply to it (and `columns`), in one round trip."""
    return (
        "select c.state,"
        " (select override from reminder_policies where scope = 'region' and subject = c.region)"
        " as region_override,"
        " (select override from reminder_policies where scope = 'case' and subject = c.case_id)"
        " as case_override" + "".join(f", {column}" for column in columns) + " from cases c"
        " where c.case_id = $1 for update of c"
    )


CASE_WITH_OVERRIDES = _case_with_overrides()
# With the case's owner, for the event processor: the case's later events (every one but its first) cost
# one round trip for what took three.
CASE_WITH_OVERRIDES_AND_OWNER = _case_with_overrides(
    "(select integration_id from case_owners o where o.case_id = c.case_id) as owner"
)


async def case_for_update(connection: Connection, case_id: str) -> tuple[Case | None, PolicyOverrides]:
    """The case, locked for update, and its overrides (none for a case that does not exist)."""
    row = await connection.fetchrow(CASE_WITH_OVERRIDES, case_id)
    if row is None:
        return None, PolicyOverrides()
    return Case.model_validate(row["state"]), PolicyOverrides(
        region=row["region_override"], case=row["case_override"]
    )


async def case_for_event(
    connection: Connection, event: Event
) -> tuple[Case | None, PolicyOverrides, str | None]:
    """The event's case, locked for update, the overrides for it and the integration that owns it.

    A case not stored yet has no row to read them with: its overrides are those of the region its
    `case.opened` names (none for any other event), and its owner is read on its own."""
    row = await connection.fetchrow(CASE_WITH_OVERRIDES_AND_OWNER, event.case_id)
    if row is not None:
        overrides = PolicyOverrides(region=row["region_override"], case=row["case_override"])
        return Case.model_validate(row["state"]), overrides, row["owner"]
    overrides = await overrides_for_event(connection, None, event)
    return None, overrides, await store.case_owner(connection, event.case_id)


async def overrides_for_event(connection: Connection, case: Case | None, event: Event) -> PolicyOverrides:
    """The overrides for the case an event is about; a `case.opened` names its region itself."""
    if case is not None:
        return await overrides_for(connection, case.region, case.case_id)
    if isinstance(event.data, CaseOpened):
        return await overrides_for(connection, event.data.region, event.case_id)
    return PolicyOverrides()


async def read_override(connection: Connection, scope: Scope, subject: str) -> dict[str, Any] | None:
    override: dict[str, Any] | None = await connection.fetchval(
        "select override from reminder_policies where scope = $1 and subject = $2", scope, subject
    )
    return override


async def write_override(
    connection: Connection,
    scope: Scope,
    subject: str,
    override: dict[str, Any],
    updated_by: str,
    now: datetime,
) -> None:
    """Replace the override; an empty one removes it (the layer below applies again)."""
    if not override:
        await connection.execute(
            "delete from reminder_policies where scope = $1 and subject = $2", scope, subject
        )
        return
    await connection.execute(
        "insert into reminder_policies (scope, subject, override, updated_at, updated_by)"
        " values ($1, $2, $3, $4, $5) on conflict (scope, subject) do update set"
        " override = excluded.override, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        scope,
        subject,
        override,
        now,
        updated_by,
    )
