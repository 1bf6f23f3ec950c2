"""The OpenAPI 3.1 document, generated from the same pydantic models that validate and answer requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from config.reminder_policy import ReminderPolicy
from scheduler.events import DATA_MODELS
from service.audit.openapi import audit_paths, audit_schemas
from service.auth.openapi_users import user_paths
from service.http.openapi_acknowledgements import acknowledgement_paths
from service.http.openapi_common import BEARER, json_response, problem_response, too_many
from service.http.openapi_complete import complete, partial_schemas
from service.http.openapi_letters import letter_and_reply_paths
from service.http.openapi_policies import policy_paths
from service.http.openapi_reports import report_paths
from service.http.openapi_webhooks import outgoing_webhooks, webhook_schemas, webhook_subscription_paths
from service.http.reports import REPORT_MODELS
from service.http.views import CaseView


class EventStatusView(BaseModel):
    event_id: str
    case_id: str
    type: str
    status: str
    detail: str | None
    received_at: str
    applied_at: str | None


CLOCK = {
    "type": "object",
    "required": ["now"],
    "additionalProperties": False,
    "properties": {"now": {"type": "string", "format": "date-time"}},
}


@cache
def openapi_document(regions: tuple[str, ...], test_clock: bool = False) -> dict[str, Any]:
    """The document of the service as it runs: its regions, and the test-clock operations only when the
    clock is on."""
    document = _document()
    if not test_clock:
        del document["paths"]["/v1/test-clock"]
    return complete(document, regions)


def _document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        CaseView,
        EventStatusView,
        ReminderPolicy,
        *REPORT_MODELS,
        *DATA_MODELS.values(),
    ]
    _, schemas = models_json_schema(
        [(model, "serialization") for model in models], ref_template="#/components/schemas/{model}"
    )
    components = dict(schemas.get("$defs", {}))
    components.update(webhook_schemas())
    components.update(audit_schemas())
    event_variants = []
    for event_type, model in DATA_MODELS.items():
        event_variants.append(
            {
                "type": "object",
                "required": ["type", "case_id", "occurred_at", "data"],
                "additionalProperties": False,
                "properties": {
                    "type": {"const": event_type},
                    "case_id": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]+$", "maxLength": 100},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "data": {"$ref": f"#/components/schemas/{model.__name__}"},
                },
            }
        )
    components["Event"] = {"oneOf": event_variants, "discriminator": {"propertyName": "type"}}
    components.update(partial_schemas(components, "ReminderPolicy", "ReminderPolicyOverride"))
    components["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "msg": {"type": "string"},
                    },
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sipvakt",
            "version": "1",
            "description": "SIP deadlines, invitations and deviations.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "standardWebhooks": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-signature",
                    "description": "Standard Webhooks: HMAC-SHA256 over id.timestamp.body",
                },
            },
        },
        "paths": {
            "/v1/events": {
                "post": {
                    "summary": "Push one case event",
                    "security": [{"standardWebhooks": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}},
                    },
                    "responses": {
                        "202": json_response("Stored; it will be applied", {"type": "object"}),
                        "200": json_response("A replay of an event already stored", {"type": "object"}),
                        "400": problem_response("Not JSON, unknown type, or fields missing or wrong"),
                        "401": problem_response("Signature missing or wrong, or timestamp too far off"),
                        "403": problem_response("The case belongs to another integration"),
                        "409": problem_response("The webhook-id was used for a different body"),
                        "413": problem_response("Body over 256 KiB"),
                        "415": problem_response("Not application/json"),
                        "429": too_many(
                            problem_response("Too many failed signatures from this address; wait and retry")
                        ),
                    },
                }
            },
            "/v1/events/{event_id}": {
                "get": {
                    "summary": "How far an accepted event has come",
                    "security": BEARER,
                    "parameters": [
                        {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": json_response(
                            "The event's status", {"$ref": "#/components/schemas/EventStatusView"}
                        ),
                        "404": problem_response("No such event in the caller's scope"),
                    },
                }
            },
            "/v1/cases/{case_id}": {
                "get": {
                    "summary": "A case with its deadlines, meetings, deviations, reminders and warnings",
                    "security": BEARER,
                    "parameters": [
                        {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": json_response("The case", {"$ref": "#/components/schemas/CaseView"}),
                        "401": problem_response("No valid token"),
                        "404": problem_response("No such case in the caller's scope"),
                    },
                }
            },
            "/v1/health": {
                "get": {"summary": "Database reachable", "responses": {"200": {"description": "OK"}}}
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OK"}}}
            },
            "/v1/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
            "/v1/test-clock": {
                "get": {
                    "summary": "The test clock (only with SIPVAKT_TEST_CLOCK)",
                    "responses": {"200": json_response("The clock's time", CLOCK)},
                },
                "post": {
                    "summary": "Let time pass until the given moment, each due moment on the way in turn",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": CLOCK}}},
                    "responses": {
                        "200": json_response("Moved, and everything due has been done at its moment", CLOCK),
                        "400": problem_response("Not a time with offset, or one past 2100"),
                        "409": problem_response("The new time is before the current one"),
                        "504": problem_response("Work due at one moment did not finish in time"),
                    },
                },
            },
            **acknowledgement_paths(),
            **letter_and_reply_paths(),
            **policy_paths(),
            **report_paths(),
            **webhook_subscription_paths(),
            **user_paths(),
            **audit_paths(),
        },
        "webhooks": outgoing_webhooks(),
    }
