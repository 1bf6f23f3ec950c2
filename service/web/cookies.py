"""The web app's cookies: HttpOnly, SameSite=Lax, limited to `/app`, Secure when the public URL is https."""

from __future__ import annotations

from aiohttp import web

from service.context import runtime

SESSION = "sipvakt_session"
# The form token of a visitor not signed in yet (the sign-in forms): compared with the form's field.
FORM_TOKEN = "sipvakt_form"
OIDC_STATE = "sipvakt_oidc"


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/app",
        httponly=True,
        samesite="Lax",
        secure=runtime(request).settings.public_url_is_https,
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/app")
