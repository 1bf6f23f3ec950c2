"""OpenAPI path of a deviation's acknowledgement."""

from __future__ import annotations

from typing import Any

from service.http.openapi_common import BEARER, json_response, problem_response
from service.storage.acknowledgements import NOTE_MAX_LENGTH

_ANSWER = {
    "type": "object",
    "required": ["deviation_id", "acknowledged_at", "acknowledged_by"],
    "additionalProperties": False,
    "properties": {
        "deviation_id": {"type": "string"},
        "acknowledged_at": {"type": "string", "format": "date-time"},
        "acknowledged_by": {"type": "string", "description": "the token or user id that acknowledged first"},
    },
}

_BODY = {
    "type": "object",
    "required": ["note"],
    "additionalProperties": False,
    "properties": {
        "note": {
            "type": "string",
            "maxLength": NOTE_MAX_LENGTH,
            "description": "free text that never leaves the service; one holding a personnummer is refused",
        }
    },
}


def acknowledgement_paths() -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("case_id", "deviation_id")
    ]
    return {
        "/v1/cases/{case_id}/deviations/{deviation_id}/acknowledgement": {
            "post": {
                "summary": "Acknowledge a deviation (the first acknowledgement is kept)",
                "security": BEARER,
                "parameters": parameters,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY}}},
                "responses": {
                    "200": json_response("The acknowledgement in force (the first one)", _ANSWER),
                    "400": problem_response(
                        "Not JSON, or the note missing, too long or holding a personnummer"
                    ),
                    "401": problem_response("No valid token"),
                    "403": problem_response("Not a coordinator's token"),
                    "404": problem_response("No such case in the caller's scope, or no such deviation in it"),
                    "415": problem_response("Not application/json"),
                },
            }
        }
    }
