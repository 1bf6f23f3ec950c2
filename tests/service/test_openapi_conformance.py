"""The OpenAPI document is the service: schemathesis generates requests from `/v1/openapi.json`, valid and
invalid, sends them to a running service, and checks every answer against the document (status codes,
content types, headers, schemas, Allow on 405, no 500). Bounded: a fixed seed, a few examples per
operation and a time limit; with data it can reach (a case, a letter, a reply token, a subscription)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import samples
from tests.service.harness import ADMIN_TOKEN, Service, started
from tests.service.mail import MailSink, mailing_settings, reply_token

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
SEED = 20261123
MAX_EXAMPLES = 8
MAX_SECONDS = 100
CASE_ID = "blek-2026-0042"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path, sink: tuple[MailSink, int]) -> AsyncIterator[Service]:
    async with started(
        mailing_settings(database_url, tmp_path, sink[1], SIPVAKT_WEBHOOK_ALLOW_PRIVATE="true")
    ) as running_service:
        for event in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
            assert (await running_service.push(event)).status == 202
        await running_service.settle()
        yield running_service


async def subscribe(service: Service) -> str:
    answer = await service.client.post(
        "/v1/webhook-subscriptions",
        json={
            "url": "https://hooks.example.se/hook",
            "event_types": ["*"],
            "notify_email": "drift@example.se",
        },
        headers=ADMIN,
    )
    assert answer.status == 201
    subscription_id: str = (await answer.json())["subscription_id"]
    return subscription_id


async def reachable_data(service: Service, sink: MailSink) -> dict[str, str]:
    """Ids of things that exist, so that generated requests reach more than 404s."""
    [letter] = (await (await service.client.get("/v1/letters", headers=ADMIN)).json())["letters"]
    event_id = await service.runtime.pool.fetchval("select event_id from events order by seq limit 1")
    [invitation] = sink.to("asa.oberg@example.org")
    return {
        "case_id": CASE_ID,
        "region": "blekinge",
        "letter_id": letter["letter_id"],
        "subscription_id": await subscribe(service),
        "event_id": event_id,
        "token": reply_token(invitation),
    }


def configuration(parameters: dict[str, str], deleted_subscription: str) -> str:
    """schemathesis.toml: the ids above for every path parameter of that name; a subscription of its own
    for DELETE, so that the others still find theirs; no valid event at the intake, which is signed."""
    lines = ["[parameters]"]
    lines += [f"{json.dumps('path.' + name)} = {json.dumps(value)}" for name, value in parameters.items()]
    lines += [
        "",
        "[[operations]]",
        'include-method = "DELETE"',
        'include-path = "/v1/webhook-subscriptions/{subscription_id}"',
        f"parameters = {{ {json.dumps('path.subscription_id')} = {json.dumps(deleted_subscription)} }}",
        "",
        "[[operations]]",
        'include-path = "/v1/events"',
        'include-method = "POST"',
        "checks.positive_data_acceptance.enabled = false",
        "",
        # A policy's fields depend on each other and on the layers under it (a working day ends after it
        # starts): a schema-valid override can still be refused, as the document says, with 422.
        "[[operations]]",
        'include-path-regex = "reminder-policy$"',
        'include-method = "PUT"',
        "checks.positive_data_acceptance.expected-statuses = [200, 422]",
        "",
        # A reply link ends with its meeting, and the test clock moves: then the page is gone (410).
        "[[operations]]",
        'include-path = "/rsvp/{token}"',
        "checks.positive_data_acceptance.expected-statuses = [200, 410]",
        "",
        # `after` is opaque: only a `next` this endpoint gave is a cursor, which no schema can say.
        "[[operations]]",
        'include-path = "/v1/deviations"',
        "checks.positive_data_acceptance.expected-statuses = [200, 400]",
    ]
    return "\n".join(lines) + "\n"


async def test_every_answer_is_the_one_the_document_describes(
    service: Service, sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    reachable = await reachable_data(service, sink[0])
    config.write_text(configuration(reachable, await subscribe(service)), encoding="utf-8")
    server = service.client.server
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"http://{server.host}:{server.port}/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--request-timeout",
        "60",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.service.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")
