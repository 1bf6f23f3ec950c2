"""The webhook subscription API: validation, roles, who sees which subscription, the secret shown once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.storage.secrets import decrypt
from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started
from tests.service.webhook_receiver import ALLOW_PRIVATE, bearer, deliveries, receiving, subscribe

BASE = "/v1/webhook-subscriptions"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as running_service:
        yield running_service


async def problem(response: Any) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    found: dict[str, Any] = await response.json(content_type="application/problem+json")
    return found


async def test_every_error_is_listed_at_once_without_echoing_values(service: Service) -> None:
    response = await service.client.post(
        BASE,
        json={
            "url": "ftp://files.example.se/secret-path",
            "event_types": ["case.updated", "case.deleted"],
            "notify_email": "not an address",
            "description": "ok",
            "colour": "blue",
        },
        headers=bearer(ADMIN_TOKEN),
    )
    assert response.status == 400
    body = await problem(response)
    assert body["type"].endswith("/invalid-subscription")
    # An unknown field is reported at the object that holds it, here the body: its name is not repeated.
    assert sorted(error["loc"] for error in body["errors"]) == [
        [],
        ["event_types", 1],
        ["notify_email"],
        ["url"],
    ]
    text = str(body)
    assert "secret-path" not in text and "not an address" not in text and "blue" not in text
    assert "colour" not in text


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.se/sipvakt", "https"),
        ("https://user:password@hooks.example.se/sipvakt", "user name or password"),
        ("https:///no-host", "host"),
        ("https://hooks.example.se:99999/", "port"),
        ("https://hooks.example.se/a b", "spaces"),
        ("mailto:someone@example.se", "https"),
    ],
)
async def test_a_bad_url_is_refused_with_a_reason(service: Service, url: str, words: str) -> None:
    response = await service.client.post(
        BASE,
        json={"url": url, "event_types": ["*"], "notify_email": "drift@example.se"},
        headers=bearer(ADMIN_TOKEN),
    )
    assert response.status == 400
    [error] = (await problem(response))["errors"]
    assert error["loc"] == ["url"] and words in error["msg"]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.se/sipvakt?source=sipvakt",
        "http://127.0.0.1:8099/hook",
        "http://localhost/hook",
        "http://[::1]:8099/hook",
    ],
)
async def test_https_anywhere_and_plain_http_to_loopback_are_accepted(service: Service, url: str) -> None:
    created = await subscribe(service, url)
    assert created["url"] == url


@pytest.mark.parametrize(
    ("event_types", "count"),
    [([], 1), (["*", "case.updated"], 1), (["nope", "also-nope"], 2), ("case.updated", 1)],
)
async def test_event_types_are_a_non_empty_subset_or_everything(
    service: Service, event_types: Any, count: int
) -> None:
    response = await service.client.post(
        BASE,
        json={"url": "https://hooks.example.se/", "event_types": event_types, "notify_email": "a@example.se"},
        headers=bearer(ADMIN_TOKEN),
    )
    assert response.status == 400
    errors = (await problem(response))["errors"]
    assert len(errors) == count and all(error["loc"][0] == "event_types" for error in errors)


async def test_an_empty_or_foreign_body_is_refused(service: Service) -> None:
    empty = await service.client.post(BASE, json={}, headers=bearer(ADMIN_TOKEN))
    assert empty.status == 400
    missing = sorted(error["loc"][0] for error in (await problem(empty))["errors"])
    assert missing == ["event_types", "notify_email", "url"]
    not_json = await service.client.post(
        BASE, data=b"{", headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"}
    )
    assert not_json.status == 400
    form = await service.client.post(BASE, data={"url": "x"}, headers=bearer(ADMIN_TOKEN))
    assert form.status == 415


async def test_only_coordinators_integrations_and_admins_manage_subscriptions(service: Service) -> None:
    assert (await service.client.get(BASE)).status == 401
    auditor = await service.token("auditor", ["*"], ["*"])
    assert (await service.client.get(BASE, headers=bearer(auditor))).status == 403
    refused = await service.client.post(
        BASE,
        json={"url": "https://hooks.example.se/", "event_types": ["*"], "notify_email": "a@example.se"},
        headers=bearer(auditor),
    )
    assert refused.status == 403
    coordinator = await service.token("coordinator", ["blekinge"], ["*"])
    created = await subscribe(service, "https://hooks.example.se/", token=coordinator)
    assert created["scope"] == {"regions": ["blekinge"], "organisations": ["*"], "integration_id": None}


async def test_the_secret_is_shown_once_and_stored_encrypted(service: Service) -> None:
    created = await subscribe(service, "https://hooks.example.se/", event_types=["deviation.recorded"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["status"] == "enabled"
    shown = await service.client.get(f"{BASE}/{created['subscription_id']}", headers=bearer(ADMIN_TOKEN))
    view = await shown.json()
    assert "secret" not in view and secret not in await shown.text()
    assert view == {key: value for key, value in created.items() if key != "secret"}
    listed = await (await service.client.get(BASE, headers=bearer(ADMIN_TOKEN))).json()
    assert secret not in str(listed)
    stored = await service.runtime.pool.fetchval("select secret_encrypted from webhook_subscriptions")
    assert secret.encode() not in stored and secret.removeprefix("whsec_").encode() not in stored
    assert decrypt(service.runtime.cipher, stored) == secret


async def test_a_caller_sees_only_subscriptions_inside_its_scope(service: Service) -> None:
    blekinge = await service.token("coordinator", ["blekinge"], ["*"])
    blekinge_school = await service.token("coordinator", ["blekinge"], ["Testskolan"])
    halland = await service.token("coordinator", ["halland"], ["*"])
    everywhere = await service.token("coordinator", ["*"], ["*"])
    created = await subscribe(service, "https://hooks.example.se/", token=blekinge)
    path = f"{BASE}/{created['subscription_id']}"

    async def listed(token: str) -> list[str]:
        answer = await (await service.client.get(BASE, headers=bearer(token))).json()
        return [subscription["subscription_id"] for subscription in answer["subscriptions"]]

    for token in (blekinge, everywhere, ADMIN_TOKEN):
        assert (await service.client.get(path, headers=bearer(token))).status == 200
        assert await listed(token) == [created["subscription_id"]]
    # A token that would not see every case the subscription hears of does not see the subscription.
    for token in (halland, blekinge_school):
        assert (await service.client.get(path, headers=bearer(token))).status == 404
        assert (await service.client.delete(path, headers=bearer(token))).status == 404
        assert (await service.client.post(path + "/enable", headers=bearer(token))).status == 404
        assert (await service.client.get(path + "/deliveries", headers=bearer(token))).status == 404
        assert await listed(token) == []
    assert (await service.client.delete(path, headers=bearer(blekinge))).status == 204
    assert (await service.client.get(path, headers=bearer(blekinge))).status == 404


async def test_enabling_an_enabled_subscription_changes_nothing(service: Service) -> None:
    created = await subscribe(service, "https://hooks.example.se/")
    response = await service.client.post(
        f"{BASE}/{created['subscription_id']}/enable", headers=bearer(ADMIN_TOKEN)
    )
    assert response.status == 200
    assert await response.json() == {key: value for key, value in created.items() if key != "secret"}


async def test_the_deliveries_view_filters_and_checks_its_query(service: Service) -> None:
    async with receiving() as receiver:
        created = await subscribe(service, receiver.url)
        await service.push(samples.case_opened())
        await service.settle()
    [delivery] = await deliveries(service, created["subscription_id"])
    assert delivery["state"] == "delivered" and delivery["case_id"] == "blek-2026-0042"
    assert delivery["event_type"] == "case.updated" and delivery["next_attempt_at"] is None
    path = f"{BASE}/{created['subscription_id']}/deliveries"
    failed = await service.client.get(path + "?state=failed", headers=bearer(ADMIN_TOKEN))
    assert (await failed.json())["deliveries"] == []
    for query in ("?state=lost", "?limit=0", "?limit=ten"):
        assert (await service.client.get(path + query, headers=bearer(ADMIN_TOKEN))).status == 400


async def test_no_secret_or_endpoint_url_reaches_the_log(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with receiving(failures=1) as receiver:
        created = await subscribe(service, receiver.url + "?token=receivers-own-token")
        await service.push(samples.case_opened())
        await service.settle()
        assert receiver.receipts
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert created["subscription_id"] in logged
    assert created["secret"] not in logged and created["secret"].removeprefix("whsec_") not in logged
    assert "receivers-own-token" not in logged and "/hook" not in logged


async def test_the_openapi_document_describes_the_events_sent(service: Service) -> None:
    document = await (await service.client.get("/v1/openapi.json")).json()
    assert set(document["webhooks"]) == {"deviation.recorded", "case.updated"}
    created = document["paths"][BASE]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][created["$ref"].rsplit("/", 1)[1]]
    assert "secret" in schema["properties"]
