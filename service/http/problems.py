"""RFC 9457 problem details: every error answer of the API has this shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from scheduler.events import FieldError

# How long a 503 asks clients to wait: about the time the service takes to see the database back.
RETRY_AFTER_SECONDS = 5
PROBLEM_TYPE_BASE = "https://sipvakt.example/problems/"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem(status: int, slug: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    body.update(extra)
    headers = (
        {"WWW-Authenticate": 'Bearer realm="sipvakt"'} if status == 401 and slug == "unauthorized" else None
    )
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/problem+json",
        headers=headers,
    )


class Problem(web.HTTPException):
    """Raised inside a handler; the error middleware turns it into a problem+json answer."""

    def __init__(self, status: int, slug: str, detail: str, **extra: Any) -> None:
        self.status_code = status
        super().__init__(reason=TITLES.get(status))
        self.slug, self.detail, self.extra = slug, detail, extra

    def response(self) -> web.Response:
        return problem(self.status_code, self.slug, self.detail, **self.extra)


class DatabaseUnavailable(Problem):
    """The database is away (down, restarting or hanging): try again shortly."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "database-unavailable",
            "the database cannot be reached; try again shortly",
            database="unreachable",
        )

    def response(self) -> web.Response:
        answer = super().response()
        answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return answer


class TooManyRequests(Problem):
    """The source is over a rate limit: how long to wait is in Retry-After, in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "too-many-requests",
            "too many failed attempts from this address; try again after the time in Retry-After",
        )
        self.retry_after = retry_after

    def response(self) -> web.Response:
        answer = super().response()
        answer.headers["Retry-After"] = str(self.retry_after)
        return answer


def invalid_fields(slug: str, subject: str, errors: Sequence[FieldError]) -> Problem:
    """A 400 listing every field error of a request body at once, each with its location."""
    return Problem(
        400,
        slug,
        f"the {subject} has {len(errors)} error(s)",
        errors=[error.model_dump() for error in errors],
    )
