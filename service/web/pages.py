"""The pages behind sign-in: the guard that sends a visitor without a session to sign in, and the names
of the roles as pages show them."""

from __future__ import annotations

from aiohttp import web

from service.auth.sessions import Session
from service.web import cookies, security

ROLE_NAMES = {"coordinator": "Samordnare", "auditor": "Granskare", "admin": "Administratör"}


def signed_in(request: web.Request) -> Session:
    """The request's session; a visitor without one is sent to sign in (told why, when a cookie shows
    that a session has run out)."""
    session = security.current_session(request)
    if session is None:
        expired = cookies.SESSION in request.cookies
        raise web.HTTPSeeOther("/app/login?status=utgangen" if expired else "/app/login")
    return session
