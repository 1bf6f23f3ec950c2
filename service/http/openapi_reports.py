"""OpenAPI paths of the deviation listing and the yearly summary (schemas in service.http.reports)."""

from __future__ import annotations

from typing import Any

from service.http.openapi_common import BEARER, json_response, problem_response
from service.http.reports import DEFAULT_LIMIT, DEVIATION_KINDS, FIRST_YEAR, LAST_YEAR, MAX_LIMIT


def _json(description: str, model: str) -> dict[str, Any]:
    return json_response(description, {"$ref": f"#/components/schemas/{model}"})


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def report_paths() -> dict[str, Any]:
    return {
        "/v1/deviations": {
            "get": {
                "summary": "Deviations of the cases in the token's scope, oldest first",
                "security": BEARER,
                "parameters": [
                    _query(
                        "region", "only this region (one outside the token's scope: none)", {"type": "string"}
                    ),
                    _query(
                        "since",
                        "detected at or after this RFC 3339 time, or from the start of this Stockholm day",
                        {
                            "anyOf": [
                                {"type": "string", "format": "date"},
                                {"type": "string", "format": "date-time"},
                            ],
                            "pattern": "^(19|20)[0-9]{2}-",
                            "examples": ["2026-12-01", "2026-12-01T08:00:00+01:00"],
                        },
                    ),
                    _query("kind", "only this kind", {"enum": list(DEVIATION_KINDS)}),
                    _query(
                        "limit",
                        "page size",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    ),
                    _query("after", "the `next` of the previous page", {"type": "string"}),
                ],
                "responses": {
                    "200": _json("One page of deviations", "DeviationPage"),
                    "400": problem_response("Bad or unknown parameters, each listed in errors"),
                    "401": problem_response("No valid token"),
                },
            }
        },
        "/v1/reports/summary": {
            "get": {
                "summary": "One region's counts for a calendar year (Europe/Stockholm) in the token's scope",
                "security": BEARER,
                "parameters": [
                    _query("region", "a region with a rule file", {"type": "string"}, required=True),
                    _query(
                        "year",
                        "the calendar year",
                        {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR},
                        required=True,
                    ),
                ],
                "responses": {
                    "200": _json("The counts", "YearSummary"),
                    "400": problem_response(
                        "Region or year missing, unknown or out of range, each listed in errors"
                    ),
                    "401": problem_response("No valid token"),
                },
            }
        },
    }
