"""Every GET operation of the OpenAPI document writes an access-log entry for each case it shows, unless
it is listed below as showing no case, with the reason. A new operation is held to the rule by default:
it fails here until it logs its reads or is listed with a reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.scenario import move_clock

CASE_ID = "blek-2026-0042"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NO_CASE_SHOWN = {
    "/v1/events/{event_id}": "the intake's receipt for an event: its status and type, nothing of the case",
    "/v1/health": "the service's health",
    "/metrics": "counters over all cases",
    "/v1/openapi.json": "this document",
    "/v1/test-clock": "the clock",
    "/v1/reports/summary": "counts over a region's cases, no single case",
    "/v1/regions/{region}/reminder-policy": "a region's settings",
    "/v1/webhook-subscriptions": "subscriptions: addresses of systems, no case",
    "/v1/webhook-subscriptions/{subscription_id}": "one subscription",
    "/v1/webhook-subscriptions/{subscription_id}/deliveries": (
        "delivery attempts: a case id, an event type and an HTTP status, nothing the case holds"
    ),
    "/v1/users": "the users",
    "/v1/audit-log": "the access log itself",
    "/rsvp/{token}": "a participant's own invitation, disclosed to them (and logged) by the message",
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


async def admin_reads(service: Service) -> list[tuple[str, str | None]]:
    rows = await service.runtime.pool.fetch(
        "select action, case_id from audit_log where actor_id = 'admin-token' order by seq"
    )
    return [(row["action"], row["case_id"]) for row in rows]


def get_operations(document: dict[str, Any]) -> list[str]:
    return [path for path, item in document["paths"].items() if "get" in item]


async def test_every_get_that_shows_a_case_writes_an_entry(service: Service) -> None:
    document = await (await service.client.get("/v1/openapi.json")).json()
    paths = get_operations(document)
    assert set(NO_CASE_SHOWN) <= set(paths), "an exemption names an operation the document lacks"
    letter_id = await service.runtime.pool.fetchval("select letter_id from letters limit 1")
    values = {"case_id": CASE_ID, "letter_id": letter_id}
    checked = []
    for path in paths:
        if path in NO_CASE_SHOWN:
            assert "{case_id}" not in path, f"{path} names a case: it reads one"
            continue
        url = path.format(**values)
        before = await admin_reads(service)
        response = await service.client.get(url, headers=ADMIN)
        assert response.status == 200, f"{path}: {response.status} {await response.text()}"
        written = (await admin_reads(service))[len(before) :]
        assert written, f"GET {path} showed case data and wrote no access-log entry"
        assert all(action in ("read", "print", "export") for action, _ in written), (path, written)
        assert {case for _, case in written} == {CASE_ID}, (path, written)
        checked.append(path)
    # The operations known today to show a case are all among those checked.
    assert {
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/reminder-policy",
        "/v1/letters",
        "/v1/letters/{letter_id}.pdf",
        "/v1/deviations",
    } <= set(checked)
