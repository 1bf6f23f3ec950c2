"""Every page of the web app that shows a case writes its access-log entry, as every API read does; the
CSV export writes `export` entries, and an acknowledgement (page or API) a `change`, each in the
transaction that does it. A new page is held to the rule by default: it fails here until it logs its
reads or is listed below with the reason it shows no case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from service.web.app import build_web_app
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.scenario import move_clock
from tests.service.test_web_cases import sign_in_as

CASE_ID = "blek-2026-0042"
NO_CASE_SHOWN = {
    "/login": "the sign-in form",
    "/login/link": "the sign-in link's landing page",
    "/auth/start": "the start of an OpenID sign-in",
    "/auth/callback": "the end of an OpenID sign-in",
    "/cases": "a form to type a case id in",
    "/report": "counts over a region's cases, no single case",
    "/reminder-policy": "the list of regions whose policy can be set",
    "/reminder-policy/case": "a form to type a case id in",
    "/regions/{region}/reminder-policy": "a region's settings",
    "/static": "the stylesheet",
    "/audit": "the access log itself",
}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running:
        for event in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
            assert (await running.push(event)).status == 202
        await running.settle()
        # Past the day answers were due: the unanswered invitations are deviations, so listings list.
        await move_clock(running, datetime.fromisoformat("2026-12-16T12:00:00+01:00"))
        yield running


async def user_entries(service: Service) -> list[tuple[str, str, str | None]]:
    rows = await service.runtime.pool.fetch(
        "select action, channel, case_id from audit_log where actor_kind = 'user' order by seq"
    )
    return [(row["action"], row["channel"], row["case_id"]) for row in rows]


def page_paths(service: Service) -> list[str]:
    app = build_web_app(service.runtime)
    return sorted(
        {
            resource.canonical
            for resource in app.router.resources()
            if any(route.method == "GET" for route in resource)
        }
    )


async def test_every_page_that_shows_a_case_writes_an_entry(service: Service) -> None:
    await sign_in_as(service, "granskare@example.se", ["*"], role="admin")
    letter_id = await service.runtime.pool.fetchval("select letter_id from letters limit 1")
    values = {"case_id": CASE_ID, "letter_id": letter_id, "region": "blekinge"}
    paths = page_paths(service)
    assert set(NO_CASE_SHOWN) <= set(paths), "an exemption names a page the app lacks"
    checked = []
    for path in paths:
        if path in NO_CASE_SHOWN:
            assert "{case_id}" not in path, f"{path} names a case: it reads one"
            continue
        before = await user_entries(service)
        response = await service.client.get("/app" + path.format(**values), allow_redirects=False)
        assert response.status == 200, f"{path}: {response.status}"
        written = (await user_entries(service))[len(before) :]
        assert written, f"GET /app{path} showed case data and wrote no access-log entry"
        assert all(channel == "web" for _, channel, _ in written), (path, written)
        assert all(action in ("read", "print", "export") for action, _, _ in written), (path, written)
        assert {case for _, _, case in written} == {CASE_ID}, (path, written)
        checked.append(path)
    assert {
        "/",
        "/cases/{case_id}",
        "/cases/{case_id}/reminder-policy",
        "/deviations",
        "/deviations.csv",
        "/letters",
        "/letters/{letter_id}.pdf",
    } <= set(checked)


async def test_the_csv_export_and_the_letter_are_an_export_and_a_print(service: Service) -> None:
    await sign_in_as(service, "granskare@example.se", ["*"], role="admin")
    letter_id = await service.runtime.pool.fetchval("select letter_id from letters limit 1")
    before = len(await user_entries(service))
    assert (await service.client.get("/app/deviations.csv")).status == 200
    assert (await service.client.get(f"/app/letters/{letter_id}.pdf")).status == 200
    assert (await user_entries(service))[before:] == [("export", "web", CASE_ID), ("print", "web", CASE_ID)]


async def test_an_acknowledgement_is_a_change_by_the_person_who_made_it(service: Service) -> None:
    deviation_id = await service.runtime.pool.fetchval(
        "select deviation_id from deviations where case_id = $1 order by deviation_id limit 1", CASE_ID
    )
    csrf = await sign_in_as(service, "kim@example.se", ["blekinge"])
    before = len(await user_entries(service))
    answer = await service.client.post(
        f"/app/cases/{CASE_ID}/deviations/{deviation_id}/acknowledgement",
        data={"csrf_token": csrf, "note": "Ringt vårdnadshavaren"},
        allow_redirects=False,
    )
    assert answer.status == 303
    assert ("change", "web", CASE_ID) in (await user_entries(service))[before:]

    other = await service.runtime.pool.fetchval(
        "select deviation_id from deviations where case_id = $1 and acknowledged_at is null limit 1", CASE_ID
    )
    api = await service.client.post(
        f"/v1/cases/{CASE_ID}/deviations/{other}/acknowledgement",
        json={"note": "Skickat ny kallelse"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert api.status == 200
    changes = await service.runtime.pool.fetch(
        "select channel, actor_kind from audit_log where action = 'change' and case_id = $1 order by seq",
        CASE_ID,
    )
    assert [(row["channel"], row["actor_kind"]) for row in changes][-1] == ("api", "token")
