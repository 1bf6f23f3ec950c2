"""The pages behind sign-in: the guard that sends a visitor without a session to sign in, and the
first page, which greets the user with their role and scope."""

from __future__ import annotations

from aiohttp import web

from service.access import EVERYTHING
from service.auth.sessions import Session
from service.context import runtime
from service.web import cookies, security
from service.web.templating import render

ROLE_NAMES = {"coordinator": "Samordnare", "auditor": "Granskare", "admin": "Administratör"}


def signed_in(request: web.Request) -> Session:
    """The request's session; a visitor without one is sent to sign in (told why, when a cookie shows
    that a session has run out)."""
    session = security.current_session(request)
    if session is None:
        expired = cookies.SESSION in request.cookies
        raise web.HTTPSeeOther("/app/login?status=utgangen" if expired else "/app/login")
    return session


async def home(request: web.Request) -> web.Response:
    session = signed_in(request)
    user = session.user
    rulebook = runtime(request).rulebook
    if EVERYTHING in user.regions or user.role == "admin":
        regions = ["Alla regioner"]
    else:
        regions = [
            rulebook.region(name).display_name if name in rulebook.names() else name for name in user.regions
        ]
    if EVERYTHING in user.organisations or user.role == "admin":
        organisations = ["Alla organisationer"]
    else:
        organisations = list(user.organisations)
    return render(
        request,
        "home.html",
        title="Översikt",
        role_name=ROLE_NAMES[user.role],
        regions=regions,
        organisations=organisations,
    )
