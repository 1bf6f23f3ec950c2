"""The print queue: letters for participants without e-mail, for coordinators to print and post.

`GET /v1/letters?state=queued|sent` lists them, `GET /v1/letters/{id}.pdf` gives one, `POST
/v1/letters/{id}/sent` records that it was posted. A token sees the letters of the cases it sees: its
regions and organisations; outside its scope a letter does not exist (404).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from calendars.workdays import WorkingCalendar
from scheduler.planning import DeadlinePlanner
from service.access import EVERYTHING, Principal
from service.api import authorize
from service.audit.record import CaseRef, Entry, actor_of, record, record_cases
from service.context import runtime
from service.outcomes import DeliveryOutcomes, InvitationMessage
from service.problems import Problem
from service.query import QueryReader

STATES = ("queued", "sent")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _scope(principal: Principal) -> tuple[list[str] | None, list[str] | None]:
    regions = principal.region_filter()
    everything = principal.role == "admin" or EVERYTHING in principal.organisations
    return regions, None if everything else sorted(principal.organisations)


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "letter_id": row["letter_id"],
        "case_id": row["case_id"],
        "meeting_id": row["meeting_id"],
        "participant_id": row["participant_id"],
        "kind": row["kind"],
        "state": row["state"],
        "created_at": _iso(row["created_at"]),
        "sent_at": _iso(row["sent_at"]),
        "pdf_url": f"/v1/letters/{row['letter_id']}.pdf",
    }


_COLUMNS = "letter_id, case_id, meeting_id, participant_id, kind, state, created_at, sent_at"
_IN_SCOPE = "($1::text[] is null or region = any($1)) and ($2::text[] is null or organisations && $2)"


async def list_letters(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    query = QueryReader(request.query, ("state", "limit"))
    state = query.choice("state", STATES, default="queued")
    limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)
    query.raise_if_any()
    regions, organisations = _scope(principal)
    rt = runtime(request)
    async with rt.pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            f"select {_COLUMNS} from letters where {_IN_SCOPE} and state = $3"
            " order by created_at, letter_id limit $4",
            regions,
            organisations,
            state,
            limit,
        )
        # The queue names cases and their meetings and participants: a read of each case listed.
        await record_cases(
            connection, await rt.clock.now(), actor_of(principal), "read", "api", [r["case_id"] for r in rows]
        )
    return web.json_response({"letters": [_view(row) for row in rows]})


async def letter_pdf(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    regions, organisations = _scope(principal)
    rt = runtime(request)
    letter = await rt.pool.fetchrow(
        "select l.pdf, l.case_id, l.region, l.organisations, c.state -> 'person' ->> 'reference' as reference"
        " from letters l join cases c using (case_id)"
        " where ($1::text[] is null or l.region = any($1)) and ($2::text[] is null or l.organisations && $2)"
        " and l.letter_id = $3",
        regions,
        organisations,
        request.match_info["letter_id"],
    )
    if letter is None:
        raise Problem(404, "not-found", "no letter with this id")
    pdf = letter["pdf"]
    if not pdf:
        raise Problem(410, "erased", "the letter was erased when its case's retention ended")
    # The letter is fetched to be printed: a print of its case, written before the PDF leaves.
    case = CaseRef(letter["case_id"], letter["reference"], letter["region"], letter["organisations"])
    entry = Entry(await rt.clock.now(), actor_of(principal), "print", "api", case)
    async with rt.pool.acquire() as connection:
        await record(connection, entry)
    letter_id = request.match_info["letter_id"]
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{letter_id}.pdf"', "Cache-Control": "no-store"},
    )


async def mark_sent(request: web.Request) -> web.Response:
    """Record that the letter was posted; posting it again changes nothing (idempotent). Posting an
    invitation sends it: the case is brought up to date in the same transaction."""
    principal = await authorize(request, "coordinator")
    rt = runtime(request)
    regions, organisations = _scope(principal)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            f"update letters set state = 'sent', sent_at = coalesce(sent_at, $4) where {_IN_SCOPE}"
            f" and letter_id = $3 returning {_COLUMNS}, sequence",
            regions,
            organisations,
            request.match_info["letter_id"],
            now,
        )
        if row is None:
            raise Problem(404, "not-found", "no letter with this id")
        if row["participant_id"] is not None and row["meeting_id"] is not None:
            outcomes = DeliveryOutcomes(DeadlinePlanner(rt.rulebook, WorkingCalendar()))
            letter = InvitationMessage(
                row["case_id"], row["meeting_id"], row["participant_id"], row["kind"], row["sequence"]
            )
            await outcomes.delivered(connection, letter, row["sent_at"])
    return web.json_response(_view(row))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/letters", list_letters)
    app.router.add_get("/v1/letters/{letter_id}.pdf", letter_pdf)
    app.router.add_post("/v1/letters/{letter_id}/sent", mark_sent)
