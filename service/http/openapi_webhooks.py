"""OpenAPI of outgoing webhooks: the subscription paths, and the events themselves under `webhooks` (the
OpenAPI 3.1 place for requests that sipvakt makes to its subscribers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from service.http.openapi_common import BEARER, json_response, problem_response
from service.storage.webhook_models import (
    CreatedSubscriptionView,
    DeliveryList,
    SubscriptionList,
    SubscriptionRequest,
    SubscriptionView,
)

_ID = {"name": "subscription_id", "in": "path", "required": True, "schema": {"type": "string"}}
_MODELS: list[tuple[type[BaseModel], Any]] = [
    (SubscriptionRequest, "validation"),
    (SubscriptionView, "serialization"),
    (CreatedSubscriptionView, "serialization"),
    (SubscriptionList, "serialization"),
    (DeliveryList, "serialization"),
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(description: str, model: type[BaseModel]) -> dict[str, Any]:
    return json_response(description, _ref(model))


_DENIED = {
    "401": problem_response("No valid token"),
    "403": problem_response("Not a coordinator's or integration's token"),
}
_MISSING = problem_response("No such subscription in the caller's scope")


def webhook_schemas() -> dict[str, Any]:
    """Component schemas of the subscription API."""
    _, schemas = models_json_schema(_MODELS, ref_template="#/components/schemas/{model}")
    found: dict[str, Any] = schemas.get("$defs", {})
    return found


def webhook_subscription_paths() -> dict[str, Any]:
    base = "/v1/webhook-subscriptions"
    return {
        base: {
            "post": {
                "summary": "Subscribe an endpoint to events about the cases the token sees; the answer holds"
                " the signing secret, shown this once",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(SubscriptionRequest)}},
                },
                "responses": {
                    "201": _json("The subscription and its secret", CreatedSubscriptionView),
                    "400": problem_response("Every error in the request, listed under `errors`"),
                    **_DENIED,
                    "415": problem_response("Not application/json"),
                },
            },
            "get": {
                "summary": "The subscriptions whose scope lies inside the token's",
                "security": BEARER,
                "responses": {"200": _json("The subscriptions", SubscriptionList), **_DENIED},
            },
        },
        base + "/{subscription_id}": {
            "get": {
                "summary": "One subscription (never its secret)",
                "security": BEARER,
                "parameters": [_ID],
                "responses": {"200": _json("The subscription", SubscriptionView), **_DENIED, "404": _MISSING},
            },
            "delete": {
                "summary": "Delete the subscription and its deliveries",
                "security": BEARER,
                "parameters": [_ID],
                "responses": {"204": {"description": "Deleted"}, **_DENIED, "404": _MISSING},
            },
        },
        base + "/{subscription_id}/enable": {
            "post": {
                "summary": "Enable a disabled subscription: deliveries it held are sent at once, new events"
                " reach it again (idempotent)",
                "security": BEARER,
                "parameters": [_ID],
                "responses": {"200": _json("The subscription", SubscriptionView), **_DENIED, "404": _MISSING},
            }
        },
        base + "/{subscription_id}/deliveries": {
            "get": {
                "summary": "Recent deliveries, newest first: state, attempts, last HTTP status and error",
                "security": BEARER,
                "parameters": [
                    _ID,
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"enum": ["pending", "sending", "delivered", "failed"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    },
                ],
                "responses": {
                    "200": _json("The deliveries", DeliveryList),
                    "400": problem_response("Unknown state or bad limit"),
                    **_DENIED,
                    "404": _MISSING,
                },
            }
        },
    }


_DEVIATION_DATA = {
    "type": "object",
    "required": [
        "case_id",
        "region",
        "deviation_id",
        "kind",
        "detected_at",
        "meeting_id",
        "participant_id",
        "action_id",
        "rule",
        "reportable",
    ],
    "properties": {
        "case_id": {"type": "string"},
        "region": {"type": "string"},
        "deviation_id": {"type": "string"},
        "kind": {"enum": ["no_response", "no_show", "action_not_done", "late"]},
        "detected_at": {"type": "string", "format": "date-time"},
        "meeting_id": {"type": ["string", "null"]},
        "participant_id": {"type": ["string", "null"]},
        "action_id": {"type": ["string", "null"]},
        "rule": {
            "type": ["string", "null"],
            "description": "the qualified rule that makes this a deviation (a region's own, or sipvakt's"
            " `default.escalation`)",
        },
        "reportable": {
            "type": "boolean",
            "description": "true when the region's guideline names the situation a deviation (avvikelse);"
            " false for sipvakt's own escalations",
        },
    },
}
_HEADERS = {
    "webhook-id": "The event's id (msg_…): the same on every retry; deduplicate on it",
    "webhook-timestamp": "Seconds since the Unix epoch, real time, when this attempt was signed",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of id.timestamp.body under the subscription's secret>",
}


def _event(event_type: str, summary: str, data: dict[str, Any]) -> dict[str, Any]:
    envelope = {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }
    return {
        "post": {
            "summary": summary,
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": True,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in _HEADERS.items()
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}},
            "responses": {
                "2XX": {"description": "Received; any 2xx answer ends the retries"},
                "default": {"description": "Anything else (or no answer in 10 s) is retried"},
            },
        }
    }


def outgoing_webhooks() -> dict[str, Any]:
    return {
        "deviation.recorded": _event(
            "deviation.recorded", "A deviation was recorded on a case (once per deviation)", _DEVIATION_DATA
        ),
        "case.updated": _event(
            "case.updated",
            "A case's stored state changed; data is the case as GET /v1/cases/{case_id} shows it",
            {"$ref": "#/components/schemas/CaseView"},
        ),
    }
