"""`/v1/webhook-subscriptions`: integrators and coordinators subscribe an endpoint to sipvakt's events.

A subscription keeps the scope of the token that made it and is delivered only events about cases that
scope sees. A caller sees (and may delete, re-enable and inspect) the subscriptions whose scope lies inside
its own: nothing a subscription receives is hidden from whoever manages it, and a subscription outlives
the token that made it. Outside that, a subscription does not exist (404).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from scheduler.events import FieldError
from service.access import EVERYTHING, Principal, Role
from service.context import runtime
from service.http.api import authorize
from service.http.json_input import JsonInputError, parse_json
from service.http.problems import Problem, invalid_fields
from service.http.query import QueryReader, refuse_query
from service.storage.secrets import encrypt, new_webhook_secret
from service.storage.webhook_events import WEBHOOKS_CHANNEL
from service.storage.webhook_models import (
    ALLOW_PRIVATE,
    CreatedSubscriptionView,
    DeliveryList,
    DeliveryView,
    SubscriptionList,
    SubscriptionRequest,
    SubscriptionScope,
    SubscriptionView,
    request_errors,
)

log = logging.getLogger(__name__)

MANAGERS: tuple[Role, ...] = ("coordinator", "integration")
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# A subscription is visible when its scope lies inside the caller's: same integration (if the caller has
# one), and regions and organisations a subset of the caller's ('*' only inside '*'). NULL means "any".
_VISIBLE = (
    "($1::text is null or integration_id = $1)"
    " and ($2::text[] is null or (not '*' = any(regions) and regions <@ $2))"
    " and ($3::text[] is null or (not '*' = any(organisations) and organisations <@ $3))"
)
_COLUMNS = (
    "subscription_id, url, event_types, notify_email, description, regions, organisations,"
    " integration_id, created_at, disabled_at, disabled_reason"
)


def _visibility(principal: Principal) -> tuple[str | None, list[str] | None, list[str] | None]:
    if principal.role == "admin":
        return None, None, None
    regions = None if EVERYTHING in principal.regions else sorted(principal.regions)
    organisations = None if EVERYTHING in principal.organisations else sorted(principal.organisations)
    return principal.integration_id, regions, organisations


def _view(row: asyncpg.Record) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=row["subscription_id"],
        url=row["url"],
        event_types=row["event_types"],
        notify_email=row["notify_email"],
        description=row["description"],
        status="disabled" if row["disabled_at"] else "enabled",
        disabled_at=row["disabled_at"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        scope=SubscriptionScope(
            regions=row["regions"], organisations=row["organisations"], integration_id=row["integration_id"]
        ),
    )


def _json(model: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status, headers=headers)


async def create_subscription(request: web.Request) -> web.Response:
    principal = await authorize(request, *MANAGERS)
    rt = runtime(request)
    wanted = await _validated(request)
    secret = new_webhook_secret()
    subscription_id = "sub_" + secrets.token_hex(8)
    row = await rt.pool.fetchrow(
        "insert into webhook_subscriptions (subscription_id, url, event_types, notify_email, description,"
        " secret_encrypted, regions, organisations, integration_id, created_by, created_at)"
        f" values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {_COLUMNS}",
        subscription_id,
        wanted.url,
        wanted.event_types,
        str(wanted.notify_email),
        wanted.description,
        encrypt(rt.cipher, secret),
        sorted(principal.regions),
        sorted(principal.organisations),
        principal.integration_id,
        principal.token_id,
        await rt.clock.now(),
    )
    assert row is not None
    # Ids only: the URL may carry a token of the receiver's, and the secret never leaves this answer.
    log.info("webhook subscription created", extra={"subscription_id": subscription_id})
    created = CreatedSubscriptionView(**_view(row).model_dump(), secret=secret)
    return _json(created, 201, {"Location": f"/v1/webhook-subscriptions/{subscription_id}"})


async def _validated(request: web.Request) -> SubscriptionRequest:
    if request.content_type != "application/json":
        raise Problem(
            415, "unsupported-media-type", "send the subscription as Content-Type: application/json"
        )
    try:
        body = parse_json(await request.read())
    except JsonInputError as exc:
        raise _invalid([FieldError(loc=[], msg=str(exc))]) from None
    if not isinstance(body, dict):
        raise _invalid([FieldError(loc=[], msg="the body must be a JSON object")])
    try:
        allow_private = runtime(request).settings.webhook_allow_private
        return SubscriptionRequest.model_validate(body, context={ALLOW_PRIVATE: allow_private})
    except ValidationError as exc:
        raise _invalid(request_errors(exc)) from None


def _invalid(errors: list[FieldError]) -> Problem:
    return invalid_fields("invalid-subscription", "subscription", errors)


async def list_subscriptions(request: web.Request) -> web.Response:
    principal = await authorize(request, *MANAGERS)
    refuse_query(request.query)
    rows = await runtime(request).pool.fetch(
        f"select {_COLUMNS} from webhook_subscriptions where {_VISIBLE} order by created_at, subscription_id",
        *_visibility(principal),
    )
    return _json(SubscriptionList(subscriptions=[_view(row) for row in rows]))


async def get_subscription(request: web.Request) -> web.Response:
    principal = await authorize(request, *MANAGERS)
    refuse_query(request.query)
    row = await runtime(request).pool.fetchrow(
        f"select {_COLUMNS} from webhook_subscriptions where {_VISIBLE} and subscription_id = $4",
        *_visibility(principal),
        request.match_info["subscription_id"],
    )
    if row is None:
        raise _not_found()
    return _json(_view(row))


async def delete_subscription(request: web.Request) -> web.Response:
    """Delete the subscription and its deliveries; a send already under way still finishes."""
    principal = await authorize(request, *MANAGERS)
    deleted = await runtime(request).pool.fetchval(
        f"delete from webhook_subscriptions where {_VISIBLE} and subscription_id = $4"
        " returning subscription_id",
        *_visibility(principal),
        request.match_info["subscription_id"],
    )
    if deleted is None:
        raise _not_found()
    log.info("webhook subscription deleted", extra={"subscription_id": deleted})
    return web.Response(status=204)


async def enable_subscription(request: web.Request) -> web.Response:
    """Turn a disabled subscription back on. The deliveries it held are due at once and start afresh (no
    attempts, a new three-day window); enabling one that is on changes nothing."""
    principal = await authorize(request, *MANAGERS)
    rt = runtime(request)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            f"select {_COLUMNS} from webhook_subscriptions where {_VISIBLE} and subscription_id = $4"
            " for update",
            *_visibility(principal),
            request.match_info["subscription_id"],
        )
        if row is None:
            raise _not_found()
        if row["disabled_at"] is not None:
            row = await connection.fetchrow(
                "update webhook_subscriptions set disabled_at = null, disabled_reason = null"
                f" where subscription_id = $1 returning {_COLUMNS}",
                row["subscription_id"],
            )
            assert row is not None
            await connection.execute(
                "update webhook_deliveries set next_attempt_at = $2, attempts = 0, first_attempt_at = null"
                " where subscription_id = $1 and state = 'pending'",
                row["subscription_id"],
                now,
            )
            await connection.execute("select pg_notify($1, '')", WEBHOOKS_CHANNEL)
            log.info("webhook subscription enabled", extra={"subscription_id": row["subscription_id"]})
    return _json(_view(row))


async def list_deliveries(request: web.Request) -> web.Response:
    """The subscription's deliveries, newest first: what was sent, how often, and why it failed."""
    principal = await authorize(request, *MANAGERS)
    rt = runtime(request)
    query = QueryReader(request.query, ("state", "limit"))
    state = query.choice("state", DELIVERY_STATES)
    limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)
    query.raise_if_any()
    subscription_id = request.match_info["subscription_id"]
    async with rt.pool.acquire() as connection:
        visible = await connection.fetchval(
            f"select 1 from webhook_subscriptions where {_VISIBLE} and subscription_id = $4",
            *_visibility(principal),
            subscription_id,
        )
        if visible is None:
            raise _not_found()
        rows = await connection.fetch(
            "select d.*, e.type, e.case_id from webhook_deliveries d join webhook_events e using (webhook_id)"
            " where d.subscription_id = $1 and ($2::text is null or d.state = $2)"
            " order by d.delivery_id desc limit $3",
            subscription_id,
            state,
            limit,
        )
    return _json(DeliveryList(deliveries=[_delivery_view(row) for row in rows]))


def _delivery_view(row: asyncpg.Record) -> DeliveryView:
    return DeliveryView(
        webhook_id=row["webhook_id"],
        event_type=row["type"],
        case_id=row["case_id"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        first_attempt_at=row["first_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        next_attempt_at=row["next_attempt_at"] if row["state"] == "pending" else None,
        delivered_at=row["delivered_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


def _not_found() -> Problem:
    return Problem(404, "not-found", "no webhook subscription with this id")


def add_routes(app: web.Application) -> None:
    base = "/v1/webhook-subscriptions"
    app.router.add_post(base, create_subscription)
    app.router.add_get(base, list_subscriptions)
    app.router.add_get(base + "/{subscription_id}", get_subscription)
    app.router.add_delete(base + "/{subscription_id}", delete_subscription)
    app.router.add_post(base + "/{subscription_id}/enable", enable_subscription)
    app.router.add_get(base + "/{subscription_id}/deliveries", list_deliveries)
