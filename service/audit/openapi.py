"""The OpenAPI path and schemas of `GET /v1/audit-log`."""

from __future__ import annotations

from typing import Any

from scheduler.events import IDENTIFIER_PATTERN
from service.audit.api import DEFAULT_LIMIT, MAX_IDENTIFIER, MAX_LIMIT, MAX_SAMPLE
from service.http.openapi_common import BEARER, json_response, problem_response

_NULLABLE_TEXT = {"type": ["string", "null"]}
_ID = {"type": "string", "pattern": IDENTIFIER_PATTERN, "maxLength": MAX_IDENTIFIER}
_MOMENT = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "pattern": "^(19|20)[0-9]{2}-",
    "examples": ["2026-12-01", "2026-12-01T08:00:00+01:00"],
}


def audit_schemas() -> dict[str, Any]:
    entry = {
        "type": "object",
        "required": [
            "entry_id",
            "at",
            "actor",
            "action",
            "channel",
            "case_id",
            "person_reference",
            "request_id",
            "recipient",
        ],
        "additionalProperties": False,
        "properties": {
            "entry_id": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {
                "type": "object",
                "required": ["kind", "id", "organisation"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": ["token", "user", "service"]},
                    "id": {"type": "string"},
                    "organisation": _NULLABLE_TEXT,
                },
            },
            "action": {"enum": ["read", "change", "disclose", "print", "export"]},
            "channel": {"enum": ["api", "web", "mail", "letter", "webhook"]},
            "case_id": _NULLABLE_TEXT,
            "person_reference": _NULLABLE_TEXT,
            "request_id": _NULLABLE_TEXT,
            "recipient": {
                "description": "a disclosure's recipient; null for every other action",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["organisation", "participant_id", "subscription_id"],
                        "additionalProperties": False,
                        "properties": {
                            "organisation": _NULLABLE_TEXT,
                            "participant_id": _NULLABLE_TEXT,
                            "subscription_id": _NULLABLE_TEXT,
                        },
                    },
                ],
            },
        },
    }
    page = {
        "type": "object",
        "required": ["entries", "next"],
        "additionalProperties": False,
        "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
            "next": _NULLABLE_TEXT,
        },
    }
    return {"AuditEntry": entry, "AuditPage": page}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def audit_paths() -> dict[str, Any]:
    return {
        "/v1/audit-log": {
            "get": {
                "summary": "The access log of the cases in the caller's scope, oldest first (auditor, admin)",
                "security": BEARER,
                "parameters": [
                    _query("case_id", "only entries about this case", dict(_ID)),
                    _query("person_reference", "only entries about this person", dict(_ID)),
                    _query("actor", "only entries by this token or user id", dict(_ID)),
                    _query(
                        "since", "at or after this time, or from the start of this Stockholm day", _MOMENT
                    ),
                    _query("until", "before this time, or before the start of this Stockholm day", _MOMENT),
                    _query(
                        "limit",
                        "page size",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    ),
                    _query(
                        "after",
                        "the `next` of the previous page: entries after that one",
                        {"type": "string", "pattern": "^aud_[1-9][0-9]{0,17}$"},
                    ),
                    _query(
                        "sample",
                        "instead of a page: this many entries drawn at random (limit has no part in it)",
                        {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLE},
                    ),
                ],
                "responses": {
                    "200": json_response("One page of entries", {"$ref": "#/components/schemas/AuditPage"}),
                    "400": problem_response("Bad or unknown parameters, each listed in errors"),
                },
            }
        }
    }
