"""What the operator-path benchmarks share: a throwaway database, a signed intake client, a local SMTP
sink, quantiles, and the one `RESULT` line per figure that `make bench` collects."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import socket
import statistics
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiosmtpd.controller import Controller

from notifiers.smtp_pool import SmtpPool
from service.http.signatures import key_from_secret, sign
from service.storage.database import Pool, create_pool, migrate, start_temporary_postgres, with_database

MAIL_FROM = "sipvakt@sipvakt.example.se"


# The regions whose rule files sipvakt ships (config/regions/); benchmarks spread their cases over them.
REGIONS = ("blekinge", "halland", "jonkoping", "dalarna", "vastra_gotaland")


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    return parser.parse_args()


def result(name: str, value: float, goal: str, passed: bool) -> None:
    """One figure, in the form `make bench` greps for."""
    print(f"RESULT {name} {value:.3g} goal {goal} {'PASS' if passed else 'FAIL'}", flush=True)


def spread(values: list[float]) -> str:
    """Median and range of several runs, for the report."""
    return (
        f"median {statistics.median(values):.3g}, {min(values):.3g}–{max(values):.3g} over {len(values)} runs"
    )


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def profile_summary(profile: cProfile.Profile, lines: int) -> str:
    """The functions that take the most time themselves, then sipvakt's own by time including callees."""
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(r"/(service|scheduler|notifiers|calendars)/", lines)
    return text.getvalue()


def server_url() -> str:
    return os.environ.get("SIPVAKT_DATABASE_URL") or start_temporary_postgres("svbench-")


@asynccontextmanager
async def fresh_database(server: str) -> AsyncIterator[tuple[str, Pool]]:
    """A migrated database of its own, dropped afterwards."""
    name = "bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    url = with_database(server, name)
    pool = await create_pool(url, max_size=4)
    try:
        await migrate(pool)
        yield url, pool
    finally:
        await pool.close()
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def signed(secret: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """An intake request signed as an integration signs it (Standard Webhooks)."""
    raw = json.dumps(body).encode()
    webhook_id = "msg_" + secrets.token_hex(8)
    moment = int(datetime.now(UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(moment),
        "webhook-signature": sign(key_from_secret(secret), webhook_id, moment, raw),
    }
    return raw, headers


async def post(session: aiohttp.ClientSession, url: str, request: tuple[bytes, dict[str, str]]) -> int:
    async with session.post(url, data=request[0], headers=request[1]) as response:
        await response.read()
        return response.status


@dataclass
class Sink:
    """Counts messages and notes when each arrived (loop time is not shared across threads: wall time);
    with `keep`, keeps their bytes too, to send them again as a baseline."""

    keep: bool = False
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    contents: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrivals.append((envelope.rcpt_tos[0], datetime.now(UTC).timestamp()))
            if self.keep:
                self.contents.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"


@asynccontextmanager
async def smtp_sink(*, keep: bool = False) -> AsyncIterator[tuple[int, Sink]]:
    """A local aiosmtpd in a thread of its own, like a separate server."""
    sink = Sink(keep=keep)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield port, sink
    finally:
        await asyncio.to_thread(controller.stop)


async def kept_session_rate(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Messages per second for already built (recipient, bytes) handed over one at a time, as the delivery
    worker hands them, over a session kept by `SmtpPool`: the SMTP ceiling of a run."""
    pool = SmtpPool("127.0.0.1", port, "none")
    await pool.send(MAIL_FROM, "warm@example.org", messages[0][1], "warm")
    started = time.perf_counter()
    for number, (recipient, message) in enumerate(messages):
        await pool.send(MAIL_FROM, recipient, message, str(number))
    seconds = time.perf_counter() - started
    await pool.close()
    return len(messages) / seconds


def data_dir(tag: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"svbench-{tag}-", dir="/tmp"))


def case_opened(case_id: str) -> dict[str, Any]:
    """A case.opened event of an obviously fake person (a Skatteverket test personnummer)."""
    return {
        "type": "case.opened",
        "case_id": case_id,
        "occurred_at": "2026-11-23T09:15:00+01:00",
        "data": {
            "region": "blekinge",
            "municipality": "Testkommun",
            "person": {"reference": "person-1", "personnummer": "19121212-1212", "name": "Testa Testsson"},
            "detected_at": "2026-11-20",
            "detected_by": "skola",
            "urgent": False,
            "coordinator": {
                "name": "Kim Koordinator",
                "email": "kim.koordinator@example.se",
                "organisation": "Testkommun socialtjänst",
            },
        },
    }
