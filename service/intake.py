"""`POST /v1/events`: verify, validate, store durably, answer. Processing happens afterwards."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web

from scheduler.accepted import accept_event
from scheduler.events import Event, EventValidationError, FieldError, MeetingRescheduled, MeetingScheduled
from service import access, store
from service.context import runtime
from service.json_input import JsonInputError, parse_json
from service.problems import Problem, invalid_fields
from service.signatures import SignatureError, verify

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
JSON_TYPES = {"application/json"}


async def receive_event(request: web.Request) -> web.Response:
    rt = runtime(request)
    try:
        response = await _receive(request)
    except Problem as problem:
        rt.metrics.events_rejected.labels(problem.slug).inc()
        raise
    rt.metrics.events_accepted.inc()
    return response


async def _receive(request: web.Request) -> web.Response:
    rt = runtime(request)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "body-too-large", f"the body is larger than {MAX_BODY} bytes")
    if request.content_type not in JSON_TYPES:
        raise Problem(415, "unsupported-media-type", "events are sent as Content-Type: application/json")
    body = await _read_limited(request)
    # The business time first: the test clock reads it from the database, and a request holding one
    # connection while it waits for a second could starve the pool.
    now = await rt.clock.now()
    # One connection for the keys and the store: each acquisition costs a round trip when it is released.
    async with rt.pool.acquire() as connection:
        return await _verify_and_store(request, connection, body, now)


async def _verify_and_store(
    request: web.Request, connection: store.Connection, body: bytes, now: datetime
) -> web.Response:
    rt = runtime(request)
    keys = await access.signing_keys(connection, rt.cipher, rt.settings.webhook_secret)
    if not keys:
        raise Problem(
            401, "no-integration", "no integration is configured; create one or set a webhook secret"
        )
    try:
        webhook_id, key = verify(request.headers, body, keys, await rt.wall_clock.now())
    except SignatureError as exc:
        raise Problem(401, "invalid-signature", str(exc)) from None
    event = _validated(body, rt.rulebook.names())
    if isinstance(event.data, MeetingScheduled | MeetingRescheduled) and event.data.starts_at <= now:
        raise _invalid([FieldError(loc=["data", "starts_at"], msg="the meeting's start has passed")])
    integration_id = key.owner
    async with connection.transaction():
        intake = await store.store_event(
            connection,
            integration_id=integration_id,
            webhook_id=webhook_id,
            body=body,
            event=event,
            received_at=now,
        )
    if intake.status == "foreign":
        raise Problem(403, "case-of-another-integration", "this case belongs to another integration")
    extra = {"event_id": intake.event_id, "event_type": event.type, "integration_id": integration_id}
    if intake.status == "conflict":
        raise Problem(
            409,
            "idempotency-conflict",
            "this webhook-id was already used for a different body",
            event_id=intake.event_id,
        )
    log.info("event %s", intake.status, extra=extra)
    status = 202 if intake.status == "accepted" else 200
    return web.json_response({"status": intake.status, "event_id": intake.event_id}, status=status)


async def _read_limited(request: web.Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, "body-too-large", f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _validated(body: bytes, regions: list[str]) -> Event:
    try:
        decoded = parse_json(body)
    except JsonInputError as exc:
        raise _invalid([FieldError(loc=[], msg=str(exc))]) from None
    try:
        return accept_event(decoded, regions)
    except EventValidationError as exc:
        raise _invalid(exc.errors) from None


def _invalid(errors: list[FieldError]) -> Problem:
    return invalid_fields("invalid-event", "event", errors)
