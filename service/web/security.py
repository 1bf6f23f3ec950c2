"""What every response of the web app gets: the signed-in session (if any), the CSRF check on every
POST, and the security headers.

A POST must carry the form field `csrf_token`: the session's token when signed in, otherwise the token
in the visitor's form cookie (the sign-in forms). Without it, or with another, the answer is 403 and
nothing happens. A cross-site page can neither read the token nor set the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.auth.sessions import Session, resume_session
from service.context import runtime
from service.web import cookies

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_KEY = web.RequestKey("web_session", Session)
NEW_FORM_TOKEN = web.RequestKey("web_new_form_token", str)
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


def current_session(request: web.Request) -> Session | None:
    return request.get(SESSION_KEY)


def form_token(request: web.Request) -> str:
    """The token this visitor's forms carry; for a visitor without a session and without a form cookie,
    a new one that the response sets."""
    session = current_session(request)
    if session is not None:
        return session.csrf_token
    existing = request.cookies.get(cookies.FORM_TOKEN, "")
    if 20 <= len(existing) <= 100:
        return existing
    if NEW_FORM_TOKEN not in request:
        request[NEW_FORM_TOKEN] = secrets.token_urlsafe(32)
    return request[NEW_FORM_TOKEN]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/app/static/"):
        response.headers["Cache-Control"] = "no-store"
    if NEW_FORM_TOKEN in request:
        cookies.set_cookie(request, response, cookies.FORM_TOKEN, request[NEW_FORM_TOKEN])
    return response


@web.middleware
async def session_and_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    cookie = request.cookies.get(cookies.SESSION)
    if cookie:
        rt = runtime(request)
        async with rt.pool.acquire() as connection:
            session = await resume_session(connection, cookie, await rt.clock.now())
        if session is not None:
            request[SESSION_KEY] = session
    if request.method in UNSAFE_METHODS:
        form = await request.post()
        offered = form.get(CSRF_FIELD)
        if not isinstance(offered, str) or not _expected(request, offered):
            raise web.HTTPForbidden()
    return await handler(request)


def _expected(request: web.Request, offered: str) -> bool:
    session = current_session(request)
    expected = session.csrf_token if session else request.cookies.get(cookies.FORM_TOKEN, "")
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())
