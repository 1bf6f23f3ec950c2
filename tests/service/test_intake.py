"""Every answer of POST /v1/events that CONTRACT.md names, against a real database over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.harness import Service, service_settings, started


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def stored_events(service: Service) -> int:
    count: int = await service.runtime.pool.fetchval("select count(*) from events")
    return count


async def test_accepts_a_signed_event_after_storing_it(service: Service) -> None:
    response = await service.push(samples.case_opened())
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "accepted"
    assert body["event_id"].startswith("evt_")
    row = await service.runtime.pool.fetchrow(
        "select state, type from events where event_id = $1", body["event_id"]
    )
    assert row is not None and row["type"] == "case.opened"


async def test_a_replay_is_a_duplicate_with_the_same_event_id(service: Service) -> None:
    first = await service.push(samples.case_opened(), webhook_id="msg_same")
    again = await service.push(samples.case_opened(), webhook_id="msg_same")
    assert again.status == 200
    assert (await again.json()) == {"status": "duplicate", "event_id": (await first.json())["event_id"]}
    assert await stored_events(service) == 1


async def test_the_same_webhook_id_with_another_body_conflicts(service: Service) -> None:
    await service.push(samples.case_opened(), webhook_id="msg_same")
    response = await service.push(samples.case_opened(urgent=True), webhook_id="msg_same")
    assert response.status == 409
    assert response.content_type == "application/problem+json"
    assert await stored_events(service) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-signature": ""},
        {"webhook-signature": "v1,not-base64!!"},
        {"webhook-signature": "v2,AAAA"},
        {"webhook-signature": "garbage"},
        {"webhook-signature": "v1," + "A" * 44},
        {"webhook-timestamp": "yesterday"},
        {"webhook-timestamp": "-1"},
        {"webhook-timestamp": "99999999999999999999999"},
        {"webhook-id": ""},
        {"webhook-id": "x" * 500},
        {"webhook-id": "idé-med-åäö"},
    ],
)
async def test_garbage_signature_headers_are_401_not_500(service: Service, headers: dict[str, str]) -> None:
    response = await service.push(samples.case_opened(), headers=headers)
    assert response.status == 401
    problem = await response.json(content_type="application/problem+json")
    assert problem["status"] == 401 and problem["detail"]
    assert await stored_events(service) == 0


async def test_a_wrong_secret_is_401(service: Service) -> None:
    response = await service.push(samples.case_opened(), secret=new_webhook_secret())
    assert response.status == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_a_stale_or_future_timestamp_is_401(service: Service, offset: timedelta) -> None:
    response = await service.push(samples.case_opened(), timestamp=datetime.now(UTC) + offset)
    assert response.status == 401


async def test_timestamps_are_checked_against_the_real_clock_not_the_test_clock(
    database_url: str, tmp_path: Path
) -> None:
    far_future = "2031-06-01T12:00:00+02:00"
    async with started(service_settings(database_url, tmp_path, SIPVAKT_TEST_CLOCK=far_future)) as service:
        assert (await service.push(samples.case_opened("t-1"))).status == 202
        at_test_time = datetime.fromisoformat(far_future)
        assert (await service.push(samples.case_opened("t-2"), timestamp=at_test_time)).status == 401


async def test_a_non_utf8_body_is_400(service: Service) -> None:
    response = await service.push(b'{"type": "case.opened", "case_id": "\xff\xfe"}')
    assert response.status == 400
    problem = await response.json(content_type="application/problem+json")
    assert "UTF-8" in problem["errors"][0]["msg"]


async def test_not_json_is_400(service: Service) -> None:
    response = await service.push(b"{not json")
    assert response.status == 400


async def test_every_validation_error_is_listed_with_its_location(service: Service) -> None:
    body = samples.case_opened()
    del body["data"]["detected_by"]
    body["data"]["urgent"] = "perhaps"
    body["data"]["coordinator"]["email"] = "not-an-address"
    body["data"]["person"]["favourite_colour"] = "blue"
    response = await service.push(body)
    assert response.status == 400
    problem = await response.json(content_type="application/problem+json")
    locations = {tuple(error["loc"]) for error in problem["errors"]}
    assert locations == {
        ("data", "detected_by"),
        ("data", "urgent"),
        ("data", "coordinator", "email"),
        # An unknown field is reported at the object that holds it: its name is never repeated.
        ("data", "person"),
    }
    assert "favourite_colour" not in await response.text()


async def test_an_unknown_type_is_400(service: Service) -> None:
    response = await service.push(samples.event("case.reopened"))
    problem = await response.json(content_type="application/problem+json")
    assert response.status == 400
    assert problem["errors"][0]["loc"] == ["type"]


async def test_an_unknown_region_is_400(service: Service) -> None:
    response = await service.push(samples.case_opened(region="atlantis"))
    problem = await response.json(content_type="application/problem+json")
    assert response.status == 400
    assert problem["errors"] == [{"loc": ["data", "region"], "msg": problem["errors"][0]["msg"]}]


async def test_a_bad_personnummer_is_refused_and_never_echoed(service: Service) -> None:
    body = samples.case_opened()
    body["data"]["person"]["personnummer"] = "20121212-1213"
    response = await service.push(body)
    text = await response.text()
    assert response.status == 400
    assert "1213" not in text and "20121212" not in text
    assert json.loads(text)["errors"][0]["loc"] == ["data", "person", "personnummer"]


async def test_a_local_time_that_does_not_exist_is_refused(service: Service) -> None:
    body = samples.meeting_scheduled(
        starts_at="2026-03-29T02:30:00+01:00", ends_at="2026-03-29T04:00:00+02:00"
    )
    response = await service.push(body)
    problem = await response.json(content_type="application/problem+json")
    assert response.status == 400
    assert ["data", "starts_at"] in [error["loc"] for error in problem["errors"]]


async def test_a_body_over_256_kib_is_413(service: Service) -> None:
    body = samples.case_opened()
    body["padding"] = "x" * (256 * 1024)
    response = await service.push(body)
    assert response.status == 413
    assert await stored_events(service) == 0


async def test_a_non_json_content_type_is_415(service: Service) -> None:
    response = await service.push(samples.case_opened(), headers={"Content-Type": "text/plain"})
    assert response.status == 415


async def test_the_personnummer_is_not_stored(service: Service) -> None:
    response = await service.push(samples.case_opened())
    event_id = (await response.json())["event_id"]
    payload = await service.runtime.pool.fetchval(
        "select payload::text from events where event_id = $1", event_id
    )
    assert "1212" not in payload and "Testa" not in payload
    assert '"birth_date": "2012-12-12"' in payload


async def test_a_rotated_secret_and_the_old_one_are_both_accepted(service: Service) -> None:
    from service import access

    pool = service.runtime.pool
    now = datetime.now(UTC)
    async with pool.acquire() as connection:
        first = await access.create_integration(connection, service.runtime.cipher, "skolsystemet", now)
        second = await access.add_secret(connection, service.runtime.cipher, first.integration_id, now)
    assert (await service.push(samples.case_opened("a-1"), secret=first.secret)).status == 202
    assert (await service.push(samples.case_opened("a-2"), secret=second.secret)).status == 202
    async with pool.acquire() as connection:
        await access.revoke_secret(connection, first.integration_id, first.secret_id, now)
    assert (await service.push(samples.case_opened("a-3"), secret=first.secret)).status == 401


async def test_a_case_belongs_to_the_integration_that_opened_it(service: Service) -> None:
    from service import access

    async with service.runtime.pool.acquire() as connection:
        other = await access.create_integration(
            connection, service.runtime.cipher, "annat-system", datetime.now(UTC)
        )
    assert (await service.push(samples.case_opened())).status == 202
    response = await service.push(samples.consent_given(), secret=other.secret)
    assert response.status == 403
