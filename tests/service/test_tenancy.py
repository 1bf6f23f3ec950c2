"""A case belongs to one integration, decided once, and no event of another is ever applied to it: not when
two integrations race for a new case id, not for an event that got into the store some other way."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from service import access
from tests import samples
from tests.service.harness import Service, service_settings, started

ROUNDS = 12


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def second_integration(service: Service) -> tuple[str, str, str]:
    """(integration id, webhook secret, read token) of an integration besides the default one."""
    issued, token = await service.other_integration()
    return issued.integration_id, issued.secret, token


async def events_of(service: Service, case_id: str) -> list[dict[str, Any]]:
    rows = await service.runtime.pool.fetch(
        "select integration_id, type, state, detail from events where case_id = $1 order by seq", case_id
    )
    return [dict(row) for row in rows]


async def assert_foreign(response: ClientResponse) -> None:
    assert response.status == 403
    problem = await response.json(content_type="application/problem+json")
    assert problem["type"].endswith("/case-of-another-integration")
    assert "event_id" not in problem


@pytest.mark.parametrize("other_opens", [False, True], ids=["default-opens", "other-opens"])
@pytest.mark.parametrize("consent_first", [False, True], ids=["opened-sent-first", "consent-sent-first"])
async def test_two_integrations_racing_for_a_new_case_never_share_it(
    service: Service, other_opens: bool, consent_first: bool
) -> None:
    other_id, other_secret, _ = await second_integration(service)
    opener_secret, intruder_secret = (
        (other_secret, service.secret) if other_opens else (service.secret, other_secret)
    )
    integration_of = {other_secret: other_id, service.secret: access.DEFAULT_INTEGRATION}
    for round_number in range(ROUNDS):
        case_id = f"race-{round_number}-{secrets.token_hex(3)}"
        opened = service.push(samples.case_opened(case_id), secret=opener_secret)
        consent = service.push(samples.consent_given(case_id), secret=intruder_secret)
        first, second = (consent, opened) if consent_first else (opened, consent)
        answers = await asyncio.gather(first, second)
        opened_answer, consent_answer = (answers[1], answers[0]) if consent_first else answers
        statuses = sorted([opened_answer.status, consent_answer.status])
        # Exactly one integration claims the new id; the other is told so and nothing of it is stored.
        assert statuses == [202, 403], statuses
        loser = consent_answer if opened_answer.status == 202 else opened_answer
        await assert_foreign(loser)
        await service.settle()
        owner = await service.runtime.pool.fetchval(
            "select integration_id from case_owners where case_id = $1", case_id
        )
        stored = await events_of(service, case_id)
        assert {event["integration_id"] for event in stored} == {owner}
        case = await service.runtime.pool.fetchrow(
            "select integration_id, state from cases where case_id = $1", case_id
        )
        if opened_answer.status == 202:
            assert owner == integration_of[opener_secret]
            assert case is not None and case["integration_id"] == owner
            assert case["state"]["consent"] is None
        else:
            # The intruder's consent came first and claimed the id: the opener's case.opened was refused,
            # and the consent waits for a case.opened of its own integration.
            assert owner == integration_of[intruder_secret]
            assert case is None
            assert [event["state"] for event in stored] == ["waiting"]


async def test_an_event_of_another_integration_already_stored_is_rejected_not_applied(
    service: Service,
) -> None:
    """An event that got into the store for another integration's case (stored before owners were kept)
    is marked rejected where events are applied, and its sender sees why."""
    other_id, _, other_token = await second_integration(service)
    assert (await service.push(samples.case_opened())).status == 202
    await service.settle()
    consent = samples.consent_given()
    event_id = "evt_" + secrets.token_hex(12)
    await service.runtime.pool.execute(
        "insert into events (event_id, integration_id, webhook_id, body_sha256, case_id, type, occurred_at,"
        " received_at, payload) values ($1, $2, 'msg_old', '\\x00', $3, $4, $5, now(), $6)",
        event_id,
        other_id,
        consent["case_id"],
        consent["type"],
        datetime.fromisoformat(consent["occurred_at"]),
        consent,
    )
    await service.runtime.pool.execute("select pg_notify('sipvakt_events', '')")
    await service.settle()
    state = await service.runtime.pool.fetchval(
        "select state from cases where case_id = $1", consent["case_id"]
    )
    assert state["consent"] is None
    answer = await service.client.get(
        f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {other_token}"}
    )
    assert answer.status == 200
    body = await answer.json()
    assert body["status"] == "rejected"
    assert body["detail"] == "the case belongs to another integration"
    assert body["applied_at"] is None


async def test_the_owner_keeps_its_case_after_the_other_is_refused(service: Service) -> None:
    _, other_secret, _ = await second_integration(service)
    assert (await service.push(samples.case_opened())).status == 202
    await assert_foreign(await service.push(samples.case_opened(), secret=other_secret))
    await assert_foreign(await service.push(samples.consent_given(), secret=other_secret))
    assert (await service.push(samples.consent_given())).status == 202
    await service.settle()
    states = [event["state"] for event in await events_of(service, "blek-2026-0042")]
    assert states == ["applied", "applied"]


async def test_two_replicas_taking_the_first_events_of_one_case_from_two_integrations_agree_on_its_owner(
    database_url: str, tmp_path: Path
) -> None:
    """Two service processes on one database, each with its own HTTP client and connection pool, get the
    first event of the same new case id from two integrations at the same moment, twenty times over: one
    owner each time, the other refused, and nothing of the other applied to the case."""
    settings = service_settings(database_url, tmp_path)
    async with started(settings) as first, started(settings) as second:
        other_id, other_secret, _ = await second_integration(first)
        for round_number in range(20):
            case_id = f"replicas-{round_number}-{secrets.token_hex(3)}"
            answers = await asyncio.gather(
                first.push(samples.case_opened(case_id)),
                second.push(samples.case_opened(case_id, region="halland"), secret=other_secret),
            )
            assert sorted(answer.status for answer in answers) == [202, 403]
            winner = access.DEFAULT_INTEGRATION if answers[0].status == 202 else other_id
            await assert_foreign(answers[1] if answers[0].status == 202 else answers[0])
            await first.settle()
            owner = await first.runtime.pool.fetchval(
                "select integration_id from case_owners where case_id = $1", case_id
            )
            assert owner == winner
            stored = await events_of(first, case_id)
            assert [(event["integration_id"], event["state"]) for event in stored] == [(winner, "applied")]
            case = await first.runtime.pool.fetchrow(
                "select integration_id, region from cases where case_id = $1", case_id
            )
            assert case is not None and case["integration_id"] == winner
            assert case["region"] == ("blekinge" if winner == access.DEFAULT_INTEGRATION else "halland")
