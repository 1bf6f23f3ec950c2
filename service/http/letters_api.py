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
from service.access import Principal
from service.audit.record import CaseRef, Channel, Entry, actor_of, record, record_cases
from service.context import Runtime, runtime
from service.http.api import authorize
from service.http.problems import Problem
from service.http.query import QueryReader
from service.workers.outcomes import DeliveryOutcomes, InvitationMessage

STATES = ("queued", "sent")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _scope(principal: Principal) -> tuple[list[str] | None, list[str] | None]:
    return principal.region_filter(), principal.organisation_filter()


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


async def letters_in_scope(
    rt: Runtime, principal: Principal, state: str, limit: int, channel: Channel
) -> list[asyncpg.Record]:
    """The print queue (or the posted letters) of the cases the principal sees, oldest first. The queue
    names cases and their meetings and participants: a read of each case listed, logged with it."""
    regions, organisations = _scope(principal)
    async with rt.pool.acquire() as connection, connection.transaction():
        rows: list[asyncpg.Record] = await connection.fetch(
            f"select {_COLUMNS} from letters where {_IN_SCOPE} and state = $3"
            " order by created_at, letter_id limit $4",
            regions,
            organisations,
            state,
            limit,
        )
        await record_cases(
            connection,
            await rt.clock.now(),
            actor_of(principal),
            "read",
            channel,
            [r["case_id"] for r in rows],
        )
    return rows


async def letter_pdf_bytes(
    rt: Runtime, principal: Principal, letter_id: str, channel: Channel
) -> bytes | None:
    """The letter's PDF; None when the principal sees no such letter, empty once retention erased it.
    The letter is fetched to be printed: a print of its case, logged before the PDF leaves."""
    regions, organisations = _scope(principal)
    letter = await rt.pool.fetchrow(
        "select l.pdf, l.case_id, l.region, l.organisations, c.state -> 'person' ->> 'reference' as reference"
        " from letters l left join cases c using (case_id)"
        " where ($1::text[] is null or l.region = any($1)) and ($2::text[] is null or l.organisations && $2)"
        " and l.letter_id = $3",
        regions,
        organisations,
        letter_id,
    )
    if letter is None:
        return None
    pdf: bytes = letter["pdf"] or b""
    if pdf:
        case = CaseRef(letter["case_id"], letter["reference"], letter["region"], letter["organisations"])
        async with rt.pool.acquire() as connection:
            await record(connection, Entry(await rt.clock.now(), actor_of(principal), "print", channel, case))
    return pdf


async def mark_posted(rt: Runtime, principal: Principal, letter_id: str) -> asyncpg.Record | None:
    """Record that the letter was posted; posting it again changes nothing (idempotent). Posting an
    invitation sends it: the case is brought up to date in the same transaction. None: no such letter."""
    regions, organisations = _scope(principal)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        row: asyncpg.Record | None = await connection.fetchrow(
            f"update letters set state = 'sent', sent_at = coalesce(sent_at, $4) where {_IN_SCOPE}"
            f" and letter_id = $3 returning {_COLUMNS}, sequence",
            regions,
            organisations,
            letter_id,
            now,
        )
        if row is None:
            return None
        if row["participant_id"] is not None and row["meeting_id"] is not None:
            outcomes = DeliveryOutcomes(DeadlinePlanner(rt.rulebook, WorkingCalendar()))
            letter = InvitationMessage(
                row["case_id"], row["meeting_id"], row["participant_id"], row["kind"], row["sequence"]
            )
            await outcomes.delivered(connection, letter, row["sent_at"])
    return row


async def list_letters(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    query = QueryReader(request.query, ("state", "limit"))
    state = query.choice("state", STATES, default="queued")
    limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)
    query.raise_if_any()
    assert state is not None
    rows = await letters_in_scope(runtime(request), principal, state, limit, "api")
    return web.json_response({"letters": [_view(row) for row in rows]})


async def letter_pdf(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    letter_id = request.match_info["letter_id"]
    pdf = await letter_pdf_bytes(runtime(request), principal, letter_id, "api")
    if pdf is None:
        raise Problem(404, "not-found", "no letter with this id")
    if not pdf:
        raise Problem(410, "erased", "the letter was erased when its case's retention ended")
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{letter_id}.pdf"', "Cache-Control": "no-store"},
    )


async def mark_sent(request: web.Request) -> web.Response:
    principal = await authorize(request, "coordinator")
    row = await mark_posted(runtime(request), principal, request.match_info["letter_id"])
    if row is None:
        raise Problem(404, "not-found", "no letter with this id")
    return web.json_response(_view(row))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/letters", list_letters)
    app.router.add_get("/v1/letters/{letter_id}.pdf", letter_pdf)
    app.router.add_post("/v1/letters/{letter_id}/sent", mark_sent)
