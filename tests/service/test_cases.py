"""Applying events and reading cases back, with tenancy and out-of-order arrival."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import Service, service_settings, started


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def test_a_case_reads_back_in_the_contract_shape(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(samples.consent_given())
    await service.push(samples.meeting_scheduled())
    await service.settle()
    response = await service.case("blek-2026-0042")
    assert response.status == 200
    case = await response.json()
    assert set(case) == samples.CASE_FIELDS
    assert (case["case_id"], case["region"], case["status"], case["urgent"]) == (
        "blek-2026-0042",
        "blekinge",
        "open",
        False,
    )
    [meeting] = case["meetings"]
    assert meeting["meeting_id"] == "m1" and meeting["status"] == "scheduled"
    statuses = [(invitation["participant_id"], invitation["status"]) for invitation in meeting["invitations"]]
    # The e-mails are written to the outbox folder (sent); the letter waits in the print queue until it is
    # marked posted, so the notice, which it must give too, is still open.
    assert statuses == [("p-guardian", "sent"), ("p-school", "sent"), ("p-bup", "queued")]
    assert meeting["notice_days"] == 22 and meeting["notice_ok"] is True
    notice = [d for d in case["deadlines"] if d["kind"] == "notice"]
    assert notice == [
        {
            "kind": "notice",
            "due": "2026-11-24",
            "status": "pending",
            "rule": "blekinge.minimum_notice_days",
            "meeting_id": "m1",
            "action_id": None,
        }
    ]
    assert "Testa" not in str(case) and "1212" not in str(case)


async def test_invitations_wait_for_consent(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(samples.meeting_scheduled())
    await service.settle()
    case = await (await service.case("blek-2026-0042")).json()
    assert {i["status"] for i in case["meetings"][0]["invitations"]} == {"pending"}
    queued = await service.runtime.pool.fetchval("select count(*) from outbox")
    assert queued == 0
    await service.push(samples.consent_given())
    await service.settle()
    case = await (await service.case("blek-2026-0042")).json()
    statuses = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
    assert statuses == {"p-guardian": "sent", "p-school": "sent", "p-bup": "queued"}
    assert await service.runtime.pool.fetchval("select count(*) from outbox where kind = 'request'") == 3


async def test_events_out_of_order_wait_for_their_predecessor(service: Service) -> None:
    reply = await service.push(samples.responded("p-guardian", "accepted"))
    await service.push(samples.consent_given())
    await service.settle()
    state = await service.runtime.pool.fetchval(
        "select state from events where event_id = $1", (await reply.json())["event_id"]
    )
    assert state == "waiting"
    assert (await service.case("blek-2026-0042")).status == 404
    await service.push(samples.meeting_scheduled())
    await service.push(samples.case_opened())
    await service.settle()
    case = await (await service.case("blek-2026-0042")).json()
    statuses = {i["participant_id"]: i["status"] for i in case["meetings"][0]["invitations"]}
    assert statuses["p-guardian"] == "accepted"
    states = await service.runtime.pool.fetch("select state from events")
    assert {row["state"] for row in states} == {"applied"}


async def test_a_token_never_sees_a_case_outside_its_scope(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(samples.case_opened("hall-1", region="halland"))
    await service.settle()
    blekinge = await service.token("coordinator", ["blekinge"], ["*"])
    halland = await service.token("coordinator", ["halland"], ["*"])
    other_organisation = await service.token("auditor", ["blekinge"], ["Annan kommun"])
    assert (await service.case("blek-2026-0042", blekinge)).status == 200
    assert (await service.case("blek-2026-0042", other_organisation)).status == 404
    outside = await service.case("blek-2026-0042", halland)
    missing = await service.case("does-not-exist", halland)
    assert outside.status == missing.status == 404
    assert (await outside.json(content_type="application/problem+json"))["detail"] == (
        await missing.json(content_type="application/problem+json")
    )["detail"]


async def test_an_integration_token_sees_only_its_own_cases(service: Service) -> None:
    other, mine_token = await service.other_integration("annat")
    await service.push(samples.case_opened("theirs-1"))
    await service.push(samples.case_opened("mine-1"), secret=other.secret)
    await service.settle()
    assert (await service.case("mine-1", mine_token)).status == 200
    assert (await service.case("theirs-1", mine_token)).status == 404


async def test_reading_needs_a_valid_token(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.settle()
    no_token = await service.client.get("/v1/cases/blek-2026-0042")
    assert no_token.status == 401
    assert (await service.case("blek-2026-0042", "svk_unknown")).status == 401


async def test_a_second_case_opened_is_rejected_and_kept(service: Service) -> None:
    await service.push(samples.case_opened())
    second = await service.push(samples.case_opened(urgent=True))
    await service.settle()
    event_id = (await second.json())["event_id"]
    response = await service.client.get(
        f"/v1/events/{event_id}", headers={"Authorization": "Bearer " + service_admin(service)}
    )
    status = await response.json()
    assert status["status"] == "rejected" and "already open" in status["detail"]
    case = await (await service.case("blek-2026-0042")).json()
    assert case["urgent"] is False


def service_admin(service: Service) -> str:
    token = service.runtime.settings.admin_token
    assert token is not None
    return token


async def test_health_and_metrics(service: Service) -> None:
    await service.push(samples.case_opened())
    await service.push(b"{broken")
    assert (await service.client.get("/v1/health")).status == 200
    text = await (await service.client.get("/metrics")).text()
    assert "sipvakt_events_accepted_total 1.0" in text
    assert 'sipvakt_events_rejected_total{reason="invalid-event"} 1.0' in text
    assert 'sipvakt_events_waiting{state="pending"} 1.0' in text
