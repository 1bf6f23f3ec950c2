"""OpenAPI paths of `/v1/users`."""

from __future__ import annotations

from typing import Any

from service.auth.users import USER_ROLES
from service.http.openapi_common import BEARER, json_response, problem_response

_SCOPE = {
    "type": "array",
    "items": {"type": "string"},
    "minItems": 1,
    "description": "names, or ['*'] for all",
}

USER_REQUEST = {
    "type": "object",
    "required": ["email", "role"],
    "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "format": "email"},
        "role": {"enum": list(USER_ROLES)},
        "regions": {**_SCOPE, "default": ["*"]},
        "organisations": {**_SCOPE, "default": ["*"]},
    },
}

USER = {
    "type": "object",
    "required": [
        "user_id",
        "email",
        "role",
        "regions",
        "organisations",
        "status",
        "created_at",
        "disabled_at",
    ],
    "properties": {
        "user_id": {"type": "string", "description": "the id that stands for the user in what they do"},
        "email": {"type": "string", "format": "email"},
        "role": {"enum": list(USER_ROLES)},
        "regions": _SCOPE,
        "organisations": _SCOPE,
        "status": {"enum": ["enabled", "disabled"]},
        "created_at": {"type": "string", "format": "date-time"},
        "disabled_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

_ADMIN_ONLY = problem_response("Only an admin manages users")


def user_paths() -> dict[str, Any]:
    return {
        "/v1/users": {
            "post": {
                "summary": "Register a user of the web app (a disabled user's address comes back enabled)",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {"schema": USER_REQUEST}}},
                "responses": {
                    "201": json_response("The user", USER),
                    "400": problem_response("Every error of the body, each with its location"),
                    "403": _ADMIN_ONLY,
                    "409": problem_response("An enabled user has this address"),
                    "415": problem_response("Not application/json"),
                },
            },
            "get": {
                "summary": "Every user, enabled and disabled",
                "security": BEARER,
                "responses": {
                    "200": json_response(
                        "The users",
                        {
                            "type": "object",
                            "required": ["users"],
                            "properties": {"users": {"type": "array", "items": USER}},
                        },
                    ),
                    "403": _ADMIN_ONLY,
                },
            },
        },
        "/v1/users/{email}": {
            "delete": {
                "summary": "Disable the user: they sign in no more and their sessions end",
                "security": BEARER,
                # The address a user was registered with (POST's `email`): the service refuses a path
                # with a control character (400) before it looks anything up, so "any string" is not valid.
                "parameters": [
                    {
                        "name": "email",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "email"},
                    }
                ],
                "responses": {
                    "204": {"description": "Disabled"},
                    "403": _ADMIN_ONLY,
                    "404": problem_response("No enabled user with this address"),
                },
            },
        },
    }
