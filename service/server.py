"""`sipvakt serve`: one process with the HTTP API and every worker, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from config.settings import Settings
from notifiers.compose import Sender
from notifiers.smtp_pool import SmtpPool
from notifiers.transport import FolderTransport, Transport
from scheduler.clock import Clock, SystemClock
from scheduler.planning import DeadlinePlanner
from scheduler.retention import RETENTION_KIND
from service import access, tracing
from service.context import Runtime
from service.http.app import build_app
from service.http.http_server import ApiRunner
from service.http.rate_limits import Limits, RateLimiter
from service.http.testclock import CLOCK_CHANNEL, DatabaseClock, start_test_clock
from service.mail.inbound import ReplyReceiver
from service.mail.inbound_smtp import InboundLimits, start_inbound_smtp, tls_context
from service.metrics import Metrics
from service.storage.database import DatabaseTimeouts, Pool, open_database
from service.storage.reply_tokens import ReplyTokens, reply_key
from service.storage.secrets import load_cipher
from service.storage.store import EVENTS_CHANNEL, OUTBOX_CHANNEL, TIMERS_CHANNEL
from service.workers.database_watch import DatabaseWatch
from service.workers.delivery import DeliveryWorker
from service.workers.digest import digest_schedule, digest_timer_handlers
from service.workers.outcomes import DeliveryOutcomes
from service.workers.periodic import PeriodicJobs
from service.workers.processor import EventProcessor
from service.workers.retention import CaseEraser, align
from service.workers.timer_handlers import case_timer_handlers
from service.workers.timers import TimerWorker
from service.workers.webhook_delivery import WebhookWorker

log = logging.getLogger(__name__)

# Of the shutdown grace period: kept back to hand claimed work back and close the database, and the
# longest part that requests still running may take.
HAND_BACK_RESERVE_SECONDS = 1.0
HTTP_SHARE_OF_GRACE = 0.5


async def make_clock(pool: Pool, setting: str | None, wall_clock: Clock) -> Clock:
    """The business clock: the shared test clock when SIPVAKT_TEST_CLOCK is set, else the real time."""
    if setting is None:
        return wall_clock
    start = await wall_clock.now() if setting == "now" else datetime.fromisoformat(setting)
    await start_test_clock(pool, start)
    return DatabaseClock(pool)


def make_transport(settings: Settings) -> Transport:
    """SMTP over kept sessions when a host is configured; otherwise `.eml` files under
    SIPVAKT_DATA_DIR/outbox."""
    if settings.smtp_host is None:
        return FolderTransport(settings.outbox_dir)
    return SmtpPool(
        host=settings.smtp_host,
        port=settings.smtp_port_or_default,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
        size=settings.smtp_pool_size,
        idle_seconds=settings.smtp_idle_seconds,
    )


@dataclass
class Shutdown:
    """Stopping: the workers take no new work from `begin` on, and every step shares one grace period."""

    grace_seconds: float
    began_at: float | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self) -> None:
        if self.began_at is None:
            self.began_at = time.monotonic()
        self.stopping.set()

    def seconds_left(self, reserve: float = 0.0) -> float:
        """What is left of the grace period, keeping `reserve` back for handing work back and closing."""
        self.begin()
        assert self.began_at is not None
        return max(self.grace_seconds - (time.monotonic() - self.began_at) - reserve, 0.0)


async def stop_workers(workers: list[asyncio.Task[None]], seconds: float) -> None:
    """Let the workers finish the round they are in for up to `seconds`, then cancel them: each hands
    back what it had claimed and not finished, for the next process."""
    _, unfinished = await asyncio.wait(workers, timeout=seconds)
    for worker in unfinished:
        log.info("stopping a worker that is still busy", extra={"reason": worker.get_name()})
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


@asynccontextmanager
async def running(
    settings: Settings, shutdown: Shutdown | None = None
) -> AsyncIterator[tuple[Runtime, EventProcessor]]:
    """Everything one process runs, started; stopped on exit from the block within the shutdown grace."""
    shutdown = shutdown or Shutdown(settings.shutdown_grace_seconds)
    rulebook = load_rulebook(settings.config_dir)
    cipher = load_cipher(settings.secret_key, settings.data_dir)
    wall_clock = SystemClock()
    timeouts = DatabaseTimeouts.from_settings(settings)
    async with open_database(settings.database_url, settings.data_dir, timeouts) as (pool, database_url):
        clock = await make_clock(pool, settings.test_clock, wall_clock)
        retention_period = timedelta(days=settings.retention_days)
        async with pool.acquire() as connection:
            await access.ensure_default_integration(connection, await clock.now())
            await align(connection, retention_period, await clock.now())
        metrics = Metrics()
        database = DatabaseWatch(database_url, timeouts, metrics)
        links_key = reply_key(settings.secret_key, settings.data_dir)
        sender = Sender(
            settings.mail_from, settings.reply_to, settings.mail_from.rsplit("@", 1)[1], links_key
        )
        runtime = Runtime(
            settings=settings,
            pool=pool,
            clock=clock,
            wall_clock=wall_clock,
            cipher=cipher,
            rulebook=rulebook,
            metrics=metrics,
            test_clock=settings.test_clock is not None,
            database=database,
            transport=make_transport(settings),
            sender=sender,
            limiter=RateLimiter(
                pool,
                wall_clock,
                metrics,
                Limits.from_settings(settings),
                settings.trusted_proxy_networks,
            ),
        )
        processor = EventProcessor(
            pool, clock, DeadlinePlanner(rulebook, WorkingCalendar()), metrics, retention_period
        )
        stopping = shutdown.stopping

        def wake(*_: object) -> None:
            processor.wake.set()

        delivery = DeliveryWorker(
            pool=pool,
            clock=clock,
            transport=runtime.transport,
            sender=runtime.sender,
            return_address=settings.letter_return_address,
            wake=asyncio.Event(),
            outcomes=DeliveryOutcomes(processor.planner),
            metrics=metrics,
            reply_tokens=ReplyTokens(links_key, settings.base_url),
            lanes=settings.smtp_pool_size,
        )

        def wake_delivery(*_: object) -> None:
            delivery.wake.set()

        digests = digest_schedule(rulebook, WorkingCalendar())
        eraser = CaseEraser(retention_period, settings.outbox_dir if settings.smtp_host is None else None)
        handlers = {
            **case_timer_handlers(processor.planner),
            **digest_timer_handlers(digests),
            RETENTION_KIND: eraser,
        }
        timer_worker = TimerWorker(pool, clock, handlers, metrics)
        periodic = PeriodicJobs(pool, clock, timer_worker, digests=digests)

        def wake_timers(*_: object) -> None:
            timer_worker.wake.set()

        database.subscribe(TIMERS_CHANNEL, wake_timers)
        database.subscribe(CLOCK_CHANNEL, wake_timers)
        database.subscribe(EVENTS_CHANNEL, wake)
        database.subscribe(CLOCK_CHANNEL, wake)
        database.subscribe(CLOCK_CHANNEL, wake_delivery)
        database.subscribe(OUTBOX_CHANNEL, wake_delivery)
        webhooks = WebhookWorker(
            pool, clock, wall_clock, cipher, allow_private=settings.webhook_allow_private
        )
        webhooks.listen(database)
        await database.open()
        watching = asyncio.create_task(database.run(stopping), name="database-watch")
        workers = [
            asyncio.create_task(processor.run(stopping), name="events"),
            asyncio.create_task(delivery.run(stopping), name="delivery"),
            asyncio.create_task(timer_worker.run(stopping), name="timers"),
            asyncio.create_task(webhooks.run(stopping), name="webhooks"),
        ]
        await periodic.start()
        inbound = None
        if settings.inbound_smtp_port is not None:
            receiver = ReplyReceiver(pool, clock, metrics, delivery.sender, settings.inbound_authserv_id)
            inbound = await start_inbound_smtp(
                settings.http_host,
                settings.inbound_smtp_port,
                receiver,
                InboundLimits(
                    max_message_bytes=settings.inbound_max_message_bytes,
                    max_mime_parts=settings.inbound_max_mime_parts,
                    max_recipients=settings.inbound_max_recipients,
                    max_connections=settings.inbound_max_connections,
                ),
                _inbound_tls(settings),
            )
        try:
            yield runtime, processor
        finally:
            if inbound is not None:
                inbound.close()
            periodic.stop()
            shutdown.begin()
            await stop_workers(workers, shutdown.seconds_left(reserve=HAND_BACK_RESERVE_SECONDS))
            await asyncio.gather(watching, return_exceptions=True)
            await runtime.transport.close()
            await database.close()


def _inbound_tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.inbound_tls_cert is None or settings.inbound_tls_key is None:
        return None
    return tls_context(settings.inbound_tls_cert, settings.inbound_tls_key)


async def serve(settings: Settings) -> None:
    shutdown = Shutdown(settings.shutdown_grace_seconds)
    provider = tracing.configure(os.environ)
    try:
        await _serve(settings, shutdown)
    finally:
        tracing.shutdown(provider)


async def _serve(settings: Settings, shutdown: Shutdown) -> None:
    async with running(settings, shutdown) as (runtime, _):
        app = build_app(runtime)
        # Requests still running at SIGTERM get part of the grace period; the workers get the rest.
        runner = ApiRunner(
            app, access_log=None, shutdown_timeout=settings.shutdown_grace_seconds * HTTP_SHARE_OF_GRACE
        )
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        log.info("listening", extra={"url": settings.base_url})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            shutdown.begin()
            log.info("stopping")
            await runner.cleanup()
    log.info("stopped")
