"""Signed events accepted per second through `POST /v1/events`, against a bare aiohttp handler doing
the same single INSERT on the same database, in one run; then the 202's latency at half that load.

The service runs in this process with every worker of `sipvakt serve` (the event processor applies what
comes in, as in production); the clients run here too, with every request signed beforehand, so that
both sides pay the same client cost. Rounds alternate between the two, because the machine's speed
drifts; each figure is the median of its rounds.

    .venv/bin/python bench/intake.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from common import (
    arguments,
    case_opened,
    data_dir,
    free_port,
    fresh_database,
    post,
    quantile,
    result,
    server_url,
    signed,
)

from config.settings import load_settings
from service.http.app import build_app
from service.http.http_server import ApiRunner
from service.server import running
from service.storage.database import Pool
from service.storage.secrets import new_webhook_secret

CLIENTS = 16
GOAL_RATIO = 0.60
GOAL_P99_MS = 100.0


def bodies(tag: str, count: int) -> list[dict[str, Any]]:
    return [case_opened(f"bench-{tag}-{index:06d}") for index in range(count)]


async def closed_loop(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> float:
    """CLIENTS clients, each sending its share one after another: events accepted per second."""
    queue = list(reversed(requests))

    async def client(session: aiohttp.ClientSession) -> None:
        while queue:
            status = await post(session, url, queue.pop())
            assert status in (200, 202), status

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        return len(requests) / (time.perf_counter() - started)


async def open_loop(url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float) -> list[float]:
    """Requests started at a steady `rate` whatever the answers: the seconds each 202 took."""
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, request: tuple[bytes, dict[str, str]]) -> None:
        started = time.perf_counter()
        status = await post(session, url, request)
        assert status == 202, status
        latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = []
        start = time.perf_counter()
        for index, request in enumerate(requests):
            await asyncio.sleep(max(start + index / rate - time.perf_counter(), 0))
            tasks.append(asyncio.create_task(one(session, request)))
        await asyncio.gather(*tasks)
    return latencies


def bare_app(pool: Pool) -> web.Application:
    """The floor: read the body, one INSERT into the same table, answer 202."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = json.loads(body)
        now = datetime.now(UTC)
        await pool.execute(
            "insert into events (event_id, integration_id, webhook_id, body_sha256, case_id, type,"
            " occurred_at, received_at, payload) values ($1, 'default', $2, $3, $4, $5, $6, $7, $8)",
            "evt_" + request.headers["webhook-id"],
            request.headers["webhook-id"],
            b"x" * 32,
            event["case_id"],
            event["type"],
            now,
            now,
            event,
        )
        return web.json_response({"status": "accepted"}, status=202)

    app = web.Application()
    app.router.add_post("/v1/events", receive)
    return app


async def serving(app: web.Application, port: int) -> Callable[[], Awaitable[None]]:
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner.cleanup


async def main(quick: bool) -> None:
    logging.basicConfig(level=logging.WARNING)
    count, rounds = (800, 2) if quick else (4000, 3)
    server = server_url()
    secret = new_webhook_secret()
    async with fresh_database(server) as (url, pool):
        settings = load_settings(
            {
                "SIPVAKT_DATABASE_URL": url,
                "SIPVAKT_DATA_DIR": str(data_dir("intake")),
                "SIPVAKT_WEBHOOK_SECRET": secret,
                "SIPVAKT_ADMIN_TOKEN": "bench-admin-token-0123456789abcdef",
            }
        )
        async with running(settings) as (runtime, _):
            service_port, bare_port = free_port(), free_port()
            stop_service = await serving(build_app(runtime), service_port)
            stop_bare = await serving(bare_app(pool), bare_port)
            service_url = f"http://127.0.0.1:{service_port}/v1/events"
            bare_url = f"http://127.0.0.1:{bare_port}/v1/events"
            try:
                await closed_loop(service_url, [signed(secret, b) for b in bodies("warm", 100)])
                service_rates, bare_rates = [], []
                for number in range(rounds):
                    bare_rates.append(
                        await closed_loop(bare_url, [signed(secret, b) for b in bodies(f"b{number}", count)])
                    )
                    requests = [signed(secret, b) for b in bodies(f"s{number}", count)]
                    service_rates.append(await closed_loop(service_url, requests))
                service_rate, bare_rate = statistics.median(service_rates), statistics.median(bare_rates)
                ratios = [s / b for s, b in zip(service_rates, bare_rates, strict=True)]
                half = service_rate / 2
                paced = [signed(secret, b) for b in bodies("paced", int(half * (3 if quick else 10)))]
                latencies = await open_loop(service_url, paced, half)
            finally:
                await stop_bare()
                await stop_service()
    p50, p99 = quantile(latencies, 0.50) * 1000, quantile(latencies, 0.99) * 1000
    ratio = statistics.median(ratios)
    print(f"intake benchmark, {CLIENTS} concurrent clients, {count} events per round, {rounds} rounds")
    print(f"bare handler, one INSERT     {bare_rate:8.0f} events/s   (baseline)")
    print(f"POST /v1/events, signed      {service_rate:8.0f} events/s   {ratio:6.1%} of the baseline")
    print(f"ratio per round              {', '.join(f'{r:.1%}' for r in ratios)}")
    print(f"at {half:.0f} events/s (half):  202 after p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    result("intake_ratio", ratio, f">={GOAL_RATIO:.2f}", ratio >= GOAL_RATIO)
    result("intake_p99_ms_at_half_load", p99, f"<{GOAL_P99_MS:.0f}", p99 < GOAL_P99_MS)


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__.splitlines()[0]).quick))
