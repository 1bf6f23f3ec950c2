"""Årsrapport, Påminnelser, Brev and the reply page in Chromium against a real `sipvakt serve`: the
flows with JavaScript turned off (the pages need none), axe-core on every page, no sideways scrolling at
320 px, sign-out, an expired session and a cross-site form. The screenshots in docs/screenshots/ are
taken here."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect
from standardwebhooks.webhooks import Webhook

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.browser.rig import assert_accessible, require_chromium
from tests.browser.test_sign_in import ADMIN, RunningService, _start, sign_in_by_link
from tests.service.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SECRET = new_webhook_secret()
CASE = "hal-2026-0101"
POLICY = "/app/regions/halland/reminder-policy"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service with one Halland case whose meeting invites a guardian by e-mail and a professional
    by letter, every event applied and the letter in the print queue."""
    require_chromium()
    async for running in _start(database_url, tmp_path, SIPVAKT_WEBHOOK_SECRET=SECRET):
        for body in (
            samples.case_opened(CASE, "halland"),
            samples.consent_given(CASE),
            samples.meeting_scheduled(CASE),
        ):
            await push(running, body)
        await move_clock(running, timedelta(hours=3))
        yield running


async def push(service: RunningService, body: dict[str, Any]) -> None:
    raw = json.dumps(body)
    message_id = "msg_" + body["type"].replace(".", "_")
    moment = datetime.now(UTC)  # the intake checks signatures against the real time
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(message_id, moment, raw),
    }
    async with (
        aiohttp.ClientSession() as client,
        client.post(service.url + "/v1/events", data=raw, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()


async def api(service: RunningService, method: str, path: str, **kwargs: Any) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client,
        client.request(method, service.url + path, **kwargs) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def move_clock(service: RunningService, by: timedelta) -> None:
    """Move the test clock; the answer comes once every event, timer and message up to then is done."""
    now = datetime.fromisoformat((await api(service, "GET", "/v1/test-clock"))["now"])
    await api(service, "POST", "/v1/test-clock", json={"now": (now + by).isoformat()})


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(locale="sv-SE")
    yield fresh
    await fresh.close()


@pytest.fixture
async def no_script(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser with JavaScript turned off: the app must work in it."""
    fresh = await browser.new_context(locale="sv-SE", java_script_enabled=False, accept_downloads=True)
    yield fresh
    await fresh.close()


async def no_sideways_scrolling(page: Page) -> None:
    """At 320 px (also what 400 % zoom of 1280 px gives) the page fits its width."""
    size = page.viewport_size
    await page.set_viewport_size({"width": 320, "height": 640})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320, page.url
    if size:
        await page.set_viewport_size(size)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def reply_link(outbox: Path) -> str:
    """The reply page's link in the guardian's invitation."""
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "asa.oberg@example.org" in str(message["To"]):
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            match = re.search(r"https?://\S+/rsvp/[\w-]+", body.get_content())
            if match:
                return match.group(0)
    raise AssertionError("no invitation with a reply link in the outbox")


async def test_a_region_policy_is_changed_through_the_form_without_javascript(
    no_script: BrowserContext, service: RunningService
) -> None:
    page = await no_script.new_page()
    await sign_in_by_link(page, service)
    await page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Påminnelser").click()
    await page.get_by_role("link", name="Halland").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Påminnelser i Halland")
    field = page.get_by_label("Högst antal påminnelser")
    await expect(field).to_have_accessible_description(re.compile("Från regelfilen"))

    await field.fill("11")
    await page.get_by_label("Till klockan").fill("07:00")
    await page.get_by_role("button", name="Spara", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("Ändringen sparades inte")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_accessible_description(re.compile("^Talet får inte vara större än 10."))
    end = page.get_by_label("Till klockan")
    await expect(end).to_have_accessible_description(re.compile("Sluttiden måste vara senare än starttiden"))
    policy = await api(service, "GET", "/v1/regions/halland/reminder-policy")
    assert policy["region_override"] == {}

    await field.fill("4")
    await end.fill("16:30")
    await page.get_by_role("button", name="Spara", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Ändringen är sparad. 1 öppet ärende planeras om.")
    await expect(page.get_by_label("Högst antal påminnelser")).to_have_value("4")
    await expect(page.get_by_label("Högst antal påminnelser")).to_have_accessible_description(
        re.compile("Från regionen")
    )
    policy = await api(service, "GET", "/v1/regions/halland/reminder-policy")
    assert policy["region_override"] == {"rsvp": {"max_reminders": 4}, "working_hours": {"end": "16:30:00"}}
    assert policy["policy"]["rsvp"]["max_reminders"] == 4


async def test_a_letter_is_downloaded_and_marked_posted_without_javascript(
    no_script: BrowserContext, service: RunningService
) -> None:
    page = await no_script.new_page()
    await sign_in_by_link(page, service)
    await page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Brev").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Brev")
    row = page.get_by_role("row").filter(has_text=CASE)
    await expect(row).to_have_count(1)
    async with page.expect_download() as waiting:
        await row.get_by_role("link", name=re.compile("Ladda ner PDF")).click()
    download = await waiting.value
    saved = await download.path()
    assert saved.read_bytes().startswith(b"%PDF-")
    assert download.suggested_filename.endswith(".pdf")

    await row.get_by_role("button", name=re.compile("Markera som postat")).click()
    await expect(page.get_by_role("status")).to_have_text("Brevet är markerat som postat.")
    await expect(page.get_by_text("Inga brev väntar på att skrivas ut.")).to_be_visible()
    await page.get_by_role("link", name="Postade").click()
    await expect(page.get_by_role("row").filter(has_text=CASE)).to_have_count(1)
    assert [
        letter["case_id"] for letter in (await api(service, "GET", "/v1/letters?state=sent"))["letters"]
    ] == [CASE]
    # Posting the invitation sent it: the participant's invitation is now `sent`.
    case = await api(service, "GET", f"/v1/cases/{CASE}")
    [letter] = [i for i in case["meetings"][0]["invitations"] if i["participant_id"] == "p-bup"]
    assert letter["status"] == "sent"


async def test_every_page_is_accessible_fits_320_px_and_is_photographed(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 900})
    await sign_in_by_link(page, service)

    await page.goto(service.url + "/app/report?region=halland&year=2026")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Årsrapport")
    charts = page.get_by_role("img")
    await expect(charts).to_have_count(5)
    await expect(page.get_by_role("img", name="Öppnade ärenden per månad")).to_be_visible()
    await expect(page.get_by_role("img", name="KVÅ-koder under året")).to_be_visible()
    table = page.get_by_role("table", name="Öppnade ärenden per månad som tabell")
    await expect(table.get_by_role("row", name="november 1")).to_be_visible()
    await expect(page.get_by_role("table")).to_have_count(6)
    await assert_accessible(page)
    await screenshot(page, "arsrapport.png")
    await no_sideways_scrolling(page)

    await page.goto(service.url + POLICY)
    await assert_accessible(page)
    await screenshot(page, "paminnelser.png")
    await no_sideways_scrolling(page)
    # With its errors showing, too.
    await page.get_by_label("Högst antal påminnelser").fill("-1")
    await page.get_by_role("button", name="Spara", exact=True).click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await assert_accessible(page)
    await no_sideways_scrolling(page)

    await page.goto(service.url + "/app/reminder-policy")
    await assert_accessible(page)
    await page.get_by_label("Ärendets id").fill(CASE)
    await page.get_by_role("button", name="Visa ärendets påminnelser").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Påminnelser för ärende {CASE}")
    await assert_accessible(page)
    await no_sideways_scrolling(page)

    await page.goto(service.url + "/app/letters")
    await expect(page.get_by_role("row").filter(has_text=CASE)).to_have_count(1)
    await assert_accessible(page)
    await screenshot(page, "brev.png")
    await no_sideways_scrolling(page)

    # The reply page, which a participant opens from the invitation, has the same look.
    reply = await context.new_page()
    await reply.set_viewport_size({"width": 1280, "height": 900})
    await reply.goto(reply_link(service.outbox))
    await expect(reply.get_by_role("heading", level=1)).to_have_text("Svara på kallelse till SIP-möte")
    assert await reply.evaluate("getComputedStyle(document.body).fontFamily") != ""
    assert await reply.evaluate("document.styleSheets.length") == 1
    await assert_accessible(reply)
    await screenshot(reply, "svarssida.png")
    await no_sideways_scrolling(reply)
    # The focus is plain to see: a focused button gets the outline.
    await reply.get_by_role("button").first.focus()
    await reply.keyboard.press("Shift+Tab")
    await reply.keyboard.press("Tab")
    outline = await reply.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


async def test_signing_out_an_expired_session_and_a_cross_site_form(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_by_link(page, service)

    # A form on another site that posts a policy change: refused, nothing changed.
    async def forging_page(request: web.Request) -> web.Response:
        form = (
            '<!DOCTYPE html><html lang="sv"><head><title>Annan webbplats</title></head><body><main>'
            f'<form method="post" action="{service.url}{POLICY}">'
            '<input type="hidden" name="rsvp.max_reminders" value="0"><button>Skicka</button></form>'
            "</main></body></html>"
        )
        return web.Response(text=form, content_type="text/html")

    forger = web.Application()
    forger.router.add_get("/", forging_page)
    runner = web.AppRunner(forger)
    await runner.setup()
    await web.TCPSite(runner, "localhost", port := free_port()).start()
    try:
        await page.goto(f"http://localhost:{port}/")
        async with page.expect_response(service.url + POLICY) as answer:
            await page.get_by_role("button", name="Skicka").click()
        assert (await answer.value).status == 403
    finally:
        await runner.cleanup()
    assert (await api(service, "GET", "/v1/regions/halland/reminder-policy"))["region_override"] == {}

    # Signing out from one of these pages ends the session.
    await page.goto(service.url + "/app/letters")
    await page.get_by_role("button", name="Logga ut").click()
    await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")
    await page.goto(service.url + "/app/report")
    assert page.url == service.url + "/app/login"

    # Signed in again, then idle for 31 minutes of the service's clock: sent to sign in, told why.
    for spent in service.outbox.glob("*.eml"):  # so that the new link is the only one
        spent.unlink()
    await sign_in_by_link(page, service)
    await page.goto(service.url + POLICY)
    await move_clock(service, timedelta(minutes=31))
    await page.reload()
    assert page.url.startswith(service.url + "/app/login")
    await expect(page.get_by_role("status")).to_contain_text("inte har använt sipvakt på en stund")
    await page.goto(service.url + "/app/letters")
    assert page.url.startswith(service.url + "/app/login")


async def test_an_auditor_draws_a_sample_of_the_access_log_on_an_accessible_page(
    context: BrowserContext, service: RunningService
) -> None:
    auditor = "granskare.test@halland.example.se"
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client,
        client.post(
            service.url + "/v1/users",
            json={"email": auditor, "role": "auditor", "regions": ["halland"], "organisations": ["*"]},
        ) as created,
    ):
        assert created.status == 201, await created.text()
    page = await context.new_page()
    await sign_in_by_link(page, service, auditor)
    await page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Loggkontroll").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Loggkontroll")
    await page.get_by_label("Antal poster").fill("5")
    await page.get_by_role("button", name="Dra stickprov").click()
    sample = page.get_by_role("table")
    await expect(sample).to_be_visible()
    rows = sample.get_by_role("row")
    assert 2 <= await rows.count() <= 6  # a header and up to five entries
    await assert_accessible(page)
    await no_sideways_scrolling(page)
    # The field's own bounds stop a browser from sending 0; the address can carry it all the same.
    await page.goto(service.url + "/app/audit?antal=0")
    await expect(page.get_by_role("alert")).to_contain_text("Antalet ska vara ett heltal")
    await assert_accessible(page)
