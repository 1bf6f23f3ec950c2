"""`sipvakt serve`: one process with the HTTP API and every worker, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from aiohttp import web

from calendars.workdays import WorkingCalendar
from config.rules import load_rulebook
from config.settings import Settings
from notifiers.compose import Sender
from notifiers.transport import FolderTransport, SmtpTransport, Transport
from scheduler.clock import Clock, SystemClock
from scheduler.planning import DeadlinePlanner
from service import access
from service.app import build_app
from service.context import Runtime
from service.database import Pool, open_database
from service.delivery import DeliveryWorker
from service.digest import digest_schedule, digest_timer_handlers
from service.inbound import ReplyReceiver, start_inbound_smtp
from service.metrics import Metrics
from service.periodic import PeriodicJobs
from service.processor import EventProcessor
from service.reply_tokens import ReplyTokens, reply_key
from service.secrets import load_cipher
from service.store import EVENTS_CHANNEL, OUTBOX_CHANNEL, TIMERS_CHANNEL
from service.testclock import CLOCK_CHANNEL, DatabaseClock, start_test_clock
from service.timer_handlers import case_timer_handlers
from service.timers import TimerWorker
from service.webhook_delivery import WebhookWorker

log = logging.getLogger(__name__)


async def make_clock(pool: Pool, setting: str | None, wall_clock: Clock) -> Clock:
    """The business clock: the shared test clock when SIPVAKT_TEST_CLOCK is set, else the real time."""
    if setting is None:
        return wall_clock
    start = await wall_clock.now() if setting == "now" else datetime.fromisoformat(setting)
    await start_test_clock(pool, start)
    return DatabaseClock(pool)


def make_transport(settings: Settings) -> Transport:
    """SMTP when a host is configured; otherwise `.eml` files under SIPVAKT_DATA_DIR/outbox."""
    if settings.smtp_host is None:
        return FolderTransport(settings.outbox_dir)
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port_or_default,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, EventProcessor]]:
    """Everything one process runs, started; stopped cleanly on exit from the block."""
    rulebook = load_rulebook(settings.config_dir)
    cipher = load_cipher(settings.secret_key, settings.data_dir)
    wall_clock = SystemClock()
    async with open_database(settings.database_url, settings.data_dir) as (pool, database_url):
        clock = await make_clock(pool, settings.test_clock, wall_clock)
        async with pool.acquire() as connection:
            await access.ensure_default_integration(connection, await clock.now())
        metrics = Metrics()
        runtime = Runtime(
            settings=settings,
            pool=pool,
            clock=clock,
            wall_clock=wall_clock,
            cipher=cipher,
            rulebook=rulebook,
            metrics=metrics,
            test_clock=settings.test_clock is not None,
            transport=make_transport(settings),
            sender=Sender(settings.mail_from, settings.reply_to, settings.mail_from.rsplit("@", 1)[1]),
        )
        processor = EventProcessor(pool, clock, DeadlinePlanner(rulebook, WorkingCalendar()), metrics)
        stopping = asyncio.Event()
        listener = await asyncpg.connect(database_url)

        def wake(*_: object) -> None:
            processor.wake.set()

        delivery = DeliveryWorker(
            pool=pool,
            clock=clock,
            transport=runtime.transport,
            sender=runtime.sender,
            return_address=settings.letter_return_address,
            wake=asyncio.Event(),
            reply_tokens=ReplyTokens(reply_key(settings.secret_key, settings.data_dir), settings.base_url),
        )

        def wake_delivery(*_: object) -> None:
            delivery.wake.set()

        digests = digest_schedule(rulebook, WorkingCalendar())
        handlers = {**case_timer_handlers(processor.planner), **digest_timer_handlers(digests)}
        timer_worker = TimerWorker(pool, clock, handlers, metrics)
        periodic = PeriodicJobs(pool, clock, timer_worker, digests=digests)

        def wake_timers(*_: object) -> None:
            timer_worker.wake.set()

        await listener.add_listener(TIMERS_CHANNEL, wake_timers)
        await listener.add_listener(CLOCK_CHANNEL, wake_timers)
        await listener.add_listener(EVENTS_CHANNEL, wake)
        await listener.add_listener(CLOCK_CHANNEL, wake)
        await listener.add_listener(CLOCK_CHANNEL, wake_delivery)
        await listener.add_listener(OUTBOX_CHANNEL, wake_delivery)
        webhooks = WebhookWorker(pool, clock, wall_clock, cipher)
        await webhooks.listen(listener)
        workers = [
            asyncio.create_task(processor.run(stopping), name="events"),
            asyncio.create_task(delivery.run(stopping), name="delivery"),
            asyncio.create_task(timer_worker.run(stopping), name="timers"),
            asyncio.create_task(webhooks.run(stopping), name="webhooks"),
        ]
        await periodic.start()
        inbound = None
        if settings.inbound_smtp_port is not None:
            receiver = ReplyReceiver(pool, clock, metrics, delivery.sender.domain)
            inbound = await start_inbound_smtp(settings.http_host, settings.inbound_smtp_port, receiver)
        try:
            yield runtime, processor
        finally:
            if inbound is not None:
                inbound.close()
            periodic.stop()
            stopping.set()
            await asyncio.gather(*workers, return_exceptions=True)
            await listener.close()


async def serve(settings: Settings) -> None:
    async with running(settings) as (runtime, _):
        app = build_app(runtime)
        runner = web.AppRunner(app, access_log=None)
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
            log.info("stopping")
            await runner.cleanup()
