"""Pieces every part of the OpenAPI document uses: the problem schema reference, bearer security, and
the two response shapes (problem+json, JSON)."""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/schemas/Problem"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM}}}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the source may try again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def too_many(answer: dict[str, Any]) -> dict[str, Any]:
    """A 429 answer: the source is over a rate limit (README, Settings)."""
    return {**answer, "headers": RETRY_AFTER}
