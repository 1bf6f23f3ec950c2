"""What the HTTP handlers and workers of one process share."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from cryptography.fernet import Fernet

from config.rules import RuleBook
from config.settings import Settings
from notifiers.compose import Sender
from notifiers.transport import Transport
from scheduler.clock import Clock
from service.http.rate_limits import RateLimiter
from service.metrics import Metrics
from service.storage.database import Pool
from service.workers.database_watch import DatabaseWatch


@dataclass
class Runtime:
    settings: Settings
    pool: Pool
    clock: Clock
    # Webhook timestamps are checked against the real time, whatever the test clock says.
    wall_clock: Clock
    cipher: Fernet
    rulebook: RuleBook
    metrics: Metrics
    test_clock: bool
    database: DatabaseWatch
    # Outgoing mail: the delivery worker's, and the web app's sign-in links.
    transport: Transport
    sender: Sender
    limiter: RateLimiter


RUNTIME = web.AppKey("runtime", Runtime)


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]
