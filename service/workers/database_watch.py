"""The connection that LISTENs for the workers' wake-ups, and the one place that notices the database go
away and come back.

A worker woken only by its fallback poll still works, but each step of a case (event → outbox → mail)
then waits up to a poll interval, so the LISTEN connection is reopened as soon as the database answers
again, and every worker is woken once: notices sent while it was closed are lost. The watch probes the
connection every second, so a server that hangs without closing the socket is noticed too.

An outage is told once: one warning when it starts and one line when it ends, however many requests and
workers fail in between (they log those failures at DEBUG, see `log_failure`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg

from service.metrics import Metrics
from service.storage.database import DatabaseTimeouts, is_unavailable
from service.workers.wakeup import wait_for_any

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.0

Wake = Callable[..., None]


class DatabaseWatch:
    def __init__(self, url: str, timeouts: DatabaseTimeouts, metrics: Metrics) -> None:
        self.url = url
        self.timeouts = timeouts
        self.metrics = metrics
        self.subscriptions: dict[str, list[Wake]] = {}
        self.connection: asyncpg.Connection[asyncpg.Record] | None = None
        self.down_since: float | None = None
        self.check_now = asyncio.Event()

    @property
    def available(self) -> bool:
        """The database answered the last probe and the LISTEN connection is open."""
        return self.connection is not None and self.down_since is None

    def subscribe(self, channel: str, wake: Wake) -> None:
        """Call `wake` on every NOTIFY on `channel`, and once after each outage. Before `open`."""
        self.subscriptions.setdefault(channel, []).append(wake)

    async def open(self) -> None:
        """Connect and LISTEN. At start the database has to be there: the process just migrated it."""
        self.connection = await self._connect()
        self.metrics.database_up.set(1)

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.terminate()
            self.connection = None

    def suspect(self, error: BaseException) -> None:
        """Something failed on the database: probe now rather than at the next tick."""
        if is_unavailable(error):
            self.check_now.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await wait_for_any(self.check_now, stopping, seconds=PROBE_SECONDS)
            self.check_now.clear()
            if not stopping.is_set():
                await self.check()

    async def check(self) -> None:
        """Probe the open connection, or try to reopen it; tell a change of state once."""
        if self.connection is not None:
            try:
                await self.connection.fetchval("select 1", timeout=self.timeouts.command)
                return
            except Exception as error:
                self._went_down(error)
                self.connection.terminate()
                self.connection = None
        try:
            self.connection = await self._connect()
        except Exception as error:
            self._went_down(error)
            return
        self._came_back()

    async def _connect(self) -> asyncpg.Connection[asyncpg.Record]:
        connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self.url, timeout=self.timeouts.connect, command_timeout=self.timeouts.command
        )
        try:
            for channel in self.subscriptions:
                await connection.add_listener(channel, self._notified)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._closed)
        return connection

    def _notified(self, connection: object, pid: int, channel: str, payload: object) -> None:
        self.metrics.notifications.labels(channel).inc()
        for wake in self.subscriptions[channel]:
            wake()

    def _closed(self, connection: object) -> None:
        self.check_now.set()

    def _went_down(self, error: BaseException) -> None:
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        self.metrics.database_up.set(0)
        self.metrics.database_outages.inc()
        log.warning("database unreachable", extra={"reason": type(error).__name__})

    def _came_back(self) -> None:
        if self.down_since is None:
            return
        lasted = time.monotonic() - self.down_since
        self.down_since = None
        self.metrics.database_up.set(1)
        log.info("database reachable again", extra={"duration_ms": round(lasted * 1000)})
        for wakes in self.subscriptions.values():
            for wake in wakes:
                wake()


def log_failure(logger: logging.Logger, message: str, error: BaseException) -> None:
    """Log a worker's failed round: with its traceback, unless the database is simply away, which the
    watch tells once for the whole outage."""
    if is_unavailable(error):
        logger.debug(message, extra={"reason": type(error).__name__})
    else:
        logger.error(message, exc_info=error)
