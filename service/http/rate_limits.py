"""Rate limits per source address on the doors that a stranger can knock on: failed webhook signatures,
sign-in (link requests and failed confirmations) and unknown reply-page tokens.

The counts live in PostgreSQL (one row per kind, source and fixed window, bumped in one statement), so a
limit holds across every replica on the database. Only what is counted costs a statement: a failed
attempt, or a sign-in link request. A process that finds a source over its limit remembers that until the
window ends and refuses the source's further requests before doing any work; another replica learns it
at the source's next counted attempt there, so a source gets at most one extra attempt per replica.

The source is the address the connection came from (an IPv6 address by its /64, which one subscriber
line usually holds). Behind a reverse proxy every request would seem to come from the proxy, so the
proxies named in SIPVAKT_TRUSTED_PROXIES are looked through, by X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from config.settings import Settings
from scheduler.clock import Clock
from service.metrics import Metrics
from service.storage.database import Pool

# Blocked sources remembered by one process; beyond this, the ones whose block has ended are dropped.
REMEMBER_AT_MOST = 10_000


@dataclass(frozen=True)
class Limit:
    """At most `attempts` counted attempts per source in each `window`; 0 attempts means no limit."""

    kind: str
    attempts: int
    window: timedelta


@dataclass(frozen=True)
class Limits:
    signatures: Limit
    sign_in: Limit
    reply_tokens: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        window = timedelta(seconds=settings.rate_limit_window_seconds)
        return cls(
            signatures=Limit("webhook_signature", settings.rate_limit_webhook_signatures, window),
            sign_in=Limit("sign_in", settings.rate_limit_sign_in, window),
            reply_tokens=Limit("reply_token", settings.rate_limit_reply_tokens, window),
        )


class RateLimited(Exception):
    """A source is over a limit; try again after `retry_after` whole seconds."""

    def __init__(self, kind: str, retry_after: int) -> None:
        super().__init__(f"too many attempts ({kind})")
        self.kind = kind
        self.retry_after = retry_after


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def source_of(request: web.Request, trusted_proxies: tuple[Network, ...] = ()) -> str:
    """The address a request came from, an IPv6 one by its /64. From a trusted proxy, the nearest address
    in X-Forwarded-For that is not itself a trusted proxy (the ones further left are the client's word)."""
    peer = _address(request.remote or "")
    if peer is None:
        return "unknown"
    if trusted_proxies and _within(peer, trusted_proxies):
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
        for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            address = _address(hop)
            if address is None:
                break  # a hop that is no address: trust nothing further left of it
            peer = address
            if not _within(address, trusted_proxies):
                break
    return _key(peer)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


_BUMP = (
    "insert into rate_limit_hits (bucket, source, window_start, hits) values ($1, $2, $3, 1)"
    " on conflict (bucket, source, window_start) do update set hits = rate_limit_hits.hits + 1"
    " returning hits"
)


@dataclass
class RateLimiter:
    pool: Pool
    # Real time: a limit is about how fast requests arrive, whatever the test clock says.
    clock: Clock
    metrics: Metrics
    limits: Limits
    trusted_proxies: tuple[Network, ...] = ()
    _blocked: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def source(self, request: web.Request) -> str:
        return source_of(request, self.trusted_proxies)

    async def check(self, limit: Limit, source: str) -> None:
        """Refuse a source this process already knows to be over the limit; no database work."""
        if limit.attempts <= 0:
            return
        until = self._blocked.get((limit.kind, source))
        if until is None:
            return
        now = await self.clock.now()
        if now >= until:
            del self._blocked[(limit.kind, source)]
            return
        self._refuse(limit, until, now)

    async def count(self, limit: Limit, source: str) -> None:
        """Count one attempt of the source; refuse it if that takes the source over the limit."""
        if limit.attempts <= 0:
            return
        now = await self.clock.now()
        start = _window_start(now, limit.window)
        async with self.pool.acquire() as connection:
            hits: int = await connection.fetchval(_BUMP, limit.kind, source, start)
            if hits == 1:
                # A new window: the rows of windows long over are of no use any more.
                await connection.execute(
                    "delete from rate_limit_hits where bucket = $1 and window_start < $2",
                    limit.kind,
                    start - limit.window,
                )
        if hits > limit.attempts:
            until = start + limit.window
            self._remember(limit.kind, source, until, now)
            self._refuse(limit, until, now)

    def _refuse(self, limit: Limit, until: datetime, now: datetime) -> None:
        self.metrics.rate_limited.labels(limit.kind).inc()
        raise RateLimited(limit.kind, max(1, math.ceil((until - now).total_seconds())))

    def _remember(self, kind: str, source: str, until: datetime, now: datetime) -> None:
        if len(self._blocked) >= REMEMBER_AT_MOST:
            self._blocked = {key: end for key, end in self._blocked.items() if end > now}
        if len(self._blocked) < REMEMBER_AT_MOST:
            self._blocked[(kind, source)] = until


def _window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window `now` falls in, counted from the epoch so every process agrees."""
    seconds = max(int(window.total_seconds()), 1)
    epoch = datetime.fromtimestamp(0, now.tzinfo)
    elapsed = int((now - epoch).total_seconds())
    return epoch + timedelta(seconds=elapsed - elapsed % seconds)
