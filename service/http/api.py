"""The reading API, health, metrics and the test clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, ValidationError

from scheduler.events import LAST_YEAR, field_errors
from service import access
from service.access import Principal, Role
from service.audit.reading import open_case
from service.context import runtime
from service.http.problems import DatabaseUnavailable, Problem
from service.http.query import refuse_query
from service.http.testclock import ClockMovedBack, ClockNotSettled, pass_time
from service.http.views import case_view
from service.storage.acknowledgements import acknowledgements_of

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_SECONDS = 120.0
READERS: tuple[Role, ...] = ("integration", "coordinator", "auditor")


async def authorize(request: web.Request, *roles: Role) -> Principal:
    """The caller's principal if its token is valid and its role one of `roles`; 401 or 403 otherwise."""
    rt = runtime(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "send a token as 'Authorization: Bearer <token>'")
    async with rt.pool.acquire() as connection:
        principal = await access.authenticate(connection, token.strip(), rt.settings.admin_token)
    if principal is None:
        raise Problem(401, "unauthorized", "the token is unknown or revoked")
    if not principal.may(*roles):
        raise Problem(403, "forbidden", f"the role '{principal.role}' may not do this")
    return principal


async def get_case(request: web.Request) -> web.Response:
    principal = await authorize(request, *READERS)
    refuse_query(request.query)
    rt = runtime(request)
    case_id = request.match_info["case_id"]
    # The case and its read's access-log entry come in one statement.
    opened = await open_case(rt.pool, principal, case_id, "api", await rt.clock.now())
    if opened is None:
        raise Problem(404, "not-found", "no case with this id")
    async with rt.pool.acquire() as connection:
        stopped = await connection.fetch(
            "select key, attempts from timers where case_id = $1 and state = 'dead' order by key", case_id
        )
        acknowledged = await acknowledgements_of(connection, case_id)
    return web.json_response(
        case_view(opened.case, [(timer["key"], timer["attempts"]) for timer in stopped], acknowledged)
    )


async def get_event(request: web.Request) -> web.Response:
    """How far an accepted event has come: pending, waiting (for a predecessor), applied or rejected."""
    principal = await authorize(request, "integration")
    refuse_query(request.query)
    rt = runtime(request)
    row = await rt.pool.fetchrow(
        "select event_id, integration_id, case_id, type, state, detail, received_at, applied_at"
        " from events where event_id = $1",
        request.match_info["event_id"],
    )
    visible = row is not None and (
        principal.role == "admin" or row["integration_id"] == principal.integration_id
    )
    if row is None or not visible:
        raise Problem(404, "not-found", "no event with this id")
    return web.json_response(
        {
            "event_id": row["event_id"],
            "case_id": row["case_id"],
            "type": row["type"],
            "status": row["state"],
            "detail": row["detail"],
            "received_at": row["received_at"].isoformat(),
            "applied_at": row["applied_at"].isoformat() if row["applied_at"] else None,
        }
    )


async def health(request: web.Request) -> web.Response:
    """200 when the database answers through the pool and the LISTEN connection is open; otherwise the
    same 503 every route gives during an outage (the error middleware shapes it)."""
    rt = runtime(request)
    if not rt.database.available:
        raise DatabaseUnavailable()
    await rt.pool.fetchval("select 1")
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = await rt.metrics.render(rt.pool, database_up=rt.database.available)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _before_the_end(moment: datetime) -> datetime:
    # Every timer and deadline is computed from the clock; past 2100 the calendar's holidays and the
    # arithmetic of dates run out, and a clock there could never be moved back.
    if moment.year > LAST_YEAR:
        raise ValueError(f"the test clock does not go past the year {LAST_YEAR}")
    return moment


class ClockMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: Annotated[AwareDatetime, AfterValidator(_before_the_end)]


async def get_test_clock(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response({"now": _iso(await rt.clock.now())})


async def post_test_clock(request: web.Request) -> web.Response:
    rt = runtime(request)
    try:
        move = ClockMove.model_validate_json(await request.read())
    except ValidationError as exc:
        errors = [error.model_dump() for error in field_errors(exc)]
        raise Problem(400, "invalid-clock", 'send {"now": "<RFC 3339 time>"}', errors=errors) from None
    try:
        now = await pass_time(rt.pool, move.now, SETTLE_TIMEOUT_SECONDS)
    except ClockMovedBack as exc:
        raise Problem(
            409, "clock-moved-back", "the test clock never moves back", now=_iso(exc.current)
        ) from None
    except ClockNotSettled as exc:
        raise _unsettled(exc) from None
    return web.json_response({"now": _iso(now)})


def _unsettled(stuck: ClockNotSettled) -> Problem:
    if stuck.moved:
        detail = "work due at the time the clock reached is still pending; the clock stopped there"
    else:
        detail = "work due before the move is still pending; the clock was not moved"
    left = stuck.left
    return Problem(
        504,
        "clock-not-settled",
        detail,
        now=_iso(stuck.at),
        events=left.events,
        timers=left.timers,
        messages=left.messages,
        webhooks=left.webhooks,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
