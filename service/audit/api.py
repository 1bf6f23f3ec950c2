"""`GET /v1/audit-log`: the access log for auditors and admins, within their scope, oldest first.

`?sample=N` instead gives N entries drawn at random from those in scope (and matching the other filters,
`after` among them; `limit`, the size of a page, has no part in a sample): the care provider's systematic
checks of who read what (HSLF-FS 2016:40 4 kap. 9 §).
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import asyncpg
from aiohttp import web

from scheduler.events import IDENTIFIER_PATTERN
from service.access import Principal
from service.context import runtime
from service.http.api import authorize
from service.http.query import QueryReader
from service.storage.database import Pool
from service.storage.where import Where

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SAMPLE = 1000
_ENTRY_ID = re.compile(r"aud_([1-9][0-9]{0,17})", re.ASCII)
# Case ids, person references and actor ids are identifiers as the intake and the tokens make them.
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN.removeprefix("^").removesuffix("$"), re.ASCII)
MAX_IDENTIFIER = 100
_PARAMETERS = ("case_id", "person_reference", "actor", "since", "until", "limit", "after", "sample")
COLUMNS = (
    "seq, entry_id, at, actor_kind, actor_id, actor_organisation, action, channel, case_id,"
    " person_reference, request_id, recipient_organisation, recipient_participant, recipient_subscription"
)


def entry_view(row: asyncpg.Record) -> dict[str, Any]:
    """An entry as the API and the extract show it (CONTRACT, "Access log"); `recipient` says to whom a
    disclosure went (null for any other action)."""
    recipient = None
    if row["action"] == "disclose":
        recipient = {
            "organisation": row["recipient_organisation"],
            "participant_id": row["recipient_participant"],
            "subscription_id": row["recipient_subscription"],
        }
    return {
        "entry_id": row["entry_id"],
        "at": row["at"].astimezone(UTC).isoformat(),
        "actor": {
            "kind": row["actor_kind"],
            "id": row["actor_id"],
            "organisation": row["actor_organisation"],
        },
        "action": row["action"],
        "channel": row["channel"],
        "case_id": row["case_id"],
        "person_reference": row["person_reference"],
        "request_id": row["request_id"],
        "recipient": recipient,
    }


def entry_scope(principal: Principal) -> Where:
    """The entries of cases the principal sees, by the scope copied onto each entry; an entry about no
    case is for an admin only."""
    where = Where()
    if principal.role != "admin":
        where.add("audit_log.region is not null")
    where.scope(principal, "audit_log", by_integration=False)
    return where


def scoped(principal: Principal, case_id: str | None = None) -> Where:
    """The entries the principal may read, of one case if it is named."""
    where = entry_scope(principal)
    if case_id is not None:
        where.add("case_id = {0}", case_id)
    return where


async def drawn(pool: Pool, where: Where, size: int) -> list[asyncpg.Record]:
    """`size` entries drawn at random among those `where` admits, shown oldest first."""
    rows: list[asyncpg.Record] = await pool.fetch(
        f"select * from (select {COLUMNS} from audit_log where {where.sql()}"
        f" order by random() limit ${len(where.args) + 1}) drawn order by seq",
        *where.args,
        size,
    )
    return rows


def _identifier(query: QueryReader, name: str) -> str | None:
    value = query.text(name)
    if value is not None and (len(value) > MAX_IDENTIFIER or not _IDENTIFIER.fullmatch(value)):
        query.fail(name, f"must be an id of at most {MAX_IDENTIFIER} letters, digits and . _ : -")
        return None
    return value


def _after(query: QueryReader) -> int | None:
    value = query.text("after")
    if value is None:
        return None
    match = _ENTRY_ID.fullmatch(value)
    if match is None:
        query.fail("after", "not a cursor this endpoint gave as `next`")
        return None
    return int(match.group(1))


def _sample(query: QueryReader) -> int | None:
    value = query.text("sample")
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", value, re.ASCII) or not 1 <= int(value) <= MAX_SAMPLE:
        query.fail("sample", f"must be a whole number from 1 to {MAX_SAMPLE}")
        return None
    return int(value)


async def list_entries(request: web.Request) -> web.Response:
    principal = await authorize(request, "auditor")
    query = QueryReader(request.query, _PARAMETERS)
    case_id, person_reference, actor = (
        _identifier(query, "case_id"),
        _identifier(query, "person_reference"),
        _identifier(query, "actor"),
    )
    since, until = query.moment("since"), query.moment("until")
    sample = _sample(query)
    limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)
    after = _after(query)
    query.raise_if_any()

    where = entry_scope(principal)
    if case_id is not None:
        where.add("case_id = {0}", case_id)
    if person_reference is not None:
        where.add("person_reference = {0}", person_reference)
    if actor is not None:
        where.add("actor_id = {0}", actor)
    if since is not None:
        where.add("at >= {0}", since)
    if until is not None:
        where.add("at < {0}", until)
    if after is not None:
        where.add("seq > {0}", after)
    pool = runtime(request).pool
    if sample is not None:
        rows = await drawn(pool, where, sample)
        return web.json_response({"entries": [entry_view(row) for row in rows], "next": None})
    # One row more than asked for tells whether there is a next page.
    rows = await pool.fetch(
        f"select {COLUMNS} from audit_log where {where.sql()} order by seq limit ${len(where.args) + 1}",
        *where.args,
        limit + 1,
    )
    page = rows[:limit]
    following = page[-1]["entry_id"] if len(rows) > limit else None
    return web.json_response({"entries": [entry_view(row) for row in page], "next": following})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit-log", list_entries)
