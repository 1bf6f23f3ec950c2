"""Acknowledging deviations over the API, and the web app's Att göra, Ärende and Avvikelser pages over real
HTTP and PostgreSQL: scope exactly as the API's, urgency order, filters, the CSV file, the acknowledge form.

Cases come in as events through the signed intake; a case opened long after its need was noticed has
missed its meeting deadline at once. Each case's deviation is then recorded as the processor records one
(in the case document and in the deviations table), so that every test starts from one of each."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from yarl import URL

from scheduler.case import Deviation
from scheduler.effects import RecordDeviation
from service import access
from service.auth import sessions
from service.auth.users import UserRequest, create_user
from service.storage import store
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

HALLAND_CASE = "hall-2026-0007"
BLEKINGE_CASE = "blek-2026-0042"
QUIET_CASE = "hall-2026-0008"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        for case_id, region in ((HALLAND_CASE, "halland"), (BLEKINGE_CASE, "blekinge")):
            # Noticed in August, opened in November: the meeting deadline has passed.
            opened = samples.case_opened(case_id, region, detected_at="2026-08-03")
            assert (await running_service.push(opened)).status == 202
        assert (await running_service.push(samples.case_opened(QUIET_CASE, "halland"))).status == 202
        await running_service.settle()
        for case_id in (HALLAND_CASE, BLEKINGE_CASE):
            await add_deviation(running_service, case_id, f"dev_{case_id.encode().hex()}")
        yield running_service


async def add_deviation(service: Service, case_id: str, deviation_id: str) -> None:
    now = await service.runtime.clock.now()
    deviation = Deviation(
        deviation_id=deviation_id, kind="late", detected_at=now, rule="default.escalation", reportable=False
    )
    async with service.runtime.pool.acquire() as connection, connection.transaction():
        case = await store.load_case(connection, case_id, for_update=True)
        assert case is not None
        case.deviations.append(deviation)
        await store.save_case(connection, case, now)
        await store.record_deviation(connection, case, RecordDeviation(deviation))


async def token(service: Service, role: access.Role, regions: list[str]) -> str:
    return (await issued_token(service, role, regions)).token


async def issued_token(service: Service, role: access.Role, regions: list[str]) -> access.IssuedToken:
    async with service.runtime.pool.acquire() as connection:
        issued = await access.create_token(
            connection,
            role=role,
            regions=regions,
            organisations=["*"],
            integration_id=None,
            label="",
            now=await service.runtime.clock.now(),
        )
    return issued


async def sign_in_as(service: Service, email: str, regions: list[str], role: str = "coordinator") -> str:
    """A session for a new user, its cookie in the client; the session's form token."""
    async with service.runtime.pool.acquire() as connection:
        user = await create_user(
            connection,
            UserRequest.model_validate(
                {"email": email, "role": role, "regions": regions, "organisations": ["*"]}
            ),
            await service.runtime.clock.now(),
        )
        started_session = await sessions.start_session(
            connection, user.user_id, await service.runtime.clock.now()
        )
    service.client.session.cookie_jar.clear()
    service.client.session.cookie_jar.update_cookies(
        {"sipvakt_session": started_session.cookie_value}, URL(str(service.client.make_url("/app/")))
    )
    return started_session.csrf_token


async def deviation_of(service: Service, case_id: str) -> dict[str, Any]:
    answer = await service.case(case_id)
    assert answer.status == 200
    deviations = (await answer.json())["deviations"]
    assert deviations
    first: dict[str, Any] = deviations[0]
    return first


async def acknowledge(
    service: Service, case_id: str, deviation_id: str, bearer: str, body: Any
) -> ClientResponse:
    return await service.client.post(
        f"/v1/cases/{case_id}/deviations/{deviation_id}/acknowledgement",
        json=body,
        headers={"Authorization": f"Bearer {bearer}"},
    )


