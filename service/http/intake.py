"""`POST /v1/events`: verify, validate, store durably, answer. Processing happens afterwards."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from aiohttp import web

from scheduler.accepted import accept_event
from scheduler.events import Event, EventValidationError, FieldError, MeetingRescheduled, MeetingScheduled
from service import access, tracing
from service.context import runtime
from service.http.json_input import JsonInputError, parse_json
from service.http.problems import Problem, TooManyRequests, invalid_fields
from service.http.rate_limits import RateLimited
from service.http.signatures import SignatureError, verify
from service.storage import store

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
JSON_TYPES = {"application/json"}


async def receive_event(request: web.Request) -> web.Response:
    rt = runtime(request)
    # The trace that applying the event, its timers and its messages continue (service/tracing.py).
    with tracing.tracer().start_as_current_span("POST /v1/events", kind=tracing.SpanKind.SERVER) as span:
        try:
            response = await _receive(request)
        except Problem as problem:
            rt.metrics.events_rejected.labels(problem.slug).inc()
            span.set_attribute("http.response.status_code", problem.status)
            raise
        span.set_attribute("http.response.status_code", response.status)
    rt.metrics.events_accepted.inc()
    return response


async def _receive(request: web.Request) -> web.Response:
    rt = runtime(request)
    source = rt.limiter.source(request)
    try:
        # A source that has failed too many signatures is refused before anything is checked.
        await rt.limiter.check(rt.limiter.limits.signatures, source)
    except RateLimited as exc:
        raise TooManyRequests(exc.retry_after) from None
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "body-too-large", f"the body is larger than {MAX_BODY} bytes")
    if request.content_type not in JSON_TYPES:
        raise Problem(415, "unsupported-media-type", "events are sent as Content-Type: application/json")
    body = await _read_limited(request)
    # The business time first: the test clock reads it from the database, and a request holding one
    # connection while it waits for a second could starve the pool.
    now = await rt.clock.now()
    # One connection for the keys and the store: one wait for the pool, not two.
    async with rt.pool.acquire() as connection:
        return await _verify_and_store(request, connection, body, now, source)


async def _verify_and_store(
    request: web.Request, connection: store.Connection, body: bytes, now: datetime, source: str
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
        try:
            await rt.limiter.count(rt.limiter.limits.signatures, source)
        except RateLimited as limited:
            raise TooManyRequests(limited.retry_after) from None
        raise Problem(401, "invalid-signature", str(exc)) from None
    try:
        event = validated_body(body, rt.rulebook.names(), now)
    except EventValidationError as exc:
        raise invalid_fields("invalid-event", "event", exc.errors) from None
    integration_id = key.owner
    # One statement, atomic without a transaction around it.
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
    tracing.trace.get_current_span().set_attributes(
        {tracing.EVENT_ID: intake.event_id or "", tracing.EVENT_TYPE: event.type}
    )
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


def validated_body(body: bytes, regions: Collection[str], now: datetime) -> Event:
    """The event a request body holds, as it is kept; EventValidationError listing what is wrong.

    `sipvakt import` validates each of its lines here too, so that a file and a request are held to
    exactly the same rules."""
    try:
        decoded = parse_json(body)
    except JsonInputError as exc:
        raise EventValidationError([FieldError(loc=[], msg=str(exc))]) from None
    return validated_event(decoded, regions, now)


def validated_event(decoded: object, regions: Collection[str], now: datetime) -> Event:
    """A decoded body as the event that is kept, judged at `now`; EventValidationError otherwise."""
    event = accept_event(decoded, regions)
    if isinstance(event.data, MeetingScheduled | MeetingRescheduled) and event.data.starts_at <= now:
        raise EventValidationError(
            [FieldError(loc=["data", "starts_at"], msg="the meeting's start has passed")]
        )
    return event
