"""A real `sipvakt serve` whose database goes away (refusing, then hanging) and comes back: every route
answers 503 problem+json with Retry-After within the timeouts, the outage is logged once, and the
process recovers by itself, wake-ups included."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from service.storage.secrets import new_webhook_secret
from tests import samples
from tests.service.mail import MailSink, smtp_server
from tests.service.processes import ServiceProcess
from tests.service.tcp_proxy import DatabaseProxy
from tests.service.test_processes import ADMIN, environment, push

pytestmark = pytest.mark.slow

# Short timeouts so the test is quick; the bound below is what they promise.
TIMEOUTS = {
    "SIPVAKT_DATABASE_CONNECT_TIMEOUT_SECONDS": "1",
    "SIPVAKT_DATABASE_COMMAND_TIMEOUT_SECONDS": "2",
    "SIPVAKT_DATABASE_ACQUIRE_TIMEOUT_SECONDS": "1",
}
# A statement that hangs times out (2 s), and the pool then waits up to the acquire timeout (1 s) for the
# cancelled connection before dropping it; the rest is slack for a busy machine.
ANSWER_WITHIN_SECONDS = 5.0
# Woken by LISTEN, the invitation leaves as soon as the two events are applied and it is built (tenths of
# a second on a busy machine); waiting for the fallback polls of processor and delivery adds up to 2 s.
PROMPT_SECONDS = 1.5
GUARDIAN = "asa.oberg@example.org"


@dataclass
class TimedSink(MailSink):
    """Remembers when each message arrived (the event loop's clock)."""

    arrivals: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrivals.append((asyncio.get_running_loop().time(), tuple(envelope.rcpt_tos)))
        return await super().handle_DATA(server, session, envelope)

    async def first_to(self, address: str, after: float, within: float = 10.0) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            for moment, recipients in self.arrivals:
                if moment >= after and address in recipients:
                    return moment
            await asyncio.sleep(0.005)
        raise AssertionError(f"no message to {address}")


@dataclass
class Running:
    service: ServiceProcess
    proxy: DatabaseProxy
    sink: TimedSink
    secret: str


@asynccontextmanager
async def service_behind_proxy(database_url: str, data_dir: Path) -> AsyncIterator[Running]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    sink = TimedSink()
    secret = new_webhook_secret()
    async with smtp_server(sink) as smtp_port:
        env = {
            **environment(proxy.url, data_dir, secret),
            **TIMEOUTS,
            "SIPVAKT_SMTP_HOST": "127.0.0.1",
            "SIPVAKT_SMTP_PORT": str(smtp_port),
            "SIPVAKT_MAIL_FROM": "sipvakt@sipvakt.example.se",
        }
        service = ServiceProcess(env)
        await service.start()
        try:
            yield Running(service, proxy, sink, secret)
        finally:
            await proxy.close()
            service.stop()


async def timed_get(url: str, path: str) -> tuple[float, int, dict[str, str], str]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with session.get(url + path, headers=headers) as response:
            body = await response.text()
            return time.monotonic() - started, response.status, dict(response.headers), body


async def timed_push(url: str, secret: str, body: dict[str, object]) -> tuple[float, int, str]:
    started = time.monotonic()
    status, answer = await push(url, secret, body)
    return time.monotonic() - started, status, json.dumps(answer)


async def assert_unavailable(running: Running) -> None:
    """The intake, a reading route and the health check all answer 503 problem+json, promptly."""
    url = running.service.url
    seconds, status, _ = await timed_push(url, running.secret, samples.consent_given())
    assert status == 503 and seconds < ANSWER_WITHIN_SECONDS, (status, seconds)
    for path in ("/v1/cases/blek-2026-0042", "/v1/health"):
        seconds, status, headers, body = await timed_get(url, path)
        assert status == 503 and seconds < ANSWER_WITHIN_SECONDS, (path, status, seconds)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert int(headers["Retry-After"]) > 0
        problem = json.loads(body)
        assert problem["status"] == 503
        assert problem["type"].endswith("/database-unavailable")
    seconds, status, _, body = await timed_get(url, "/metrics")
    assert status == 200 and seconds < ANSWER_WITHIN_SECONDS
    assert "sipvakt_database_up 0.0" in body


async def wait_healthy(url: str, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        with_time = await timed_get(url, "/v1/health")
        if with_time[1] == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the service did not recover")


async def assert_recovered(running: Running) -> None:
    """Healthy again without a restart, and the first invitation leaves promptly: woken by LISTEN."""
    url = running.service.url
    await wait_healthy(url)
    _, status, _, body = await timed_get(url, "/metrics")
    assert status == 200 and "sipvakt_database_up 1.0" in body
    before = notifications(body)
    loop = asyncio.get_running_loop()
    status, _ = await push(url, running.secret, samples.consent_given())
    assert status == 202
    pushed_at = loop.time()
    status, _ = await push(url, running.secret, samples.meeting_scheduled())
    assert status == 202
    accepted_at = loop.time()
    arrived_at = await running.sink.first_to(GUARDIAN, after=pushed_at)
    assert arrived_at - accepted_at < PROMPT_SECONDS, arrived_at - accepted_at
    # The workers were woken through the reopened LISTEN connection, not only by their polls.
    after = notifications((await timed_get(url, "/metrics"))[3])
    for channel in ("sipvakt_events", "sipvakt_outbox"):
        assert after.get(channel, 0) > before.get(channel, 0), (channel, before, after)


def notifications(metrics: str) -> dict[str, float]:
    """`sipvakt_notifications_total` by channel."""
    counts = {}
    for line in metrics.splitlines():
        if line.startswith("sipvakt_notifications_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('channel="', 1)[1].split('"', 1)[0]] = float(value)
    return counts


def assert_logged_once(service: ServiceProcess) -> None:
    lines = [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert messages.count("database unreachable") == 1, messages
    assert messages.count("database reachable again") == 1, messages
    assert not [line for line in lines if "error" in line], "a traceback was logged"


async def go_away(proxy: DatabaseProxy, fault: str) -> None:
    if fault == "refusing":
        await proxy.refuse()
    else:
        proxy.pause()


async def come_back(proxy: DatabaseProxy, fault: str) -> None:
    if fault == "refusing":
        await proxy.start()
    else:
        proxy.resume()


@pytest.mark.parametrize("fault", ["refusing", "hanging"])
async def test_a_database_that_goes_away_answers_503_in_time_and_recovers_by_itself(
    fault: str, database_url: str, tmp_path: Path
) -> None:
    async with service_behind_proxy(database_url, tmp_path) as running:
        status, _ = await push(running.service.url, running.secret, samples.case_opened())
        assert status == 202
        await go_away(running.proxy, fault)
        await assert_unavailable(running)
        await asyncio.sleep(2)  # several rounds of every worker and probe, logged once
        await come_back(running.proxy, fault)
        await assert_recovered(running)
        assert_logged_once(running.service)
