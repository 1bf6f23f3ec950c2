"""Att göra, Ärende and Avvikelser in Chromium against a real `sipvakt serve`: sign in, find the overdue
case, open it, acknowledge its deviation with the keyboard alone, export the CSV file; axe-core on every
page; the same pages with JavaScript off. The screenshots in docs/screenshots/ are taken here."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from standardwebhooks.webhooks import Webhook

from scheduler.case import Deviation
from scheduler.effects import RecordDeviation
from service.storage import store
from service.storage.database import _init_connection
from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.browser.rig import assert_accessible, require_chromium
from tests.browser.test_sign_in import ADMIN, RunningService, _start, sign_in_by_link

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
OVERDUE = "hall-2026-0007"
WAITING = "hall-2026-0009"
ELSEWHERE = "blek-2026-0042"
DEVIATION = "dev_0badc0ffee"


async def _push(url: str, secret: str, events: list[dict[str, object]]) -> None:
    """Each event through the signed intake, as an integration sends it."""
    async with aiohttp.ClientSession() as client:
        for number, event in enumerate(events):
            raw = json.dumps(event)
            message_id = f"msg_browser_{number}"
            moment = datetime.now(UTC)  # the intake checks signatures against the real clock
            headers = {
                "Content-Type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": Webhook(secret).sign(message_id, moment, raw),
            }
            async with client.post(f"{url}/v1/events", data=raw, headers=headers) as answer:
                assert answer.status == 202, await answer.text()


async def _wait_for_cases(url: str, *case_ids: str) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        for case_id in case_ids:
            for _ in range(200):
                async with client.get(f"{url}/v1/cases/{case_id}") as answer:
                    if answer.status == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"{case_id} never arrived")
        # Settled: every accepted event applied.
        async with client.get(f"{url}/v1/test-clock") as answer:
            now = (await answer.json())["now"]
        async with client.post(f"{url}/v1/test-clock", json={"now": now}) as answer:
            assert answer.status == 200


async def _record_deviation(database_url: str) -> None:
    """A deviation of the overdue case, recorded as the event processor records one."""
    connection = await asyncpg.connect(database_url)
    await _init_connection(connection)  # the service's own JSON codecs
    try:
        async with connection.transaction():
            case = await store.load_case(connection, OVERDUE, for_update=True)
            assert case is not None
            deviation = Deviation(
                deviation_id=DEVIATION,
                kind="no_response",
                detected_at=datetime(2026, 11, 23, 8, 30, tzinfo=UTC),
                meeting_id="m1",
                participant_id="p-school",
                rule="default.escalation",
            )
            case.deviations.append(deviation)
            await store.save_case(connection, case, case.opened_at)
            await store.record_deviation(connection, case, RecordDeviation(deviation))
    finally:
        await connection.close()


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    require_chromium()
    secret = new_webhook_secret()
    async for running in _start(database_url, tmp_path / "data", SIPVAKT_WEBHOOK_SECRET=secret):
        events = [
            samples.case_opened(OVERDUE, "halland", detected_at="2026-08-03"),
            samples.case_opened(WAITING, "halland"),
            samples.consent_given(WAITING),
            samples.meeting_scheduled(WAITING),
            samples.case_opened(ELSEWHERE, "blekinge", detected_at="2026-08-03"),
        ]
        await _push(running.url, secret, events)
        await _wait_for_cases(running.url, OVERDUE, WAITING, ELSEWHERE)
        await _record_deviation(database_url)
        yield running


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context(locale="sv-SE", accept_downloads=True)
    yield fresh
    await fresh.close()


async def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


async def test_find_the_overdue_case_acknowledge_by_keyboard_and_export(
    context: BrowserContext, service: RunningService
) -> None:
    page = await context.new_page()
    await sign_in_by_link(page, service)
    table = page.get_by_role("table")
    overdue_row = table.get_by_role("row").filter(has_text=OVERDUE)
    await expect(overdue_row).to_contain_text("Försenat")
    await expect(table).to_contain_text(WAITING)
    await expect(page.get_by_role("main")).not_to_contain_text(ELSEWHERE)
    await assert_accessible(page)
    await _screenshot(page, "att-gora.png")

    await page.get_by_role("combobox", name="Visa").select_option("forsenat")
    await page.get_by_role("button", name="Visa").click()
    await expect(page.get_by_role("table")).not_to_contain_text(WAITING)

    await page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Ärende").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ärende")
    await assert_accessible(page)
    await page.go_back()

    await page.get_by_role("link", name=OVERDUE).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Ärende {OVERDUE}")
    await expect(page.get_by_role("link", name="Ändra ärendets påminnelser")).to_have_attribute(
        "href", f"/app/cases/{OVERDUE}/reminder-policy"
    )
    await expect(page.get_by_text("Inte kvitterad")).to_be_visible()
    await assert_accessible(page)
    await _screenshot(page, "arende.png")

    # Keyboard only: Tab to the note, type, Tab to the button, Enter.
    note = page.get_by_label("Anteckning (valfri)")
    for _ in range(80):
        if await note.evaluate("element => element === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(note).to_be_focused()
    await page.keyboard.type("Ringt skolan, svar kommer.")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Kvittera avvikelsen")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Avvikelsen är kvitterad.")
    await expect(page.get_by_text("Anteckning: Ringt skolan, svar kommer.")).to_be_visible()
    await expect(page.get_by_role("button", name="Kvittera avvikelsen")).to_have_count(0)
    await assert_accessible(page)

    await page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Avvikelser").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Avvikelser")
    await expect(page.get_by_role("table")).to_contain_text(OVERDUE)
    await expect(page.get_by_role("main")).not_to_contain_text(ELSEWHERE)
    await assert_accessible(page)
    await _screenshot(page, "avvikelser.png")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Ladda ner som CSV-fil (för Excel)").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("avvikelser-")
    raw = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert raw.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8")), delimiter=";"))
    assert b";" in raw.splitlines()[0]
    assert header[:5] == ["Avvikelse", "Ärende", "Region", "Typ", "Upptäckt"]
    assert "Kvitterad av" in header
    assert [row[0] for row in rows] == [DEVIATION]
    assert rows[0][3] == "Inget svar på kallelse" and rows[0][-1].startswith("usr_")
    assert ELSEWHERE.encode() not in raw and b"Ringt skolan" not in raw


async def test_every_page_works_without_javascript(browser: Browser, service: RunningService) -> None:
    # axe-core runs as a script, so it checks these pages in the test above, with JavaScript on.
    context = await browser.new_context(locale="sv-SE", java_script_enabled=False)
    try:
        page = await context.new_page()
        await sign_in_by_link(page, service)
        await page.get_by_role("combobox", name="Region").select_option("halland")
        await page.get_by_role("button", name="Visa").click()
        assert "region=halland" in page.url
        await expect(page.get_by_role("table")).to_contain_text(OVERDUE)

        await page.goto(service.url + "/app/cases")
        await page.get_by_label("Ärende-id").fill(OVERDUE)
        await page.get_by_role("button", name="Öppna ärendet").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Ärende {OVERDUE}")
        await page.get_by_label("Anteckning (valfri)").fill("Utan skript.")
        await page.get_by_role("button", name="Kvittera avvikelsen").click()
        await expect(page.get_by_role("status")).to_have_text("Avvikelsen är kvitterad.")

        await page.goto(service.url + "/app/cases/" + ELSEWHERE)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Sidan finns inte")

        await page.goto(service.url + "/app/deviations")
        await page.get_by_role("combobox", name="Kvitterad").select_option("nej")
        await page.get_by_role("button", name="Visa").click()
        assert "kvitterad=nej" in page.url
        await expect(page.get_by_text("Inga avvikelser att visa.")).to_be_visible()
    finally:
        await context.close()
