"""The aiohttp application: routes, middlewares, and the background workers of one process."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from service import api, intake, letters_api, policies_api, reports, rsvp, webhook_subscriptions
from service.auth import users_api
from service.context import RUNTIME, Runtime
from service.logs import request_id
from service.openapi import openapi_document
from service.problems import Problem, problem
from service.web.app import mount as mount_web_app

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (the caller's X-Request-Id if sane) and log one line for it."""
    offered = request.headers.get("X-Request-Id", "")
    rid = offered if 0 < len(offered) <= 64 and offered.isascii() and offered.isprintable() else None
    token = request_id.set(rid or "req_" + secrets.token_hex(8))
    started = time.perf_counter()
    try:
        response = await handler(request)
        response.headers["X-Request-Id"] = request_id.get() or ""
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": loggable_path(request.rel_url.path),
                "status": response.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response
    finally:
        request_id.reset(token)


def loggable_path(path: str) -> str:
    """The path as logged: a reply link's token lets anyone answer for its participant, and a user's path
    names their e-mail address, so both are hidden."""
    for prefix in ("/rsvp/", "/v1/users/"):
        if path.startswith(prefix):
            return prefix + "…"
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
            return problem(exc.status, slug, exc.reason)
        raise
    except Exception:
        log.exception("unexpected error while answering a request")
        return problem(500, "internal-error", "an unexpected error occurred; it has been logged")


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[request_context, problems], client_max_size=intake.MAX_BODY + 1)
    app[RUNTIME] = runtime
    app.router.add_post("/v1/events", intake.receive_event)
    app.router.add_get("/v1/events/{event_id}", api.get_event)
    app.router.add_get("/v1/cases/{case_id}", api.get_case)
    app.router.add_get("/v1/health", api.health)
    app.router.add_get("/metrics", api.metrics)
    app.router.add_get("/v1/openapi.json", _openapi)
    letters_api.add_routes(app)
    policies_api.add_routes(app)
    reports.add_routes(app)
    rsvp.add_routes(app)
    webhook_subscriptions.add_routes(app)
    users_api.add_routes(app)
    mount_web_app(app, runtime)
    if runtime.test_clock:
        app.router.add_get("/v1/test-clock", api.get_test_clock)
        app.router.add_post("/v1/test-clock", api.post_test_clock)
    return app


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
