"""Signing in and out: by a one-time link by e-mail, or (when configured) through an OpenID provider.

With OpenID Connect configured the provider is the only way in, so its own checks (a second factor, say)
cannot be stepped around by mail; without it, `/app/login` mails a link to a registered user and answers
every address the same way. The link's page asks for a press of a button before anyone is signed in.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from notifiers.notices import notice_email
from notifiers.sign_in import sign_in_notice
from scheduler.events import Email
from service.auth import oidc, sessions, sign_in_links
from service.auth.users import enabled_user
from service.context import Runtime, runtime
from service.http.rate_limits import RateLimited
from service.web import cookies, security
from service.web.templating import render

log = logging.getLogger(__name__)

_EMAIL = TypeAdapter(Email)
# Sign-in mails leave in the background, so a known and an unknown address take the same time to answer.
_SENDING = web.AppKey("sign_in_mails", set[asyncio.Task[None]])
STATUS_MESSAGES = {
    "utloggad": "Du är utloggad.",
    "utgangen": "Du har loggats ut eftersom du inte har använt sipvakt på en stund. Logga in igen.",
}


def add_routes(app: web.Application) -> None:
    app[_SENDING] = set()
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", ask_for_link)
    app.router.add_get("/login/link", link_page)
    app.router.add_post("/login/link", use_link)
    app.router.add_get("/auth/start", oidc_start)
    app.router.add_get("/auth/callback", oidc_callback)
    app.router.add_post("/logout", logout)


def _provider(request: web.Request) -> tuple[Runtime, oidc.OidcClient]:
    """The runtime and the OpenID client; without a configured provider its routes do not exist."""
    rt = runtime(request)
    client = _oidc_client(rt)
    if client is None:
        raise web.HTTPNotFound()
    return rt, client


def _oidc_client(rt: Runtime) -> oidc.OidcClient | None:
    settings = rt.settings
    if settings.oidc_issuer is None or settings.oidc_client_id is None or settings.oidc_client_secret is None:
        return None
    return oidc.OidcClient(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=settings.base_url + oidc.CALLBACK_PATH,
    )


async def login_page(request: web.Request) -> web.Response:
    if security.current_session(request) is not None:
        raise web.HTTPSeeOther("/app/")
    status = STATUS_MESSAGES.get(request.query.get("status", ""))
    return _login_form(request, status=status)


def _login_form(request: web.Request, *, status: str | None = None, error: str | None = None) -> web.Response:
    return render(
        request,
        "login.html",
        status=400 if error else 200,
        title="Logga in",
        oidc=_oidc_client(runtime(request)) is not None,
        message=status,
        error=error,
    )


def _too_many(request: web.Request, limited: RateLimited) -> web.Response:
    minutes = max(1, -(-limited.retry_after // 60))
    page = render(request, "too_many.html", status=429, title="För många försök", minutes=minutes)
    page.headers["Retry-After"] = str(limited.retry_after)
    return page


async def _count_sign_in(rt: Runtime, request: web.Request) -> None:
    """Count a link request or a failed confirmation of this source; raises RateLimited past the limit."""
    await rt.limiter.count(rt.limiter.limits.sign_in, rt.limiter.source(request))


async def _check_sign_in(rt: Runtime, request: web.Request) -> None:
    await rt.limiter.check(rt.limiter.limits.sign_in, rt.limiter.source(request))


async def ask_for_link(request: web.Request) -> web.Response:
    rt = runtime(request)
    if _oidc_client(rt) is not None:
        raise web.HTTPNotFound()
    try:
        # Every request counts, known address or not: each may send a mail, and the answer is the same.
        await _count_sign_in(rt, request)
    except RateLimited as limited:
        return _too_many(request, limited)
    address = (await request.post()).get("email")
    try:
        email = str(_EMAIL.validate_python(address.strip() if isinstance(address, str) else None))
    except ValidationError:
        return _login_form(request, error="Skriv din e-postadress, till exempel namn@kommun.se.")
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection:
        user = await enabled_user(connection, email=email)
        token = await sign_in_links.issue_link_token(connection, user.user_id, now) if user else None
    if user is not None and token is not None:
        task = asyncio.create_task(_mail_link(rt, user.email, token))
        sending = request.app[_SENDING]
        sending.add(task)
        task.add_done_callback(sending.discard)
    return render(request, "link_sent.html", title="Kolla din e-post")


async def _mail_link(rt: Runtime, recipient: str, token: str) -> None:
    url = f"{rt.settings.base_url}/app/login/link?token={token}"
    minutes = int(sign_in_links.VALID_FOR.total_seconds() // 60)
    now = await rt.clock.now()
    # The message's own id, unrelated to the token: Message-ID and file names are seen by more eyes.
    key = "sign-in/" + secrets.token_hex(8)
    message = notice_email(sign_in_notice(url, minutes), recipient, key, rt.sender, now)
    try:
        await rt.transport.send(rt.sender.mail_from, recipient, message, key)
    except Exception as exc:  # the visitor has had their answer; they can ask again
        log.warning("sign-in link not sent", extra={"reason": type(exc).__name__})


async def link_page(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = request.query.get("token", "")
    try:
        await _check_sign_in(rt, request)
        async with rt.pool.acquire() as connection:
            is_open = await sign_in_links.link_is_open(connection, token, await rt.clock.now())
        if not is_open:
            await _count_sign_in(rt, request)
    except RateLimited as limited:
        return _too_many(request, limited)
    if not is_open:
        return render(request, "link_invalid.html", status=400, title="Länken fungerar inte")
    return render(request, "confirm.html", title="Logga in", token=token)


async def use_link(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = (await request.post()).get("token")
    now = await rt.clock.now()
    try:
        await _check_sign_in(rt, request)
        async with rt.pool.acquire() as connection, connection.transaction():
            user_id = (
                await sign_in_links.redeem_link_token(connection, token, now)
                if isinstance(token, str)
                else None
            )
            started = await sessions.start_session(connection, user_id, now) if user_id else None
        if started is None:
            await _count_sign_in(rt, request)
    except RateLimited as limited:
        return _too_many(request, limited)
    if started is None:
        return render(request, "link_invalid.html", status=400, title="Länken fungerar inte")
    return _signed_in(request, started)


def _signed_in(request: web.Request, started: sessions.StartedSession) -> web.Response:
    response = web.Response(status=303, headers={"Location": "/app/"})
    cookies.set_cookie(request, response, cookies.SESSION, started.cookie_value)
    cookies.clear_cookie(response, cookies.FORM_TOKEN)
    cookies.clear_cookie(response, cookies.OIDC_STATE)
    return response


async def oidc_start(request: web.Request) -> web.Response:
    rt, client = _provider(request)
    try:
        async with rt.pool.acquire() as connection:
            begun = await oidc.begin(client, connection, await rt.clock.now())
    except (oidc.SignInFailed, OSError, TimeoutError) as exc:
        log.warning("sign-in provider unavailable", extra={"reason": str(exc) or type(exc).__name__})
        return render(request, "sign_in_failed.html", status=502, title="Inloggningen misslyckades")
    response = web.Response(status=303, headers={"Location": begun.authorization_url})
    cookies.set_cookie(request, response, cookies.OIDC_STATE, begun.state)
    return response


async def oidc_callback(request: web.Request) -> web.Response:
    rt, client = _provider(request)
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    # The state must be the one this browser was sent off with: nobody can sign someone else in as
    # themselves by handing them a callback link.
    expected = request.cookies.get(cookies.OIDC_STATE, "")
    if not state or not code or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return render(request, "sign_in_failed.html", status=400, title="Inloggningen misslyckades")
    try:
        async with rt.pool.acquire() as connection:
            claims = await oidc.finish(
                client, connection, state, code, await rt.clock.now(), await rt.wall_clock.now()
            )
    except (oidc.SignInFailed, OSError, TimeoutError) as exc:
        log.warning("sign-in refused", extra={"reason": str(exc) or type(exc).__name__})
        return render(request, "sign_in_failed.html", status=400, title="Inloggningen misslyckades")
    email = oidc.email_of(claims)
    now = await rt.clock.now()
    async with rt.pool.acquire() as connection, connection.transaction():
        user = await enabled_user(connection, email=email) if email else None
        started = await sessions.start_session(connection, user.user_id, now) if user else None
    if started is None:
        return render(request, "unknown_user.html", status=403, title="Ingen behörighet")
    return _signed_in(request, started)


async def logout(request: web.Request) -> web.Response:
    rt = runtime(request)
    cookie = request.cookies.get(cookies.SESSION)
    if cookie:
        async with rt.pool.acquire() as connection:
            await sessions.end_session(connection, cookie, await rt.clock.now())
    response = web.Response(status=303, headers={"Location": "/app/login?status=utloggad"})
    cookies.clear_cookie(response, cookies.SESSION)
    return response
