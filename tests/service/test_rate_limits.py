"""Rate limits per source address: failed webhook signatures, sign-in, unknown reply-page tokens. Over real
HTTP and a real database; the counts are shared by every process on the database."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from config.settings import SettingsError, load_settings
from service.http.rate_limits import Limit, Limits, RateLimited, RateLimiter, source_of
from service.metrics import Metrics
from service.storage.database import Pool
from tests import samples
from tests.service.harness import Service, service_settings, started
from tests.service.mail import MailSink, mailing_settings

WINDOW = 600


def limited(**limits: int) -> dict[str, str]:
    return {f"SIPVAKT_RATE_LIMIT_{name.upper()}": str(value) for name, value in limits.items()}


async def assert_429_problem(response: ClientResponse) -> dict[str, Any]:
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = await response.json(content_type="application/problem+json")
    assert body["status"] == 429 and body["type"].endswith("/too-many-requests")
    return body


async def assert_429_page(response: ClientResponse) -> str:
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW
    assert response.headers["Content-Type"].startswith("text/html")
    page = await response.text()
    assert "För många försök" in page
    return page


async def rate_limited_count(service: Service, kind: str) -> float:
    text = await (await service.client.get("/metrics")).text()
    match = re.search(rf'^sipvakt_rate_limited_total{{kind="{kind}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_failed_signatures_are_limited_per_source_across_replicas(
    database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, **limited(webhook_signatures=3))
    wrong = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    async with started(settings) as first, started(settings) as second:
        for _ in range(3):
            assert (await first.push(samples.case_opened(), secret=wrong)).status == 401
        body = await assert_429_problem(await first.push(samples.case_opened(), secret=wrong))
        assert "whsec" not in str(body)
        # Once over, the source is refused before its signature is looked at, a right one too.
        await assert_429_problem(await first.push(samples.case_opened()))
        # The other replica counts on the same rows: the source's next failure there is refused.
        await assert_429_problem(await second.push(samples.case_opened(), secret=wrong))
        assert await rate_limited_count(first, "webhook_signature") == 2
        assert await rate_limited_count(second, "webhook_signature") == 1
        assert await first.runtime.pool.fetchval("select count(*) from events") == 0


async def test_a_good_signature_is_never_counted(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path, **limited(webhook_signatures=1))
    async with started(settings) as service:
        for event in (samples.case_opened(), samples.consent_given(), samples.meeting_scheduled()):
            assert (await service.push(event)).status == 202
        assert await service.runtime.pool.fetchval("select count(*) from rate_limit_hits") == 0


async def test_sign_in_link_requests_and_failed_confirmations_are_limited(
    database_url: str, tmp_path: Path, sink: tuple[MailSink, int]
) -> None:
    settings = mailing_settings(database_url, tmp_path, sink[1], **limited(sign_in=3))
    async with started(settings) as service:
        login = await (await service.client.get("/app/login")).text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert csrf
        form = {"email": "ingen.alls@kommun.example", "csrf_token": csrf.group(1)}
        for _ in range(2):
            assert (await service.client.post("/app/login", data=form)).status == 200
        bogus = await service.client.get("/app/login/link?token=not-a-real-token")
        assert bogus.status == 400  # the third attempt of the window
        page = await assert_429_page(await service.client.post("/app/login", data=form))
        assert "ingen.alls" not in page
        confirm = {"token": "not-a-real-token", "csrf_token": csrf.group(1)}
        await assert_429_page(await service.client.post("/app/login/link", data=confirm))
        await assert_429_page(await service.client.get("/app/login/link?token=not-a-real-token"))
        assert await rate_limited_count(service, "sign_in") == 3


async def test_unknown_reply_tokens_are_limited(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path, **limited(reply_tokens=2))
    async with started(settings) as service:
        for guess in ("gissning-ett", "gissning-tva"):
            assert (await service.client.get(f"/rsvp/{guess}")).status == 404
        page = await assert_429_page(await service.client.get("/rsvp/gissning-tre"))
        assert "gissning" not in page
        refused = await service.client.post("/rsvp/gissning-fyra", data={"token": "gissning-fyra"})
        await assert_429_page(refused)
        assert await rate_limited_count(service, "reply_token") == 2


async def test_a_limit_of_zero_is_no_limit(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path, **limited(reply_tokens=0))
    async with started(settings) as service:
        for number in range(40):
            assert (await service.client.get(f"/rsvp/gissning-{number}")).status == 404
        assert await service.runtime.pool.fetchval("select count(*) from rate_limit_hits") == 0


class MovableClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    async def now(self) -> datetime:
        return self.moment


async def test_a_window_ends_and_the_source_may_try_again(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path)
    async with started(settings) as service:
        pool: Pool = service.runtime.pool
        clock = MovableClock(datetime(2026, 11, 23, 8, 0, 10, tzinfo=UTC))
        limit = Limit("sign_in", 2, timedelta(minutes=10))
        limiter = RateLimiter(pool, clock, Metrics(), Limits(limit, limit, limit))
        await limiter.count(limit, "192.0.2.7")
        await limiter.count(limit, "192.0.2.7")
        with pytest.raises(RateLimited) as refused:
            await limiter.count(limit, "192.0.2.7")
        assert refused.value.retry_after == 590  # to the end of the window 08:00–08:10
        await limiter.count(limit, "192.0.2.8")  # another source has its own count
        clock.moment += timedelta(minutes=5)
        with pytest.raises(RateLimited):
            await limiter.check(limit, "192.0.2.7")
        clock.moment += timedelta(minutes=5)
        await limiter.check(limit, "192.0.2.7")
        await limiter.count(limit, "192.0.2.7")
        clock.moment += timedelta(minutes=30)
        await limiter.count(limit, "192.0.2.7")  # a new window clears the rows of old ones
        windows = await pool.fetchval("select count(distinct window_start) from rate_limit_hits")
        assert windows == 1


@pytest.mark.parametrize(
    ("remote", "source"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ],
)
def test_an_ipv6_source_is_its_64(remote: str, source: str) -> None:
    request = make_mocked_request("GET", "/", transport=_Transport(remote), app=web.Application())
    assert source_of(request) == source


@pytest.mark.parametrize(
    ("remote", "forwarded", "source"),
    [
        ("10.0.0.5", ["198.51.100.9"], "198.51.100.9"),
        ("10.0.0.5", ["203.0.113.1, 198.51.100.9"], "198.51.100.9"),  # the left part is the client's word
        ("10.0.0.5", ["198.51.100.9, 10.0.0.7"], "198.51.100.9"),  # through two proxies
        ("10.0.0.5", ["203.0.113.1", "198.51.100.9"], "198.51.100.9"),  # the header sent twice
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.5"),
        ("192.0.2.7", ["198.51.100.9"], "192.0.2.7"),  # not a proxy: its header is not believed
    ],
)
def test_a_trusted_proxy_is_looked_through(remote: str, forwarded: list[str], source: str) -> None:
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    request = make_mocked_request(
        "GET", "/", headers=headers, transport=_Transport(remote), app=web.Application()
    )
    assert source_of(request, (ipaddress.ip_network("10.0.0.0/8"),)) == source


class _Transport:
    """The peer of a request made without a network: aiohttp reads `remote` from the transport's peername."""

    def __init__(self, remote: str) -> None:
        self.remote = remote

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.remote, 40000) if name == "peername" else default


def test_the_limits_and_proxies_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "SIPVAKT_RATE_LIMIT_SIGN_IN": "5",
            "SIPVAKT_RATE_LIMIT_WINDOW_SECONDS": "60",
            "SIPVAKT_TRUSTED_PROXIES": "10.0.0.0/8, fd00::1",
        }
    )
    limits = Limits.from_settings(settings)
    assert limits.sign_in == Limit("sign_in", 5, timedelta(seconds=60))
    assert limits.signatures.attempts == 30 and limits.reply_tokens.attempts == 30
    assert settings.trusted_proxy_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::1/128"),
    )
    with pytest.raises(SettingsError) as bad:
        load_settings({"SIPVAKT_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example.se"})
    assert str(bad.value).startswith("SIPVAKT_TRUSTED_PROXIES:") and "proxy.example.se" not in str(bad.value)
    with pytest.raises(SettingsError):
        load_settings({"SIPVAKT_RATE_LIMIT_SIGN_IN": "-1"})
