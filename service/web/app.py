"""The web app as an aiohttp sub-application mounted at `/app`."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from service.context import RUNTIME, Runtime
from service.web import (
    audit_page,
    case_page,
    deviations_page,
    letters,
    policy_pages,
    report,
    security,
    sign_in,
    todo,
)
from service.web.errors import html_errors

STATIC = Path(__file__).with_name("static")


def build_web_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[security.security_headers, html_errors, security.session_and_csrf])
    app[RUNTIME] = runtime
    app.router.add_get("/", todo.todo_page)
    case_page.add_routes(app)
    deviations_page.add_routes(app)
    sign_in.add_routes(app)
    report.add_routes(app)
    policy_pages.add_routes(app)
    letters.add_routes(app)
    audit_page.add_routes(app)
    app.router.add_static("/static", STATIC)
    return app


async def _to_app(request: web.Request) -> web.Response:
    return web.Response(status=308, headers={"Location": "/app/"})


def mount(app: web.Application, runtime: Runtime) -> None:
    """Mount the web app at `/app/` (and send `/app` there)."""
    app.router.add_get("/app", _to_app)
    app.add_subapp("/app", build_web_app(runtime))
