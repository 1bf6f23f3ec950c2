"""The web app's sign-in by e-mail link, its sessions and its CSRF check, over real HTTP and SMTP.

The browser tests (tests/browser) walk the same paths in Chromium; these pin the rules exactly: what the
cookies say, which answers are 403, when a session ends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import ClientResponse

from service.auth import sessions
from service.auth.users import UserRequest, create_user
from tests.service.harness import ADMIN_TOKEN, Service, started
from tests.service.mail import MailSink, mailing_settings

SAM = "sam.samordnare@kommun.example"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with started(mailing_settings(database_url, tmp_path, sink[1])) as running_service:
        async with running_service.runtime.pool.acquire() as connection:
            await create_user(
                connection,
                UserRequest(
                    email=SAM, role="coordinator", regions=["halland"], organisations=["Region Halland"]
                ),
                await running_service.runtime.clock.now(),
            )
        yield running_service


def form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def mailed_link(mails: MailSink, address: str) -> str:
    for _ in range(100):
        if mails.to(address):
            break
        await asyncio.sleep(0.05)
    [message] = mails.to(address)
    match = re.search(r"http://\S+/app/login/link\?token=[\w-]+", message.text())
    assert match, message.text()
    return match.group(0)


async def ask_for_link(service: Service, address: str) -> ClientResponse:
    page = await (await service.client.get("/app/login")).text()
    return await service.client.post("/app/login", data={"email": address, "csrf_token": form_token(page)})


async def sign_in(service: Service, mails: MailSink) -> str:
    """Sign Sam in by link; the session's form token."""
    assert (await ask_for_link(service, SAM)).status == 200
    link = await mailed_link(mails, SAM)
    landing = await service.client.get(link[link.index("/app/") :])
    token = re.search(r'name="token" value="([^"]+)"', await landing.text())
    assert token
    confirmed = await service.client.post(
        "/app/login/link",
        data={"token": token.group(1), "csrf_token": form_token(await landing.text())},
        allow_redirects=False,
    )
    assert confirmed.status == 303
    assert confirmed.headers["Location"] == "/app/"
    home = await service.client.get("/app/")
    assert home.status == 200
    return form_token(await home.text())


