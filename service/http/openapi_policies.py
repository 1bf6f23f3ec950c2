"""OpenAPI paths of the reminder policies."""

from __future__ import annotations

from typing import Any

from service.http.openapi_common import BEARER, json_response, problem_response

_POLICY = {"$ref": "#/components/schemas/ReminderPolicy"}

POLICY_ANSWER = {
    "type": "object",
    "required": ["region", "policy", "region_override", "case_override", "ignored"],
    "properties": {
        "region": {"type": "string"},
        "case_id": {"type": "string"},
        "policy": _POLICY,
        "region_override": {"type": "object", "description": "the region's partial policy ({} for none)"},
        "case_override": {"type": "object", "description": "the case's partial policy ({} for none)"},
        "ignored": {
            "type": "array",
            "items": {"enum": ["region", "case"]},
            "description": "override layers that no longer fit the layers under them and are not applied",
        },
    },
}


def _operations(subject: str, parameter: str) -> dict[str, Any]:
    path_parameter = [{"name": parameter, "in": "path", "required": True, "schema": {"type": "string"}}]
    answer = json_response("The policy in force", POLICY_ANSWER)
    return {
        "get": {
            "summary": f"The reminder policy in force for the {subject}, with the overrides behind it",
            "security": BEARER,
            "parameters": path_parameter,
            "responses": {"200": answer, "404": problem_response(f"No such {subject} in the caller's scope")},
        },
        "put": {
            "summary": f"Replace the {subject}'s override (a partial policy; {{}} removes it)",
            "security": BEARER,
            "parameters": path_parameter,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ReminderPolicyOverride"}}
                },
            },
            "responses": {
                "200": answer,
                "403": problem_response("Only coordinators (and admins) change policies"),
                "404": problem_response(f"No such {subject} in the caller's scope"),
                "415": problem_response("Not application/json"),
                "422": problem_response(
                    "Every error of the policy, each with its location; nothing was changed"
                ),
            },
        },
    }


def policy_paths() -> dict[str, Any]:
    return {
        "/v1/regions/{region}/reminder-policy": _operations("region", "region"),
        "/v1/cases/{case_id}/reminder-policy": _operations("case", "case_id"),
    }
