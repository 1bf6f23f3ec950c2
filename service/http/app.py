"""The aiohttp application: routes, middlewares, and the background workers of one process."""

from __future__ import annotations

import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable

from aiohttp import web

from scheduler.identifiers import holds_identity_number
from service.audit import api as audit_api
from service.auth import users_api
from service.context import RUNTIME, Runtime, runtime
from service.http import (
    acknowledgements_api,
    api,
    intake,
    letters_api,
    policies_api,
    reports,
    webhook_subscriptions,
)
from service.http.api_headers import api_headers
from service.http.openapi import openapi_document
from service.http.problems import DatabaseUnavailable, Problem, problem
from service.logs import request_id
from service.replies import rsvp
from service.storage.database import is_unavailable
from service.web.app import mount as mount_web_app

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
# Unicode's control, format, surrogate and unassigned characters: none of them is part of an id.
_CONTROL = {"Cc", "Cf", "Cs", "Cn"}


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (the caller's X-Request-Id if sane) and log one line for it."""
    token = request_id.set(_offered_request_id(request) or "req_" + secrets.token_hex(8))
    started = time.perf_counter()
    try:
        response = await handler(request)
        response.headers["X-Request-Id"] = request_id.get() or ""
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": loggable_path(request),
                "status": response.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response
    finally:
        request_id.reset(token)


def _offered_request_id(request: web.Request) -> str | None:
    """The caller's X-Request-Id if it is one plain id; anything else is replaced, never logged: it is the
    caller's text and could hold a personnummer or a token."""
    offered = request.headers.getall("X-Request-Id", [])
    if len(offered) != 1 or not _REQUEST_ID.fullmatch(offered[0]) or holds_identity_number(offered[0]):
        return None
    return offered[0]


def loggable_path(request: web.Request) -> str:
    """The path as logged: a reply link's token lets anyone answer for its participant, and a user's path
    names their e-mail address, so both are hidden; a path that holds a personnummer is logged as its
    route."""
    path = request.rel_url.path
    for prefix in ("/rsvp/", "/v1/users/"):
        if path.startswith(prefix):
            return prefix + "…"
    if holds_identity_number(path):
        return request.match_info.route.resource.canonical if request.match_info.route.resource else "…"
    return path


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as application/problem+json; an unexpected one says nothing of its cause."""
    try:
        return await handler(request)
    except Problem as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status >= 400:
            slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
                exc.status, "error"
            )
            answer = problem(exc.status, slug, exc.reason)
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        raise
    except Exception as error:
        if is_unavailable(error):
            # The database watch logs the outage once; a line per request would drown it.
            request.app[RUNTIME].database.suspect(error)
            return DatabaseUnavailable().response()
        log.exception("unexpected error while answering a request")
        return problem(500, "internal-error", "an unexpected error occurred; it has been logged")


@web.middleware
async def plain_path_parameters(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path parameter with a control character (`/v1/cases/%00`) names nothing the service holds, and
    PostgreSQL cannot even compare NUL: refused here, for every route, before any handler reads it."""
    errors = [
        {"loc": ["path", name], "msg": "must not contain control characters"}
        for name, value in request.match_info.items()
        if any(unicodedata.category(char) in _CONTROL for char in value)
    ]
    if errors:
        raise Problem(400, "invalid-path", f"the path has {len(errors)} error(s)", errors=errors)
    return await handler(request)


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        middlewares=[request_context, api_headers, problems, plain_path_parameters],
        client_max_size=intake.MAX_BODY + 1,
    )
    app[RUNTIME] = runtime
    app.router.add_post("/v1/events", intake.receive_event)
    app.router.add_get("/v1/events/{event_id}", api.get_event)
    app.router.add_get("/v1/cases/{case_id}", api.get_case)
    app.router.add_get("/v1/health", api.health)
    app.router.add_get("/metrics", api.metrics)
    app.router.add_get("/v1/openapi.json", _openapi)
    acknowledgements_api.add_routes(app)
    letters_api.add_routes(app)
    policies_api.add_routes(app)
    reports.add_routes(app)
    rsvp.add_routes(app)
    webhook_subscriptions.add_routes(app)
    users_api.add_routes(app)
    audit_api.add_routes(app)
    mount_web_app(app, runtime)
    if runtime.test_clock:
        app.router.add_get("/v1/test-clock", api.get_test_clock)
        app.router.add_post("/v1/test-clock", api.post_test_clock)
    return app


async def _openapi(request: web.Request) -> web.Response:
    rt = runtime(request)
    return web.json_response(openapi_document(tuple(rt.rulebook.names()), rt.test_clock))