async def test_a_link_signs_in_once_and_the_page_shows_role_and_scope(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await sign_in(service, mails)
    page = await (await service.client.get("/app/")).text()
    assert "<h1>Att göra</h1>" in page and SAM in page
    assert "Samordnare" in page and "Halland" in page and "Region Halland" in page

    [message] = mails.to(SAM)
    assert message.message["Subject"] == "Logga in i sipvakt"
    assert "15 minuter" in message.text()
    link = await mailed_link(mails, SAM)
    service.client.session.cookie_jar.clear()
    again = await service.client.get(link[link.index("/app/") :])
    assert again.status == 400
    assert "har redan använts" in await again.text()


async def test_opening_the_link_signs_no_one_in_until_the_button_is_pressed(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await ask_for_link(service, SAM)
    link = await mailed_link(mails, SAM)
    for _ in range(3):  # a mail scanner fetching the link, and fetching it again
        assert (await service.client.get(link[link.index("/app/") :])).status == 200
    home = await service.client.get("/app/", allow_redirects=False)
    assert home.status == 303
    assert home.headers["Location"] == "/app/login"


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    known = await (await ask_for_link(service, SAM)).text()
    unknown = await (await ask_for_link(service, "okand.person@kommun.example")).text()
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", known) == strip.sub("", unknown)
    await mailed_link(mails, SAM)
    await asyncio.sleep(0.3)
    assert mails.to("okand.person@kommun.example") == []
    assert "okand.person" not in unknown


async def test_a_post_without_the_forms_token_is_refused(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    refused = await service.client.post("/app/login", data={"email": SAM})
    assert refused.status == 403
    forged = await service.client.post("/app/login", data={"email": SAM, "csrf_token": "x" * 43})
    assert forged.status == 403
    await asyncio.sleep(0.3)
    assert mails.to(SAM) == []

    token = await sign_in(service, mails)
    assert (await service.client.post("/app/logout", data={"csrf_token": "y" * 43})).status == 403
    assert (await service.client.post("/app/logout")).status == 403
    assert (await service.client.get("/app/")).status == 200  # still signed in
    assert token


async def test_signing_out_ends_the_session_for_good(service: Service, sink: tuple[MailSink, int]) -> None:
    mails, _ = sink
    token = await sign_in(service, mails)
    cookie = service.client.session.cookie_jar.filter_cookies(service.client.make_url("/app/"))[
        "sipvakt_session"
    ]
    out = await service.client.post("/app/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == "/app/login?status=utloggad"
    # The old cookie, played back, opens nothing.
    service.client.session.cookie_jar.update_cookies({"sipvakt_session": cookie.value})
    home = await service.client.get("/app/", allow_redirects=False)
    assert home.status == 303
    assert home.headers["Location"] == "/app/login?status=utgangen"


async def test_cookies_and_headers(service: Service, sink: tuple[MailSink, int]) -> None:
    login = await service.client.get("/app/login")
    assert login.headers["Cache-Control"] == "no-store"
    assert login.headers["Referrer-Policy"] == "no-referrer"
    policy = login.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "'unsafe-inline'" not in policy and "default-src 'none'" in policy
    form_cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in form_cookie and "SameSite=Lax" in form_cookie and "Path=/app" in form_cookie
    assert "Secure" not in form_cookie  # the public URL is plain http here
    style = await service.client.get("/app/static/sipvakt.css")
    assert style.status == 200
    assert style.content_type == "text/css"


async def test_a_session_ends_after_30_minutes_idle_and_the_user_is_told(
    service: Service, sink: tuple[MailSink, int]
) -> None:
    mails, _ = sink
    await sign_in(service, mails)
    now = await service.runtime.clock.now()
    moved = await service.client.post(
        "/v1/test-clock", json={"now": (now + timedelta(minutes=29)).isoformat()}, headers=ADMIN
    )
    assert moved.status == 200
    assert (await service.client.get("/app/", allow_redirects=False)).status == 200
    await service.client.post(
        "/v1/test-clock", json={"now": (now + timedelta(minutes=29 + 31)).isoformat()}, headers=ADMIN
    )
    home = await service.client.get("/app/", allow_redirects=False)
    assert home.status == 303
    assert home.headers["Location"] == "/app/login?status=utgangen"
    page = await (await service.client.get("/app/login?status=utgangen")).text()
    assert "inte har använt sipvakt på en stund" in page


async def test_a_session_lasts_twelve_hours_however_busy(service: Service) -> None:
    async with service.runtime.pool.acquire() as connection:
        user_id = await connection.fetchval("select user_id from users")
        start = await service.runtime.clock.now()
        started_session = await sessions.start_session(connection, user_id, start)
        moment = start
        while moment < start + sessions.LIFETIME - timedelta(minutes=20):
            moment += timedelta(minutes=20)
            assert await sessions.resume_session(connection, started_session.cookie_value, moment)
        assert not await sessions.resume_session(
            connection, started_session.cookie_value, start + sessions.LIFETIME
        )


async def test_disabling_a_user_ends_their_session(service: Service, sink: tuple[MailSink, int]) -> None:
    mails, _ = sink
    await sign_in(service, mails)
    assert (await service.client.delete(f"/v1/users/{SAM}", headers=ADMIN)).status == 204
    assert (await service.client.get("/app/", allow_redirects=False)).status == 303


async def test_oidc_routes_are_absent_without_a_provider(service: Service) -> None:
    assert (await service.client.get("/app/auth/start", allow_redirects=False)).status == 404
    page = await service.client.get("/app/nowhere")
    assert page.status == 404
    assert "Sidan finns inte" in await page.text()
