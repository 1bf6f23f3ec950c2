"""The web app's Årsrapport, Påminnelser and Brev pages over real HTTP and PostgreSQL: what they show,
what they change, who may, and that they answer exactly as the API does.

The browser tests (tests/browser/test_admin_pages.py) walk the same pages in Chromium with axe-core."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.case import Case
from service.auth import sessions
from service.auth.users import UserRequest, UserRole, create_user
from service.storage import store
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.test_reports import meeting, stored_case

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
API = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def signed_in(
    service: Service, role: UserRole = "coordinator", regions: tuple[str, ...] = ("vastra_gotaland",)
) -> dict[str, str]:
    """A user with a live session; the headers that carry its cookie."""
    async with service.runtime.pool.acquire() as connection:
        now = await service.runtime.clock.now()
        user = await create_user(
            connection,
            UserRequest(
                email=f"{role}@kommun.example", role=role, regions=list(regions), organisations=["*"]
            ),
            now,
        )
        started_session = await sessions.start_session(connection, user.user_id, now)
    return {"Cookie": f"sipvakt_session={started_session.cookie_value}"}


async def page(service: Service, path: str, cookie: dict[str, str], status: int = 200) -> str:
    response = await service.client.get(path, headers=cookie, allow_redirects=False)
    text = await response.text()
    assert response.status == status, text
    return text


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def save(service: Service, *cases: Case) -> None:
    async with service.runtime.pool.acquire() as connection:
        for case in cases:
            await store.save_case(connection, case, NOW)


def policy_form(html: str) -> dict[str, str]:
    """The policy form's fields as a browser would send them (checked boxes only)."""
    form: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                form[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        form[name.group(1)] = value.group(1) if value else ""
    for select in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected>', select[1])
        assert chosen, select[0]
        form[select[0]] = chosen.group(1)
    return form


async def test_the_report_page_shows_the_summary_as_charts_and_tables(service: Service) -> None:
    case = stored_case("vg-1")
    meeting(case, "m1", "2026-06-10T09:00:00+02:00")
    meeting(case, "m2", "2026-09-01T10:00:00+02:00", "followup")
    await save(service, case, stored_case("vg-2", opened_at="2026-03-20T10:00:00+01:00"))
    cookie = await signed_in(service)

    html = await page(service, "/app/report?region=vastra_gotaland&year=2026", cookie)
    api = await (
        await service.client.get("/v1/reports/summary?region=vastra_gotaland&year=2026", headers=API)
    ).json()
    assert api["cases_opened"] == 2
    # Five charts, each an image with a title and a description that names every number.
    charts = re.findall(r'<svg class="diagram"[^>]*role="img"[^>]*aria-labelledby="([\w-]+) ([\w-]+)"', html)
    assert [title for title, _ in charts] == [
        "oppnade-titel",
        "moten-titel",
        "uppfoljningar-titel",
        "avvikelser-titel",
        "kva-titel",
    ]
    assert '<desc id="oppnade-beskrivning">januari: 0, februari: 0, mars: 2,' in html
    assert '<desc id="kva-beskrivning">AUI24: 1, AUI25: 0, AW010: 1</desc>' in html
    # The same numbers as tables.
    assert re.search(r'<th scope="row">mars</th><td class="tal">2</td>', html)
    assert re.search(r'<th scope="row">AW010 Uppföljning av SIP</th><td class="tal">1</td>', html)
    assert "<script" not in html and "style=" not in html

    bad = await page(service, "/app/report?region=vastra_gotaland&year=20x6", cookie, 400)
    assert 'id="year" name="year" value="20x6"' in bad
    assert 'aria-invalid="true" aria-describedby="year-fel"' in bad
    assert "<svg" not in bad
    # A region outside the user's scope is not offered and not counted.
    outside = await page(service, "/app/report?region=blekinge&year=2026", cookie, 400)
    assert 'aria-describedby="region-fel"' in outside
    assert '<option value="blekinge"' not in outside


async def region_policy(service: Service) -> dict[str, Any]:
    response = await service.client.get("/v1/regions/vastra_gotaland/reminder-policy", headers=API)
    body: dict[str, Any] = await response.json()
    return body


async def test_a_region_policy_changed_through_the_form_is_checked_as_the_api_checks(
    service: Service,
) -> None:
    open_case, closed_case = stored_case("vg-open"), stored_case("vg-closed")
    closed_case.status = "closed"
    await save(service, open_case, closed_case, stored_case("other", "halland"))
    cookie = await signed_in(service)
    path = "/app/regions/vastra_gotaland/reminder-policy"
    html = await page(service, path, cookie)
    assert "När du sparar planeras 1 öppet ärende om" in html
    assert 'id="rsvp-max_reminders-lager">Från regelfilen' in html
    form = policy_form(html)
    assert form["rsvp.max_reminders"] == "2" and form["working_hours.start"] == "08:00"

    # Bad values: each error in Swedish at its field, and nothing stored.
    bad = form | {"rsvp.max_reminders": "11", "rsvp.after.days": "sju", "working_hours.end": "07:00"}
    response = await service.client.post(path, data=bad, headers=cookie, allow_redirects=False)
    assert response.status == 422
    answer = await response.text()
    assert (
        '<p class="felmeddelande" id="rsvp-max_reminders-fel">Talet får inte vara större än 10.</p>' in answer
    )
    assert 'id="rsvp-after-days-fel">Skriv ett heltal.' in answer
    assert 'id="working_hours-end-fel">Sluttiden måste vara senare än starttiden.' in answer
    described = 'aria-invalid="true" aria-describedby="rsvp-max_reminders-fel rsvp-max_reminders-lager"'
    assert re.search(r'id="rsvp-max_reminders"[^>]*value="11" ' + described, answer)
    assert (await region_policy(service))["region_override"] == {}
    # The API says the same of the same override.
    api = await service.client.put(
        "/v1/regions/vastra_gotaland/reminder-policy",
        json={"rsvp": {"max_reminders": 11, "after": {"days": "sju", "counting": "calendar"}},
              "working_hours": {"end": "07:00:00"}},
        headers=API,
    )  # fmt: skip
    assert api.status == 422
    assert {e["location"] for e in (await api.json())["errors"]} == {
        "rsvp.max_reminders",
        "rsvp.after.days",
        "working_hours",
    }

    # A good value: stored as the region's override (only what differs), one open case re-planned.
    good = form | {"rsvp.max_reminders": "4", "followup_call.lead.counting": "calendar"}
    del good["deviation.enabled"]
    response = await service.client.post(path, data=good, headers=cookie, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == path + "?omplanerade=1"
    assert (await region_policy(service))["region_override"] == {
        "rsvp": {"max_reminders": 4},
        "followup_call": {"lead": {"days": 5, "counting": "calendar"}},
        "deviation": {"enabled": False},
    }
    after = await page(service, path + "?omplanerade=1", cookie)
    assert "Ändringen är sparad. 1 öppet ärende planeras om." in after
    assert 'id="rsvp-max_reminders-lager">Från regionen' in after
    assert 'id="rsvp-repeat_every_days-lager">Från regelfilen' in after
    timers = await service.runtime.pool.fetch("select case_id from timers where kind = 'replan'")
    assert [row["case_id"] for row in timers] == ["vg-open"]

    # Removing the region's own values leaves the rule files'.
    reset = {"csrf_token": form["csrf_token"], "aterstall": "1"}
    response = await service.client.post(path, data=reset, headers=cookie, allow_redirects=False)
    assert response.status == 303
    assert (await region_policy(service))["region_override"] == {}

    # Without the session's token: refused, nothing changed.
    response = await service.client.post(path, data=good | {"csrf_token": "x" * 40}, headers=cookie)
    assert response.status == 403
    assert (await region_policy(service))["region_override"] == {}


async def test_a_case_policy_shows_its_layers_and_only_coordinators_in_scope_change_it(
    service: Service,
) -> None:
    await save(service, stored_case("vg-7"), stored_case("hal-1", "halland"))
    put = await service.client.put(
        "/v1/regions/vastra_gotaland/reminder-policy", json={"rsvp": {"max_reminders": 3}}, headers=API
    )
    assert put.status == 200
    cookie = await signed_in(service)
    path = "/app/cases/vg-7/reminder-policy"
    html = await page(service, path, cookie)
    assert "Påminnelser för ärende vg-7" in html
    assert 'id="rsvp-max_reminders-lager">Från regionen' in html
    form = policy_form(html) | {"rsvp.repeat_every_days": "5"}
    response = await service.client.post(path, data=form, headers=cookie, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == path + "?omplanerade=1"
    case_policy = await (await service.client.get("/v1/cases/vg-7/reminder-policy", headers=API)).json()
    assert case_policy["case_override"] == {"rsvp": {"repeat_every_days": 5}}
    assert case_policy["policy"]["rsvp"]["max_reminders"] == 3
    html = await page(service, path, cookie)
    assert 'id="rsvp-repeat_every_days-lager">Från ärendet' in html

    # A case and a region outside the scope do not exist; an auditor reads but may not change.
    await page(service, "/app/cases/hal-1/reminder-policy", cookie, 404)
    await page(service, "/app/regions/halland/reminder-policy", cookie, 404)
    auditor = await signed_in(service, "auditor")
    read_only = await page(service, path, auditor)
    assert "disabled" in read_only and ">Spara<" not in read_only
    response = await service.client.post(path, data={"csrf_token": csrf(read_only)}, headers=auditor)
    assert response.status == 403
    assert (await (await service.client.get("/v1/cases/vg-7/reminder-policy", headers=API)).json())[
        "case_override"
    ] == {"rsvp": {"repeat_every_days": 5}}


async def queue_letter(service: Service, letter_id: str, case_id: str, region: str) -> None:
    await service.runtime.pool.execute(
        "insert into letters (letter_id, case_id, region, organisations, meeting_id, participant_id, kind,"
        " pdf, created_at) values ($1, $2, $3, $4, 'm1', null, 'notice', $5, $6)",
        letter_id,
        case_id,
        region,
        ["Exempelkommun"],
        b"%PDF-1.4 " + letter_id.encode(),
        NOW,
    )


async def test_letters_are_listed_downloaded_and_marked_posted_in_scope(service: Service) -> None:
    await queue_letter(service, "let_a", "vg-1", "vastra_gotaland")
    await queue_letter(service, "let_b", "hal-1", "halland")
    cookie = await signed_in(service)
    html = await page(service, "/app/letters", cookie)
    assert "vg-1" in html and "hal-1" not in html
    pdf = await service.client.get("/app/letters/let_a.pdf", headers=cookie)
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="let_a.pdf"'
    assert await pdf.read() == b"%PDF-1.4 let_a"
    assert (await service.client.get("/app/letters/let_b.pdf", headers=cookie)).status == 404

    response = await service.client.post(
        "/app/letters/let_a/posted", data={"csrf_token": csrf(html)}, headers=cookie, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/app/letters?postat=1"
    assert (
        await service.runtime.pool.fetchval("select state from letters where letter_id = 'let_a'") == "sent"
    )
    assert "Inga brev väntar" in await page(service, "/app/letters?postat=1", cookie)
    assert "vg-1" in await page(service, "/app/letters?visa=postade", cookie)
    out_of_scope = await service.client.post(
        "/app/letters/let_b/posted", data={"csrf_token": csrf(html)}, headers=cookie
    )
    assert out_of_scope.status == 404
    assert (
        await service.runtime.pool.fetchval("select state from letters where letter_id = 'let_b'") == "queued"
    )
    # Without the token the button does nothing.
    forged = await service.client.post("/app/letters/let_b/posted", data={}, headers=cookie)
    assert forged.status == 403
    # An auditor has no print queue.
    await page(service, "/app/letters", await signed_in(service, "auditor"), 403)
