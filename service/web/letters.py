"""Brev (`/app/letters`): the print queue of `GET /v1/letters`, through the API's own functions
(`service.letters_api`): each letter's PDF to download, and a button that marks it posted.

Coordinators and admins, within their scope, as for the API. The letters' reads are in `_letters` and
`_pdf`, the one change in `_posted`: one place each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiohttp import web

from calendars.stockholm import STOCKHOLM
from service.access import Principal
from service.context import Runtime, runtime
from service.http import letters_api
from service.web.scope import forbidden, principal
from service.web.templating import render

KIND_NAMES = {
    "request": "Kallelse",
    "update": "Ändrad kallelse",
    "cancel": "Inställt möte",
    "reminder": "Påminnelse",
    "notice": "Meddelande",
    "survey": "Enkät",
}
VIEWS = {"att-skriva-ut": "queued", "postade": "sent"}
LIMIT = 200
_NOT_ALLOWED = "Utskriftskön är till för samordnare."


@dataclass(frozen=True)
class LetterRow:
    letter_id: str
    case_id: str
    meeting_id: str | None
    kind: str
    created: str
    posted: str | None


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if moment else None


def _row(record: asyncpg.Record) -> LetterRow:
    return LetterRow(
        record["letter_id"],
        record["case_id"],
        record["meeting_id"],
        KIND_NAMES.get(record["kind"], record["kind"]),
        _local(record["created_at"]) or "",
        _local(record["sent_at"]),
    )


async def _letters(rt: Runtime, who: Principal, state: str) -> list[LetterRow]:
    return [_row(record) for record in await letters_api.letters_in_scope(rt, who, state, LIMIT, "web")]


async def _pdf(rt: Runtime, who: Principal, letter_id: str) -> bytes | None:
    return await letters_api.letter_pdf_bytes(rt, who, letter_id, "web")


async def _posted(rt: Runtime, who: Principal, letter_id: str) -> bool:
    return await letters_api.mark_posted(rt, who, letter_id) is not None


async def letters_page(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.may("coordinator"):
        return forbidden(request, _NOT_ALLOWED)
    view = request.query.get("visa", "att-skriva-ut")
    if view not in VIEWS:
        raise web.HTTPNotFound()
    return render(
        request,
        "letters.html",
        title="Brev",
        view=view,
        letters=await _letters(runtime(request), who, VIEWS[view]),
        limit=LIMIT,
        posted=request.query.get("postat") == "1",
    )


async def letter_pdf(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    if not who.may("coordinator"):
        return forbidden(request, _NOT_ALLOWED)
    letter_id = request.match_info["letter_id"]
    pdf = await _pdf(runtime(request), who, letter_id)
    if pdf is None:
        raise web.HTTPNotFound()
    if not pdf:
        raise web.HTTPGone()
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{letter_id}.pdf"'},
    )


async def mark_posted(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.may("coordinator"):
        return forbidden(request, _NOT_ALLOWED)
    if not await _posted(runtime(request), who, request.match_info["letter_id"]):
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther("/app/letters?postat=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/letters", letters_page)
    app.router.add_get("/letters/{letter_id}.pdf", letter_pdf)
    app.router.add_post("/letters/{letter_id}/posted", mark_posted)
