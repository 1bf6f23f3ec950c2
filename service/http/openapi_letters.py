"""OpenAPI paths of the print queue and of the reply page."""

from __future__ import annotations

from typing import Any

from service.http.openapi_common import BEARER, problem_response, too_many

_LETTER_ID = {"name": "letter_id", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}

LETTER = {
    "type": "object",
    "required": ["letter_id", "case_id", "kind", "state", "created_at", "sent_at", "pdf_url"],
    "properties": {
        "letter_id": {"type": "string"},
        "case_id": {"type": "string"},
        "meeting_id": {"type": ["string", "null"]},
        "participant_id": {"type": ["string", "null"]},
        "kind": {"enum": ["request", "update", "cancel"]},
        "state": {"enum": ["queued", "sent"]},
        "created_at": {"type": "string", "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "pdf_url": {"type": "string"},
    },
}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def letter_and_reply_paths() -> dict[str, Any]:
    return {
        "/v1/letters": {
            "get": {
                "summary": "Letters to print and post (coordinator), oldest first, in the token's scope",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"enum": ["queued", "sent"], "default": "queued"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The letters",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"letters": {"type": "array", "items": LETTER}},
                                }
                            }
                        },
                    },
                    "400": problem_response("Unknown state or bad limit"),
                    "401": problem_response("No valid token"),
                    "403": problem_response("Not a coordinator's token"),
                },
            }
        },
        "/v1/letters/{letter_id}.pdf": {
            "get": {
                "summary": "One letter as PDF (A4, address in the left window of a C5/C4 envelope)",
                "security": BEARER,
                "parameters": [_LETTER_ID],
                "responses": {
                    "200": {"description": "The PDF", "content": {"application/pdf": {}}},
                    "404": problem_response("No such letter in the caller's scope"),
                    "410": problem_response("The letter was erased when its case's retention ended"),
                },
            }
        },
        "/v1/letters/{letter_id}/sent": {
            "post": {
                "summary": "Record that the letter was posted (idempotent)",
                "security": BEARER,
                "parameters": [_LETTER_ID],
                "responses": {
                    "200": {"description": "The letter", "content": {"application/json": {"schema": LETTER}}},
                    "404": problem_response("No such letter in the caller's scope"),
                },
            }
        },
        "/rsvp/{token}": {
            "get": {
                "summary": "The reply page of one invitation (HTML, Swedish); ?svar= preselects an answer",
                "parameters": [_TOKEN],
                "responses": {
                    "200": _html("The meeting and the answers"),
                    "404": _html("Unknown link"),
                    "410": _html("The meeting has ended or is cancelled"),
                    "429": too_many(_html("Too many unknown links from this address; wait and retry")),
                },
            },
            "post": {
                "summary": "Answer (form: token, svar; namn, epost, organisation for a substitute)",
                "parameters": [_TOKEN],
                "requestBody": {
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
                },
                "responses": {
                    "200": _html("Receipt: the answer is recorded"),
                    "400": _html("The form has errors; nothing was stored"),
                    "403": _html("The form's token is not the link's"),
                    "404": _html("Unknown link"),
                    "410": _html("The meeting has ended or is cancelled"),
                    "429": too_many(_html("Too many unknown links from this address; wait and retry")),
                },
            },
        },
    }
