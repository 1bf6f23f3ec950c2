"""The webhook worker: POSTs queued webhook events to their subscriptions, signed, at least once each.

Like the e-mail worker, it claims due deliveries in one short statement (`FOR UPDATE SKIP LOCKED`, so any
number of processes share the work and each delivery is claimed by one), sends outside any transaction,
then marks the outcome if its claim still holds. A process that dies mid-send leaves a claim whose lease
runs out; another process sends it again under the same webhook-id, which receivers deduplicate on.

A 2xx answer is delivered; anything else is retried with back-off until three days after the first attempt.
Then the delivery fails, the subscription is disabled (its other pending deliveries are kept, not
attempted, until it is enabled again) and the subscription's notify_email is told by e-mail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from cryptography.fernet import Fernet

from scheduler.clock import Clock
from service.http.signatures import key_from_secret, sign
from service.http.testclock import CLOCK_CHANNEL
from service.storage.database import Pool
from service.storage.secrets import decrypt
from service.storage.store import OUTBOX_CHANNEL, Connection
from service.storage.webhook_events import WEBHOOKS_CHANNEL, iso_utc
from service.workers.database_watch import DatabaseWatch, log_failure
from service.workers.wakeup import wait_for_any
from service.workers.webhook_targets import NotPublicAddress, PublicOnlyResolver, is_public, literal_address

log = logging.getLogger(__name__)

BATCH = 20
POLL_SECONDS = 1.0
SEND_TIMEOUT_SECONDS = 10.0
USER_AGENT = "sipvakt-webhooks/1"
# Retry delays after the 1st, 2nd … failed attempt; the last one repeats. Jitter spreads a burst of
# retries (after an endpoint comes back, say) over ±20 % of the delay.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
GIVE_UP_AFTER = timedelta(days=3)
# Real time, not business time: a lease says whether the claiming process is still alive. Far longer
# than one send may take, so a slow but live sender is never overtaken.
LEASE = timedelta(seconds=60)
# Delivered and failed deliveries are kept this long (business time) for the deliveries view.
KEEP_FINISHED = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600.0
PRUNE_CHUNK = 10_000


def retry_delay(attempts: int, jitter: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt; `jitter` is uniform in [0, 1)."""
    base = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    return base * (0.8 + 0.4 * jitter)


def next_attempt(first_attempt_at: datetime, attempts: int, now: datetime, jitter: float) -> datetime | None:
    """When to try again, or None to give up. The last try falls exactly three days after the first."""
    deadline = first_attempt_at + GIVE_UP_AFTER
    if now >= deadline:
        return None
    return min(now + retry_delay(attempts, jitter), deadline)


@dataclass(frozen=True)
class Attempt:
    """How one POST went: the HTTP status if an answer came, else why not (never a URL or a secret): `error`
    is what is recorded, `detail` what the log says."""

    status: int | None
    error: str | None
    detail: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# What the deliveries view, the subscription's notice and the database record for every attempt that got
# no HTTP answer. One reason for all of them: a refused connection, a timeout and a failed TLS handshake
# would otherwise tell a subscriber which ports of a host are open. The log keeps the detail.
UNREACHABLE = "the endpoint could not be reached"


def describe_failure(exc: BaseException, timeout_seconds: float) -> str:
    """A short reason for the operator's log. aiohttp's own messages name the host and sometimes the whole
    URL, which may carry a token of the receiver's, so they are not passed on."""
    if isinstance(exc, NotPublicAddress) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, NotPublicAddress)
    ):
        return "the host is not a public address"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_seconds:g} s"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS failed ({type(exc).__name__})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The errno's own words: the exception's text repeats the address.
        code = exc.os_error.errno
        return f"could not connect ({os.strerror(code) if code else type(exc.os_error).__name__})"
    return f"the exchange failed ({type(exc).__name__})"


_CLAIM = (
    "update webhook_deliveries d set state = 'sending', attempts = d.attempts + 1,"
    " first_attempt_at = coalesce(d.first_attempt_at, $1), last_attempt_at = $1,"
    " lease_owner = $2, lease_until = $3"
    " from webhook_subscriptions s, webhook_events e"
    " where d.delivery_id in (select c.delivery_id from webhook_deliveries c"
    " join webhook_subscriptions cs using (subscription_id)"
    " where c.state = 'pending' and c.next_attempt_at <= $1 and cs.disabled_at is null"
    " order by c.next_attempt_at limit $4 for update of c skip locked)"
    " and s.subscription_id = d.subscription_id and e.webhook_id = d.webhook_id"
    " returning d.delivery_id, d.subscription_id, d.webhook_id, d.attempts, d.first_attempt_at,"
    " s.url, s.secret_encrypted, e.body"
)
# Every mark names the claim it settles: a claim that ran out and was taken by another process is not
# overwritten by the first process's late result.
_HELD = "delivery_id = $1 and state = 'sending' and lease_owner = $2"


