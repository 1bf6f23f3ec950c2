"""Retention in the database: each closed case's erasure timer, and the erasure itself.

A case that closes (`case.closed`, or `consent.withdrawn`, which closes it) gets one durable timer, due
`SIPVAKT_RETENTION_DAYS` after it closed. When it fires, the timer worker (holding the case's lock, in the
transaction that marks the timer done) erases, in that one transaction, the case's names, addresses and free
text from every table that holds them and deletes the `.eml` files of its messages; `scheduler.retention`
says what of the case document stays. Erasing again finds nothing more to do.

The setting is read at start: every process arms new timers with it, and `align` moves the timers of cases
closed earlier to `closed_at` plus the days now set (later or sooner), so a changed setting holds for every
case, closed before the change or after. A timer that fires before its case's time under the firing
process's own setting (one process started with more days than another) is moved, never erased early.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

from notifiers.transport import eml_name
from scheduler.case import Case
from scheduler.digest import Digest
from scheduler.effects import SetTimer
from scheduler.retention import RETENTION_KEY, RETENTION_KIND, erase, erase_due
from scheduler.timers import DueTimer
from service.audit import record as audit
from service.audit.record import SERVICE, CaseRef, Entry
from service.http.views import case_view
from service.storage import store
from service.storage.store import ERASED_PAYLOAD, KEPT_PAYLOAD_KEYS, Connection

log = logging.getLogger(__name__)

# Closed cases not yet erased, each with its timer at closed_at + the retention; only timers still waiting
# are moved (a running one is its worker's, a dead one waits for someone to look at it).
ALIGN = """
insert into timers (case_id, key, kind, due_at, payload, created_at, updated_at)
select case_id, $1, $2, (state ->> 'closed_at')::timestamptz + $3::interval, '{}', $4, $4 from cases
where status = 'closed' and state ->> 'closed_at' is not null and state ->> 'erased_at' is null
on conflict (case_id, key) do update set due_at = excluded.due_at, updated_at = excluded.updated_at
where timers.state = 'scheduled' and timers.due_at <> excluded.due_at
"""

# Digests belong to no single case; these mention the given one in one of their lists.
DIGESTS_OF_CASE = (
    "select message_id, payload from outbox where case_id is null and kind = 'digest'"
    " and jsonb_path_exists(payload, '$.*[*] ? (@.case_id == $id)', jsonb_build_object('id', $1::text))"
)


async def arm(connection: Connection, case: Case, retention: timedelta, now: datetime) -> None:
    """Arm the erasure of a case that is closed and not yet erased; do nothing for any other."""
    due_at = erase_due(case, retention)
    if due_at is not None:
        timer = SetTimer(key=RETENTION_KEY, kind=RETENTION_KIND, due_at=due_at)
        await store.set_timer(connection, case.case_id, timer, now)


async def align(connection: Connection, retention: timedelta, now: datetime) -> int:
    """Give every closed, unerased case its timer under the current setting; return how many moved."""
    result = await connection.execute(ALIGN, RETENTION_KEY, RETENTION_KIND, retention, now)
    return int(result.split()[-1])


class CaseEraser:
    """The handler of the retention timer."""

    def __init__(self, retention: timedelta, outbox_dir: Path | None) -> None:
        self.retention = retention
        self.outbox_dir = outbox_dir

    async def __call__(self, connection: Connection, timer: DueTimer, now: datetime) -> None:
        case = await store.load_case(connection, timer.case_id, for_update=True)
        if case is None or case.status != "closed":
            return
        due_at = erase_due(case, self.retention)
        if due_at is not None and due_at > now:
            await arm(connection, case, self.retention, now)
            return
        await erase_case(connection, case, now, self.outbox_dir)


async def erase_case(connection: Connection, case: Case, now: datetime, outbox_dir: Path | None) -> None:
    """Erase the case everywhere, in the caller's transaction (the case's lock held). The files go first:
    if the transaction then fails, the timer fires again and finds them gone."""
    case_id = case.case_id
    erased = erase(case, now)
    message_ids = [
        row["message_id"]
        for row in await connection.fetch("select message_id from outbox where case_id = $1", case_id)
    ]
    message_ids += await _erase_from_digests(connection, case_id)
    if outbox_dir is not None:
        for message_id in message_ids:
            (outbox_dir / eml_name(message_id)).unlink(missing_ok=True)
    await store.save_case(connection, erased, now)
    await erase_events(connection, case_id)
    await connection.execute(
        "update outbox set recipient = '', last_error = null,"
        f" payload = {ERASED_PAYLOAD}, state = case when state = 'queued' then 'cancelled' else state end"
        " where case_id = $2",
        KEPT_PAYLOAD_KEYS,
        case_id,
    )
    await connection.execute("update letters set pdf = ''::bytea where case_id = $1", case_id)
    await connection.execute(
        "update deviations set acknowledgement_note = '' where case_id = $1 and acknowledgement_note <> ''",
        case_id,
    )
    await connection.execute("delete from reply_tokens where case_id = $1", case_id)
    await connection.execute(
        "update timers set payload = '{}', last_error = null where case_id = $1", case_id
    )
    await _erase_webhook_events(connection, erased)
    # The erasure is a change to the case, made by the service itself, logged in this transaction.
    scope = CaseRef(case_id, erased.person.reference, erased.region, sorted(erased.organisations()))
    await audit.record(connection, Entry(now, SERVICE, "change", "api", scope))
    log.info("case erased under retention", extra={"case_id": case_id})


async def erase_events(connection: Connection, case_id: str) -> None:
    """Keep of each stored event of the case its type, case and time; its data goes. Also used for an
    event that reaches a case already erased (it is refused, since the case is closed)."""
    await connection.execute(
        "update events set payload = payload || '{\"data\": {}}'::jsonb where case_id = $1"
        " and payload -> 'data' <> '{}'::jsonb",
        case_id,
    )


async def _erase_from_digests(connection: Connection, case_id: str) -> list[str]:
    """Take the case out of every digest that lists it; a digest left with nothing loses its address too.
    Return the digests' message ids: their files, sent with the case in them, are deleted."""
    rows = await connection.fetch(DIGESTS_OF_CASE, case_id)
    for row in rows:
        kept = Digest.from_payload(row["payload"]).without_case(case_id)
        await connection.execute(
            "update outbox set payload = $2, recipient = case when $3 then '' else recipient end"
            " where message_id = $1",
            row["message_id"],
            kept.payload(),
            kept.empty,
        )
    return [row["message_id"] for row in rows]


async def _erase_webhook_events(connection: Connection, erased: Case) -> None:
    """Outgoing `case.updated` bodies carry the case as it was: each now carries the erased case, so that a
    delivery still retrying sends nothing erased. Delivery errors (a receiver's words) go too."""
    view = case_view(erased, [])
    rows = await connection.fetch(
        "select webhook_id, body from webhook_events where case_id = $1 and type = 'case.updated'",
        erased.case_id,
    )
    for row in rows:
        body = json.loads(row["body"])
        body["data"] = view
        await connection.execute(
            "update webhook_events set body = $2 where webhook_id = $1",
            row["webhook_id"],
            json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        )
    await connection.execute(
        "update webhook_deliveries set last_error = null where webhook_id in"
        " (select webhook_id from webhook_events where case_id = $1)",
        erased.case_id,
    )