async def test_a_coordinator_acknowledges_once_and_the_case_and_listing_show_who_and_when(
    service: Service,
) -> None:
    deviation = await deviation_of(service, HALLAND_CASE)
    assert deviation["acknowledged_at"] is None and deviation["acknowledged_by"] is None
    coordinator = await issued_token(service, "coordinator", ["halland"])
    answer = await acknowledge(
        service, HALLAND_CASE, deviation["deviation_id"], coordinator.token, {"note": "Ringt skolan."}
    )
    assert answer.status == 200, await answer.text()
    first = await answer.json()
    assert first["deviation_id"] == deviation["deviation_id"]
    assert first["acknowledged_by"] == coordinator.token_id
    assert "note" not in first

    shown = await deviation_of(service, HALLAND_CASE)
    assert shown["acknowledged_at"] == first["acknowledged_at"]
    assert shown["acknowledged_by"] == first["acknowledged_by"]
    listing = await service.client.get(
        "/v1/deviations?region=halland", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    [item] = [
        d for d in (await listing.json())["deviations"] if d["deviation_id"] == deviation["deviation_id"]
    ]
    assert item["acknowledged_by"] == first["acknowledged_by"]
    assert "Ringt skolan" not in await listing.text()
    assert "Ringt skolan" not in await (await service.case(HALLAND_CASE)).text()

    # Again, by someone else and with another note: the first acknowledgement stands.
    other = await token(service, "coordinator", ["*"])
    again = await acknowledge(service, HALLAND_CASE, deviation["deviation_id"], other, {"note": "Annat."})
    assert again.status == 200
    assert await again.json() == first
    note = await service.runtime.pool.fetchval(
        "select acknowledgement_note from deviations where deviation_id = $1", deviation["deviation_id"]
    )
    assert note == "Ringt skolan."


async def test_an_acknowledgement_is_refused_with_a_personnummer_outside_scope_or_for_a_reader(
    service: Service,
) -> None:
    deviation_id = (await deviation_of(service, HALLAND_CASE))["deviation_id"]
    coordinator = await token(service, "coordinator", ["halland"])
    refused = await acknowledge(
        service, HALLAND_CASE, deviation_id, coordinator, {"note": f"Gäller {samples.TEST_PERSONNUMMER}"}
    )
    assert refused.status == 400
    body = await refused.text()
    assert samples.TEST_PERSONNUMMER not in body and "121212" not in body
    assert (await refused.json(content_type="application/problem+json"))["errors"][0]["loc"] == ["note"]
    for wrong in ({}, {"note": 5}, {"note": "x", "extra": 1}, {"note": "x" * 2001}):
        assert (await acknowledge(service, HALLAND_CASE, deviation_id, coordinator, wrong)).status == 400
    assert (await deviation_of(service, HALLAND_CASE))["acknowledged_at"] is None

    blekinge = await token(service, "coordinator", ["blekinge"])
    outside = await acknowledge(service, HALLAND_CASE, deviation_id, blekinge, {"note": ""})
    unknown = await acknowledge(service, "hall-2026-9999", deviation_id, blekinge, {"note": ""})
    assert outside.status == unknown.status == 404
    other_case = await acknowledge(service, QUIET_CASE, deviation_id, coordinator, {"note": ""})
    assert other_case.status == 404
    auditor = await token(service, "auditor", ["halland"])
    assert (await acknowledge(service, HALLAND_CASE, deviation_id, auditor, {"note": ""})).status == 403
    assert (await deviation_of(service, HALLAND_CASE))["acknowledged_at"] is None


async def test_att_gora_lists_only_the_cases_in_scope_most_urgent_first(service: Service) -> None:
    meeting_case = "hall-2026-0009"
    for event in (
        samples.case_opened(meeting_case, "halland"),
        samples.consent_given(meeting_case),
        samples.meeting_scheduled(meeting_case),
    ):
        assert (await service.push(event)).status == 202
    await service.settle()
    await sign_in_as(service, "hanna.halland@kommun.example", ["halland"])
    page = await service.client.get("/app/")
    assert page.status == 200
    text = await page.text()
    assert HALLAND_CASE in text and meeting_case in text
    # Nothing to do in a case whose only deadline is years ahead; another region's case never shows.
    assert QUIET_CASE not in text and BLEKINGE_CASE not in text
    # The case past its deadline comes before the one whose invitations wait for answers.
    assert text.index(HALLAND_CASE) < text.index(meeting_case)
    overdue = await (await service.client.get("/app/?kind=forsenat")).text()
    assert HALLAND_CASE in overdue and meeting_case not in overdue
    assert re.search(r'<span class="siffra">1</span> försenat', overdue), overdue
    assert BLEKINGE_CASE not in await (await service.client.get("/app/?region=halland")).text()
    # A filter outside the choices is a 400 that does not repeat what was sent.
    refused = await service.client.get(f"/app/?region={samples.TEST_PERSONNUMMER}")
    assert refused.status == 400
    assert samples.TEST_PERSONNUMMER not in await refused.text()
    assert (await service.client.get("/app/?region=blekinge")).status == 400


async def test_another_regions_case_page_is_the_same_404_as_an_unknown_one(service: Service) -> None:
    token = await sign_in_as(service, "hanna.halland@kommun.example", ["halland"])
    mine = await service.client.get(f"/app/cases/{HALLAND_CASE}")
    assert mine.status == 200
    text = await mine.text()
    assert "Tidsfrister" in text and "Tidslinje" in text and "Ärendet öppnades" in text
    assert f'href="/app/cases/{HALLAND_CASE}/reminder-policy"' in text
    # The deadline names its source document and quotes its phrase.
    [rule] = [
        r
        for r in service.runtime.rulebook.region("halland").rules.values()
        if r.qualified_name == "halland.meeting_within_days"
    ]
    assert html.escape(f"”{rule.rule.phrase}”", quote=False) in text
    assert html.escape(rule.source.title, quote=False) in text
    theirs = await service.client.get(f"/app/cases/{BLEKINGE_CASE}")
    unknown = await service.client.get("/app/cases/blek-2026-9999")
    assert theirs.status == unknown.status == 404
    assert await theirs.text() == await unknown.text()
    deviation_id = (await deviation_of(service, BLEKINGE_CASE))["deviation_id"]
    forged = await service.client.post(
        f"/app/cases/{BLEKINGE_CASE}/deviations/{deviation_id}/acknowledgement",
        data={"csrf_token": token, "note": ""},
        allow_redirects=False,
    )
    assert forged.status == 404
    assert (await deviation_of(service, BLEKINGE_CASE))["acknowledged_at"] is None


async def test_the_acknowledge_form_checks_the_token_refuses_a_personnummer_and_acknowledges(
    service: Service,
) -> None:
    token = await sign_in_as(service, "hanna.halland@kommun.example", ["halland"])
    deviation_id = (await deviation_of(service, HALLAND_CASE))["deviation_id"]
    path = f"/app/cases/{HALLAND_CASE}/deviations/{deviation_id}/acknowledgement"
    assert (await service.client.post(path, data={"note": "x"})).status == 403
    refused = await service.client.post(path, data={"csrf_token": token, "note": samples.TEST_PERSONNUMMER})
    assert refused.status == 400
    text = await refused.text()
    assert "personnummer" in text and samples.TEST_PERSONNUMMER not in text
    assert 'aria-invalid="true"' in text
    assert (await deviation_of(service, HALLAND_CASE))["acknowledged_at"] is None

    done = await service.client.post(
        path, data={"csrf_token": token, "note": "Pratat med rektor."}, allow_redirects=False
    )
    assert done.status == 303
    assert done.headers["Location"] == f"/app/cases/{HALLAND_CASE}?kvitterad={deviation_id}#avvikelser"
    page = await (await service.client.get(done.headers["Location"])).text()
    assert "Avvikelsen är kvitterad." in page and "Pratat med rektor." in page
    shown = await deviation_of(service, HALLAND_CASE)
    assert shown["acknowledged_by"].startswith("usr_")


async def test_avvikelser_in_scope_filtered_and_as_a_swedish_excel_file(service: Service) -> None:
    await sign_in_as(service, "hanna.halland@kommun.example", ["halland"])
    mine = (await deviation_of(service, HALLAND_CASE))["deviation_id"]
    theirs = (await deviation_of(service, BLEKINGE_CASE))["deviation_id"]
    page = await (await service.client.get("/app/deviations")).text()
    assert HALLAND_CASE in page and BLEKINGE_CASE not in page and theirs not in page
    assert HALLAND_CASE not in await (await service.client.get("/app/deviations?kvitterad=ja")).text()
    assert HALLAND_CASE in await (await service.client.get("/app/deviations?kvitterad=nej&kind=late")).text()
    assert HALLAND_CASE not in await (await service.client.get("/app/deviations?sedan=2030-01-01")).text()
    assert (await service.client.get("/app/deviations?sedan=igår")).status == 400
    assert (await service.client.get("/app/deviations?efter=bm90LWEtY3Vyc29y")).status == 400

    answer = await service.client.get("/app/deviations.csv?kvitterad=nej")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="avvikelser-')
    raw = await answer.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8")), delimiter=";"))
    assert rows[0][:4] == ["Avvikelse", "Ärende", "Region", "Typ"]
    assert [row[0] for row in rows[1:]] == [mine]
    assert rows[1][1:4] == [HALLAND_CASE, "halland", "Tidsfrist missad"]
    assert theirs.encode() not in raw


async def test_every_page_needs_a_session(service: Service) -> None:
    service.client.session.cookie_jar.clear()
    for path in (
        "/app/",
        f"/app/cases/{HALLAND_CASE}",
        "/app/deviations",
        "/app/deviations.csv",
        "/app/cases",
    ):
        answer = await service.client.get(path, allow_redirects=False)
        assert answer.status == 303, path
        assert answer.headers["Location"] == "/app/login"