@dataclass
class WebhookWorker:
    pool: Pool
    # Business time decides when a delivery is due; the webhook-timestamp header is real time, because
    # receivers check it against their own clocks.
    clock: Clock
    wall_clock: Clock
    cipher: Fernet
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    timeout_seconds: float = SEND_TIMEOUT_SECONDS
    # SIPVAKT_WEBHOOK_ALLOW_PRIVATE: deliver to private and loopback addresses too.
    allow_private: bool = False
    owner: str = field(default_factory=lambda: "whw_" + secrets.token_hex(6))
    _next_prune: float = 0.0

    def wake_up(self, *_: object) -> None:
        self.wake.set()

    def listen(self, database: DatabaseWatch) -> None:
        """Wake on new deliveries and whenever the test clock moves."""
        for channel in (WEBHOOKS_CHANNEL, CLOCK_CHANNEL):
            database.subscribe(channel, self.wake_up)

    async def run(self, stopping: asyncio.Event) -> None:
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
            # Deliveries are independent: no cookie set by one receiver goes back with the next.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Every host name is resolved here and only its public addresses are connected to.
            connector=None if self.allow_private else aiohttp.TCPConnector(resolver=PublicOnlyResolver()),
        )
        async with session:
            while not stopping.is_set():
                self.wake.clear()
                try:
                    await self.release_expired_leases()
                    await self.deliver_due(session)
                    await self._prune_now_and_then()
                except Exception as error:
                    log_failure(log, "delivering webhooks failed; retrying", error)
                await wait_for_any(self.wake, stopping, seconds=POLL_SECONDS)

    async def deliver_due(self, session: aiohttp.ClientSession) -> int:
        """Send every delivery due now, a batch at a time, the batch's POSTs side by side."""
        handled = 0
        while True:
            claimed = await self.pool.fetch(
                _CLAIM,
                await self.clock.now(),
                self.owner,
                await self.wall_clock.now() + LEASE,
                BATCH,
            )
            if not claimed:
                return handled
            await asyncio.gather(*(self._deliver(session, dict(row)) for row in claimed))
            handled += len(claimed)

    async def _deliver(self, session: aiohttp.ClientSession, row: dict[str, Any]) -> None:
        attempt = await self._post(session, row)
        now = await self.clock.now()
        extra = {"webhook_id": row["webhook_id"], "subscription_id": row["subscription_id"]}
        extra |= {"attempt": row["attempts"], "status": attempt.status}
        if attempt.delivered:
            await self.pool.execute(
                "update webhook_deliveries set state = 'delivered', delivered_at = $3, last_status = $4,"
                f" last_error = null, lease_owner = null, lease_until = null where {_HELD}",
                row["delivery_id"],
                self.owner,
                now,
                attempt.status,
            )
            log.info("webhook delivered", extra=extra)
            return
        error = attempt.error or f"HTTP {attempt.status}"
        retry_at = next_attempt(row["first_attempt_at"], row["attempts"], now, random.random())
        if retry_at is None:
            await self._give_up(row, attempt, error, now)
            return
        await self.pool.execute(
            "update webhook_deliveries set state = 'pending', next_attempt_at = $3, last_status = $4,"
            f" last_error = $5, lease_owner = null, lease_until = null where {_HELD}",
            row["delivery_id"],
            self.owner,
            retry_at,
            attempt.status,
            error,
        )
        log.warning("webhook deferred", extra={**extra, "reason": attempt.detail or error})

    async def _post(self, session: aiohttp.ClientSession, row: dict[str, Any]) -> Attempt:
        secret = decrypt(self.cipher, row["secret_encrypted"])
        if secret is None:
            return Attempt(None, "the subscription's secret is encrypted under another SIPVAKT_SECRET_KEY")
        body = row["body"].encode()
        timestamp = int((await self.wall_clock.now()).timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": row["webhook_id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key_from_secret(secret), row["webhook_id"], timestamp, body),
        }
        try:
            if not self.allow_private:
                _refuse_private_literal(row["url"])
            # A redirect is not followed: it would send case data somewhere the subscriber did not name.
            async with session.post(row["url"], data=body, headers=headers, allow_redirects=False) as answer:
                return Attempt(answer.status, None)
        except (TimeoutError, aiohttp.ClientError, NotPublicAddress) as exc:
            return Attempt(None, UNREACHABLE, describe_failure(exc, self.timeout_seconds))
        except (ValueError, UnicodeError) as exc:
            # A URL stored before its host was checked may be one aiohttp cannot even parse; that must fail
            # this delivery only, not the batch beside it (whose claims would then wait out their lease).
            return Attempt(None, UNREACHABLE, f"the URL cannot be used ({type(exc).__name__})")

    async def _give_up(self, row: dict[str, Any], attempt: Attempt, error: str, now: datetime) -> None:
        """Fail the delivery, disable its subscription and tell the subscription's notify_email, at once."""
        subscription_id = row["subscription_id"]
        async with self.pool.acquire() as connection, connection.transaction():
            failed = await connection.fetchval(
                "update webhook_deliveries set state = 'failed', last_status = $3, last_error = $4,"
                f" lease_owner = null, lease_until = null where {_HELD} returning delivery_id",
                row["delivery_id"],
                self.owner,
                attempt.status,
                error,
            )
            if failed is None:
                return
            reason = f"webhook {row['webhook_id']} was not delivered within three days; last error: {error}"
            subscription = await connection.fetchrow(
                "update webhook_subscriptions set disabled_at = $2, disabled_reason = $3"
                " where subscription_id = $1 and disabled_at is null"
                " returning subscription_id, url, description, notify_email",
                subscription_id,
                now,
                reason,
            )
            # Another delivery of the same subscription may have disabled it a moment ago: one e-mail.
            if subscription is not None:
                await _queue_disabled_notice(connection, subscription, row["first_attempt_at"], error, now)
        log.warning(
            "webhook failed for good; subscription disabled",
            extra={
                "webhook_id": row["webhook_id"],
                "subscription_id": subscription_id,
                "reason": attempt.detail or error,
            },
        )

    async def release_expired_leases(self) -> int:
        """Hand back deliveries whose claiming process died mid-send; they are due again at once."""
        status: str = await self.pool.execute(
            "update webhook_deliveries set state = 'pending', lease_owner = null, lease_until = null"
            " where state = 'sending' and lease_until <= $1",
            await self.wall_clock.now(),
        )
        released = int(status.rsplit(" ", 1)[1])
        if released:
            log.warning("webhook claims released", extra={"released": released})
        return released

    async def _prune_now_and_then(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_prune:
            return
        self._next_prune = loop.time() + PRUNE_EVERY_SECONDS
        await prune_finished(self.pool, await self.clock.now() - KEEP_FINISHED)


def _refuse_private_literal(url: str) -> None:
    """aiohttp connects to an address written in the URL without asking the resolver, so such an address is
    checked here (a subscription made before the rule, or while private addresses were allowed, has one).
    A host name, localhost too, is judged by what it resolves to."""
    address = literal_address(urlsplit(url).hostname or "")
    if address is not None and not is_public(address):
        raise NotPublicAddress("the webhook host is not a public address")


async def _queue_disabled_notice(
    connection: Connection, subscription: asyncpg.Record, failing_since: datetime, error: str, now: datetime
) -> None:
    """A plain e-mail about no single case (migration 0004 lets an outbox row have none). It names the
    endpoint by its origin only: the rest of the URL may hold a token of the receiver's."""
    url = urlsplit(subscription["url"])
    await connection.execute(
        "insert into outbox (message_id, case_id, kind, channel, recipient, payload, next_attempt_at,"
        " created_at) values ($1, null, 'notice', 'email', $2, $3, $4, $4)"
        " on conflict (message_id) do nothing",
        f"webhook_disabled/{subscription['subscription_id']}/{iso_utc(now)}",
        subscription["notify_email"],
        {
            "notice": "webhook_disabled",
            "subscription_id": subscription["subscription_id"],
            "description": subscription["description"],
            "endpoint": f"{url.scheme}://{url.netloc}",
            "failing_since": failing_since.isoformat(),
            "last_error": error,
        },
        now,
    )
    await connection.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)


async def prune_finished(pool: Pool, before: datetime) -> int:
    """Delete delivered and failed deliveries made before `before`, then events nobody waits for, a chunk
    per transaction; one process at a time (the others skip their turn)."""
    deleted = chunk = PRUNE_CHUNK
    while chunk == PRUNE_CHUNK:
        async with pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval(
                "select pg_try_advisory_xact_lock(hashtextextended('sipvakt:job:webhooks.prune', 0))"
            ):
                return 0
            status = await connection.execute(
                "delete from webhook_deliveries where delivery_id in (select delivery_id from"
                " webhook_deliveries where state in ('delivered', 'failed') and created_at < $1 limit $2)",
                before,
                PRUNE_CHUNK,
            )
            chunk = int(status.rsplit(" ", 1)[1])
            deleted += chunk
            await connection.execute(
                "delete from webhook_events e where created_at < $1"
                " and not exists (select 1 from webhook_deliveries d where d.webhook_id = e.webhook_id)",
                before,
            )
    return deleted - PRUNE_CHUNK
