"""Benchmark of the access log's cost: case reads per second with the log and without it, in one run.

    .venv/bin/python bench/audit.py            # an embedded PostgreSQL in a temporary folder
    .venv/bin/python bench/audit.py --cases 500 --seconds 5
    SIPVAKT_DATABASE_URL=postgresql://… .venv/bin/python bench/audit.py

Cases are opened with a meeting each (their invitations queued as usual), on the real clock as in
production (the test clock would cost the logged read a query for the time). Then
clients read them over HTTP, several at once, through the whole application as `sipvakt serve` runs it:
`GET /v1/cases/{id}`, which writes a read entry with each answer (one INSERT in the statement that opens
the case, every append serialised on the chain's head), against the same read without the entry (the
benchmark's own route: the same token check, queries and answer, minus the INSERT). The rounds alternate
so that both meet the same machine; the result is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from common import REGIONS

from calendars.stockholm import STOCKHOLM
from config.settings import Settings, load_settings
from scheduler.case import Case
from scheduler.events import parse_event
from service import access
from service.context import Runtime, runtime
from service.http.api import READERS, authorize
from service.http.app import build_app
from service.http.problems import Problem
from service.http.testclock import settle
from service.http.views import case_view
from service.server import running
from service.storage import store
from service.storage.database import start_temporary_postgres, with_database
from service.storage.secrets import new_webhook_secret

START = datetime(2026, 11, 23, 9, 0, tzinfo=STOCKHOLM)
CLIENTS = 8
ROUNDS = 10
GOAL = 0.70


def server_url() -> str:
    configured = os.environ.get("SIPVAKT_DATABASE_URL")
    if configured:
        return configured
    return start_temporary_postgres("sva-")


def case_events(number: int) -> list[dict[str, Any]]:
    case_id = f"bench-{number:04d}"
    at = START.isoformat()
    organizer = {"name": "Kim Koordinator", "email": "kim@example.se", "organisation": "Testkommun"}
    return [
        {
            "type": "case.opened",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "region": REGIONS[number % len(REGIONS)],
                "person": {"reference": f"person-{number}"},
                "detected_at": "2026-11-20",
                "detected_by": "skola",
                "urgent": False,
                "coordinator": organizer,
            },
        },
        {
            "type": "consent.given",
            "case_id": case_id,
            "occurred_at": at,
            "data": {"given_by": "guardian", "valid_from": "2026-11-23", "valid_to": "2027-11-22"},
        },
        {
            "type": "meeting.scheduled",
            "case_id": case_id,
            "occurred_at": at,
            "data": {
                "meeting_id": "m1",
                "kind": "initial",
                "starts_at": "2026-12-17T13:00:00+01:00",
                "ends_at": "2026-12-17T14:00:00+01:00",
                "location": "Testskolan, rum 3",
                "organizer": organizer,
                "participants": [
                    {
                        "participant_id": f"p{index}",
                        "name": f"Deltagare {index} (test)",
                        "email": f"p{index}.{number}@example.org",
                        "organisation": "Testskolan",
                        "role": "professional",
                        "channel": "email",
                    }
                    for index in range(4)
                ],
                "purpose": "Samordna insatser",
            },
        },
    ]


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return load_settings(
        {
            "SIPVAKT_DATABASE_URL": database_url,
            "SIPVAKT_DATA_DIR": str(data_dir),
            "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret(),
        }
    )


async def unlogged_case(request: web.Request) -> web.Response:
    """The baseline: `GET /v1/cases/{id}` as it was before the access log, for this benchmark only."""
    principal = await authorize(request, *READERS)
    rt = runtime(request)
    case_id = request.match_info["case_id"]
    row = await rt.pool.fetchrow(
        "select state, region, organisations, integration_id from cases where case_id = $1", case_id
    )
    if row is None or not principal.sees(row["region"], row["organisations"], row["integration_id"]):
        raise Problem(404, "not-found", "no case with this id")
    stopped = await rt.pool.fetch(
        "select key, attempts from timers where case_id = $1 and state = 'dead' order by key", case_id
    )
    case = Case.model_validate(row["state"])
    return web.json_response(case_view(case, [(timer["key"], timer["attempts"]) for timer in stopped]))


@asynccontextmanager
async def serving(rt: Runtime) -> AsyncIterator[str]:
    app = build_app(rt)
    app.router.add_get("/bench/unlogged/{case_id}", unlogged_case)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def open_cases(rt: Runtime, count: int) -> list[str]:
    integration = await rt.pool.fetchval("select integration_id from integrations limit 1")
    async with rt.pool.acquire() as connection, connection.transaction():
        for number in range(count):
            for seq, body in enumerate(case_events(number)):
                await store.store_event(
                    connection,
                    integration_id=integration,
                    webhook_id=f"bench-{number}-{seq}",
                    body=json.dumps(body).encode(),
                    event=parse_event(body),
                    received_at=START,
                )
    left = await settle(rt.pool, await rt.clock.now(), 600.0)
    assert left.empty, left
    return [f"bench-{number:04d}" for number in range(count)]


async def reads_per_second(base: str, prefix: str, cases: list[str], token: str, seconds: float) -> float:
    """Reads answered per second by CLIENTS clients, each reading random cases one after another."""
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with session.get(f"{base}{prefix}{random.choice(cases)}", headers=headers) as response:
                assert response.status == 200, await response.text()
                await response.read()
            done += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    return done / (time.perf_counter() - started)


async def main(count: int, seconds: float) -> None:
    server = server_url()
    name = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    url = with_database(server, name)
    try:
        with tempfile.TemporaryDirectory(prefix="sva-data-") as data_dir:
            async with running(settings_for(url, Path(data_dir))) as (rt, _):
                cases = await open_cases(rt, count)
                async with rt.pool.acquire() as connection:
                    issued = await access.create_token(
                        connection,
                        role="coordinator",
                        regions=["*"],
                        organisations=["Testskolan"],
                        integration_id=None,
                        label="bench",
                        now=datetime.now(UTC),
                    )
                async with serving(rt) as base:
                    # A warm-up of each, so that neither pays for the first connections and plans.
                    await reads_per_second(base, "/v1/cases/", cases, issued.token, 1.0)
                    await reads_per_second(base, "/bench/unlogged/", cases, issued.token, 1.0)
                    logged, unlogged = [], []
                    for _ in range(ROUNDS):
                        unlogged.append(
                            await reads_per_second(base, "/bench/unlogged/", cases, issued.token, seconds)
                        )
                        logged.append(
                            await reads_per_second(base, "/v1/cases/", cases, issued.token, seconds)
                        )
                entries = await rt.pool.fetchval("select count(*) from audit_log where action = 'read'")
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
    with_log, without_log = statistics.median(logged), statistics.median(unlogged)
    # Each round's two halves meet nearly the same machine; the median of the rounds' ratios is what a
    # shared machine's drift between rounds disturbs least.
    ratio = statistics.median(a / b for a, b in zip(logged, unlogged, strict=True))
    print(f"cases: {count}, clients: {CLIENTS}, rounds: {ROUNDS} of 2 × {seconds:g} s")
    print(f"case reads per second without the access log: {without_log:.0f} (rounds: {_list(unlogged)})")
    print(f"case reads per second with the access log:    {with_log:.0f} (rounds: {_list(logged)})")
    print(f"read entries written: {entries}")
    print(f"ratio with/without (median of the rounds' ratios): {ratio:.2f}")
    print(f"RESULT audit_read_ratio {ratio:.2f} goal {GOAL:g} {'PASS' if ratio >= GOAL else 'FAIL'}")


def _list(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each half of a round")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.seconds))
