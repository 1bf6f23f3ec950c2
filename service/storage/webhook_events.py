"""Outgoing webhook events, written in the transaction of the change that caused them (transactional outbox).

`case_updated` and `deviation_recorded` are called from the store when a case's stored state really
changed or a deviation row was really inserted. Each finds the subscriptions whose scope sees the case and
that asked for the event type, and writes the event once (its body and webhook-id fixed from then on) and a
delivery row per subscription; the webhook worker sends them after commit.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from scheduler.case import Case, Deviation
from service.http.views import case_view

if TYPE_CHECKING:
    from service.storage.store import Connection

WebhookEventType = Literal["deviation.recorded", "case.updated"]
EVENT_TYPES: tuple[WebhookEventType, ...] = ("deviation.recorded", "case.updated")
ALL_EVENTS = "*"
WEBHOOKS_CHANNEL = "sipvakt_webhooks"


# The same test as `access.Principal.sees`, in SQL, against the scope each subscription keeps. A disabled
# subscription gets nothing new: what happens while it is off is not kept for it.
def subscribers_query(event_type: str, integration_id: str, region: str, organisations: str) -> str:
    """The enabled subscriptions that want an event of a case, as a query over the given SQL expressions
    (placeholders, or a literal event type): the case's store folds it into the statement saving it."""
    return (
        "select subscription_id from webhook_subscriptions where disabled_at is null"
        f" and ({event_type} = any(event_types) or '*' = any(event_types))"
        f" and (integration_id is null or integration_id = {integration_id})"
        f" and ('*' = any(regions) or {region} = any(regions))"
        f" and ('*' = any(organisations) or organisations && {organisations}::text[])"
    )


_SUBSCRIBERS = subscribers_query("$1", "$2", "$3", "$4")


async def case_updated(
    connection: Connection, case: Case, now: datetime, subscribers: list[str] | None = None
) -> None:
    """Queue `case.updated` with the case as `GET /v1/cases/{id}` shows it, for `subscribers` when the
    caller has looked them up already."""
    if subscribers is None:
        subscribers = await _subscribers(connection, "case.updated", case)
    if not subscribers:
        return
    stopped = await connection.fetch(
        "select key, attempts from timers where case_id = $1 and state = 'dead' order by key", case.case_id
    )
    data = case_view(case, [(row["key"], row["attempts"]) for row in stopped])
    await _queue(connection, subscribers, "case.updated", case.case_id, data, now)


async def deviation_recorded(connection: Connection, case: Case, deviation: Deviation) -> None:
    """Queue `deviation.recorded`; the event's time is when the deviation was detected (the change's time)."""
    subscribers = await _subscribers(connection, "deviation.recorded", case)
    if not subscribers:
        return
    data = {"case_id": case.case_id, "region": case.region, **deviation.model_dump(mode="json")}
    await _queue(connection, subscribers, "deviation.recorded", case.case_id, data, deviation.detected_at)


async def _subscribers(connection: Connection, event_type: WebhookEventType, case: Case) -> list[str]:
    rows = await connection.fetch(
        _SUBSCRIBERS, event_type, case.integration_id, case.region, sorted(case.organisations())
    )
    return [row["subscription_id"] for row in rows]


async def _queue(
    connection: Connection,
    subscribers: Sequence[str],
    event_type: WebhookEventType,
    case_id: str,
    data: dict[str, Any],
    moment: datetime,
) -> None:
    webhook_id = "msg_" + secrets.token_hex(12)
    body = json.dumps(
        {"type": event_type, "timestamp": iso_utc(moment), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    await connection.execute(
        "insert into webhook_events (webhook_id, type, case_id, body, created_at)"
        " values ($1, $2, $3, $4, $5)",
        webhook_id,
        event_type,
        case_id,
        body,
        moment,
    )
    # The first attempt is due at once; the business clock decides when later ones are.
    await connection.execute(
        "insert into webhook_deliveries (subscription_id, webhook_id, next_attempt_at, created_at)"
        " select unnest($1::text[]), $2, $3, $3",
        list(subscribers),
        webhook_id,
        moment,
    )
    await connection.execute("select pg_notify($1, '')", WEBHOOKS_CHANNEL)


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a 'Z', as Standard Webhooks' examples and pydantic's JSON write it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
