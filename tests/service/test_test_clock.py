"""The test clock: shared in the database, forward only, and a POST returns when the work is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.http import api
from tests import samples
from tests.service.harness import Service, service_settings, started


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def test_reads_the_start_time(service: Service) -> None:
    response = await service.client.get("/v1/test-clock")
    assert await response.json() == {"now": "2026-11-23T08:00:00+00:00"}


async def test_moves_forward_and_never_back(service: Service) -> None:
    forward = await service.client.post("/v1/test-clock", json={"now": "2026-12-01T10:00:00+01:00"})
    assert forward.status == 200
    assert (await forward.json())["now"] == "2026-12-01T09:00:00+00:00"
    same = await service.client.post("/v1/test-clock", json={"now": "2026-12-01T10:00:00+01:00"})
    assert same.status == 200
    back = await service.client.post("/v1/test-clock", json={"now": "2026-11-30T10:00:00+01:00"})
    assert back.status == 409
    assert (await service.client.get("/v1/test-clock")).status == 200


async def test_a_bad_time_is_400(service: Service) -> None:
    response = await service.client.post("/v1/test-clock", json={"now": "tomorrow"})
    assert response.status == 400
    naive = await service.client.post("/v1/test-clock", json={"now": "2026-12-01T10:00:00"})
    assert naive.status == 400


async def test_returns_only_when_every_accepted_event_is_applied(service: Service) -> None:
    for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
        assert (await service.push(body)).status == 202
    response = await service.client.post("/v1/test-clock", json={"now": "2026-11-23T12:00:00+01:00"})
    assert response.status == 200
    pending = await service.runtime.pool.fetchval("select count(*) from events where state <> 'applied'")
    assert pending == 0
    case = await (await service.case("blek-2026-0042")).json()
    assert case["meetings"][0]["status"] == "scheduled"


async def test_every_process_on_one_database_shares_the_clock(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path)
    async with started(settings) as first, started(settings) as second:
        await first.client.post("/v1/test-clock", json={"now": "2027-01-02T10:00:00+01:00"})
        assert await (await second.client.get("/v1/test-clock")).json() == {
            "now": "2027-01-02T09:00:00+00:00"
        }


async def test_is_absent_without_the_setting(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path)
    production = settings.model_copy(update={"test_clock": None})
    async with started(production) as service:
        assert (await service.client.get("/v1/test-clock")).status == 404


async def test_a_move_stops_at_the_moment_whose_work_is_unfinished(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    for body in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
        assert (await service.push(body)).status == 202
    await service.settle()
    pool = service.runtime.pool
    first_due = await pool.fetchval(
        "select min(due_at) from timers where state = 'scheduled' and case_id = 'blek-2026-0042'"
    )
    monkeypatch.setattr(api, "SETTLE_TIMEOUT_SECONDS", 1.0)
    # Holding the case's lock, as a slow transaction would: its first timer is claimed but cannot fire.
    async with pool.acquire() as blocker:
        await blocker.execute("select pg_advisory_lock(hashtextextended('case:' || $1, 0))", "blek-2026-0042")
        try:
            stuck = await service.client.post("/v1/test-clock", json={"now": "2027-01-01T09:00:00+01:00"})
            assert stuck.status == 504
            problem = await stuck.json()
            assert problem["now"] == first_due.astimezone(UTC).isoformat() and problem["timers"] >= 1
            assert (await (await service.client.get("/v1/test-clock")).json())["now"] == problem["now"]
        finally:
            await blocker.execute(
                "select pg_advisory_unlock(hashtextextended('case:' || $1, 0))", "blek-2026-0042"
            )
    moved = await service.client.post("/v1/test-clock", json={"now": "2027-01-01T09:00:00+01:00"})
    assert moved.status == 200
    left = await pool.fetchval(
        "select count(*) from timers where state in ('scheduled', 'running') and due_at <= $1",
        datetime.fromisoformat("2027-01-01T09:00:00+01:00"),
    )
    assert left == 0
