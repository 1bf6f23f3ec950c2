"""Signing in to the web app in Chromium: by mailed link and through a real OpenID provider, refusals,
signing out, an expired session, a cross-site form, a link used twice; axe-core checks every page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.rig import (
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    assert_accessible,
    mailed_sign_in_link,
    oidc_provider,
    require_chromium,
    require_oidc_provider,
)
from tests.service.processes import ServiceProcess, free_port, run_command

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ADMIN = "browser-admin-token-0123456789"
SAM = "sam.samordnare@kommun.example"


@dataclass
class RunningService:
    process: ServiceProcess
    outbox: Path

    @property
    def url(self) -> str:
        return self.process.url


async def _start(
    database_url: str, data_dir: Path, port: int | None = None, **extra: str
) -> AsyncIterator[RunningService]:
    environment = {
        "SIPVAKT_DATABASE_URL": database_url,
        "SIPVAKT_DATA_DIR": str(data_dir),
        "SIPVAKT_ADMIN_TOKEN": ADMIN,
        "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
        "SIPVAKT_MAIL_FROM": "sipvakt@kommun.example",
    }
    process = ServiceProcess(environment, port=port or free_port())
    environment["SIPVAKT_PUBLIC_URL"] = process.url
    environment.update(extra)
    await process.start()
    try:
        created = run_command(
            "user",
            "create",
            "--email",
            SAM,
            "--role",
            "coordinator",
            "--regions",
            "halland",
            environment={**environment, "SIPVAKT_HTTP_PORT": str(process.port)},
        )
        assert created.returncode == 0, created.stderr
        yield RunningService(process, data_dir / "outbox")
    finally:
        process.stop()


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    require_chromium()
    async for running in _start(database_url, tmp_path):
        yield running


@pytest.fixture
async def oidc_service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    require_chromium()
    require_oidc_provider()
    port = free_port()
    async with oidc_provider(f"http://127.0.0.1:{port}/app/auth/callback") as issuer:
        async for running in _start(
            database_url,
            tmp_path,
            port,
            SIPVAKT_OIDC_ISSUER=issuer,
            SIPVAKT_OIDC_CLIENT_ID=OIDC_CLIENT_ID,
            SIPVAKT_OIDC_CLIENT_SECRET=OIDC_CLIENT_SECRET,
        ):
            yield running


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(locale="sv-SE")
    yield fresh
    await fresh.close()


async def sign_in_by_link(page: Page, service: RunningService, email: str = SAM) -> str:
    """Ask for a link, open it from the outbox, press the button; the link used."""
    await page.goto(service.url + "/app/login")
    await page.get_by_label("E-postadress").fill(email)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    link = await mailed_sign_in_link(service.outbox, email)
    await page.goto(link)
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")
    return link


async def test_sign_in_by_mailed_link_then_out_and_the_link_is_spent(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await page.goto(service.url + "/app/")
    assert page.url == service.url + "/app/login"
    await assert_accessible(page)
    await page.get_by_label("E-postadress").fill(SAM)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    await assert_accessible(page)

    link = await mailed_sign_in_link(service.outbox, SAM)
    assert "samordnare" not in link
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
    await assert_accessible(page)
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")
    assert page.url == service.url + "/app/"
    await expect(page.get_by_text("Samordnare", exact=True)).to_be_visible()
    await expect(page.get_by_role("navigation", name="Huvudmeny")).to_be_visible()
    await assert_accessible(page)

    # The first Tab reaches the skip link, and the skip link leads into the main content.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Hoppa till innehållet")).to_be_focused()
    # No sideways scrolling on a 320 px wide screen.
    await page.set_viewport_size({"width": 320, "height": 640})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320

    await page.get_by_role("button", name="Logga ut").click()
    await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")
    await assert_accessible(page)
    await page.goto(service.url + "/app/")
    assert page.url == service.url + "/app/login"

    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Länken fungerar inte")
    await assert_accessible(page)


async def test_a_link_pressed_a_second_time_signs_no_one_in(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await page.goto(service.url + "/app/login")
    await page.get_by_label("E-postadress").fill(SAM)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    link = await mailed_sign_in_link(service.outbox, SAM)
    await page.goto(link)
    other = await context.browser.new_context()  # type: ignore[union-attr]
    second = await other.new_page()
    await second.goto(link)
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")
    await second.get_by_role("button", name="Logga in").click()
    await expect(second.get_by_role("heading", level=1)).to_have_text("Länken fungerar inte")
    await assert_accessible(second)
    await other.close()


async def test_an_expired_session_sends_you_to_sign_in(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_by_link(page, service)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        async with client.get(service.url + "/v1/test-clock") as response:
            now = datetime.fromisoformat((await response.json())["now"])
        later = (now + timedelta(minutes=31)).isoformat()
        async with client.post(service.url + "/v1/test-clock", json={"now": later}) as response:
            assert response.status == 200
    await page.reload()
    assert page.url.startswith(service.url + "/app/login")
    await expect(page.get_by_role("status")).to_contain_text("inte har använt sipvakt på en stund")
    await assert_accessible(page)


async def test_a_post_from_another_site_or_without_the_token_is_refused(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_by_link(page, service)

    async def forging_page(request: web.Request) -> web.Response:
        form = (
            f'<!DOCTYPE html><html lang="sv"><head><title>Annan webbplats</title></head><body><main>'
            f'<form method="post" action="{service.url}/app/logout"><button>Skicka</button></form>'
            "</main></body></html>"
        )
        return web.Response(text=form, content_type="text/html")

    forger = web.Application()
    forger.router.add_get("/", forging_page)
    runner = web.AppRunner(forger)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "localhost", port).start()
    try:
        await page.goto(f"http://localhost:{port}/")
        async with page.expect_response(service.url + "/app/logout") as answer:
            await page.get_by_role("button", name="Skicka").click()
        assert (await answer.value).status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text("Formuläret kunde inte tas emot")
        await assert_accessible(page)
    finally:
        await runner.cleanup()

    # Same site, but the form's token altered: refused too, and the session stands.
    await page.goto(service.url + "/app/")
    await page.locator("input[name=csrf_token]").evaluate("field => { field.value = 'forged-token-value' }")
    async with page.expect_response(service.url + "/app/logout") as answer:
        await page.get_by_role("button", name="Logga ut").click()
    assert (await answer.value).status == 403
    await page.goto(service.url + "/app/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")


async def test_pages_that_do_not_exist_are_accessible_too(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    response = await page.goto(service.url + "/app/finns-inte")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sidan finns inte")
    await assert_accessible(page)


@pytest.fixture
async def limited_service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    require_chromium()
    async for running in _start(
        database_url, tmp_path, SIPVAKT_RATE_LIMIT_SIGN_IN="1", SIPVAKT_RATE_LIMIT_REPLY_TOKENS="1"
    ):
        yield running


async def test_too_many_attempts_are_told_in_swedish_on_an_accessible_page(
    context: BrowserContext, limited_service: RunningService
) -> None:
    page = await context.new_page()
    for _ in range(2):
        await page.goto(limited_service.url + "/app/login")
        await page.get_by_label("E-postadress").fill("ingen.alls@kommun.example")
        await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("För många försök")
    await expect(page.get_by_role("main")).to_contain_text(re.compile(r"Vänta \d+ minut"))
    await assert_accessible(page)
    for attempt in range(2):
        response = await page.goto(limited_service.url + f"/rsvp/okand-lank-{attempt}")
    assert response is not None and response.status == 429
    await expect(page.get_by_role("heading", level=1)).to_have_text("För många försök")
    await assert_accessible(page)


async def sign_in_at_provider(page: Page, service: RunningService, account: str) -> None:
    await page.goto(service.url + "/app/login")
    await assert_accessible(page)
    await page.get_by_role("link", name="Logga in med organisationens konto").click()
    # The provider's own login and consent pages.
    await page.locator("input[name=login]").fill(account)
    await page.locator("input[name=password]").fill("any-password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()


async def test_sign_in_through_the_openid_provider(
    context: BrowserContext, oidc_service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_at_provider(page, oidc_service, "sam.samordnare")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Att göra")
    assert page.url == oidc_service.url + "/app/"
    await assert_accessible(page)
    await page.get_by_role("button", name="Logga ut").click()
    await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")


async def test_an_unknown_user_from_the_provider_is_refused_in_swedish(
    context: BrowserContext, oidc_service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_at_provider(page, oidc_service, "okand.person")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Du har ingen behörighet till sipvakt")
    await expect(page.get_by_role("alert")).to_contain_text("finns inte bland sipvakts användare")
    await assert_accessible(page)
    await page.goto(oidc_service.url + "/app/")
    assert page.url == oidc_service.url + "/app/login"
