"""Outgoing webhooks reach only public https addresses: refused when the subscription is made, and again at
each delivery after the host name is resolved, with one failure reason whatever happened on the way."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from service.storage.webhook_events import WEBHOOKS_CHANNEL
from service.workers.webhook_delivery import UNREACHABLE
from service.workers.webhook_targets import NotPublicAddress, PublicOnlyResolver, is_public, literal_address
from tests import samples
from tests.service.harness import ADMIN_TOKEN, service_settings, started
from tests.service.mail import free_port
from tests.service.webhook_receiver import ALLOW_PRIVATE, bearer, deliveries, receiving, subscribe

BASE = "/v1/webhook-subscriptions"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "169.254.169.254",  # the cloud metadata address
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2a00:1450:4001:80b::200e", "::ffff:93.184.215.14"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1"])
def test_old_ipv4_spellings_are_read_as_the_address_they_reach(spelling: str) -> None:
    assert literal_address(spelling) == ipaddress.IPv4Address("127.0.0.1")


def test_host_names_are_not_addresses() -> None:
    assert literal_address("hooks.example.se") is None
    assert literal_address("deadbeef.example.se") is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://169.254.169.254/latest/meta-data/", "public address"),
        ("https://10.0.0.1/", "public address"),
        ("https://192.168.10.20/hook", "public address"),
        ("https://100.64.1.1/hook", "public address"),
        ("https://[fd00::1]/hook", "public address"),
        ("https://[fe80::1]/hook", "public address"),
        ("https://[::ffff:10.0.0.1]/hook", "public address"),
        ("https://2130706433/hook", "loopback"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://hooks.localhost/hook", "loopback"),
        ("http://127.0.0.1:8099/hook", "https"),
        ("http://localhost/hook", "https"),
        ("https://hooks.example.se:0/hook", "port"),
        ("file:///etc/passwd", "https"),
        ("https://./hook", "valid host name"),
        ("https://hooks..example.se/hook", "valid host name"),
        ("https://-hooks.example.se/hook", "valid host name"),
    ],
)
async def test_a_subscription_to_a_non_public_address_is_refused(
    database_url: str, tmp_path: Path, url: str, words: str
) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        response = await service.client.post(
            BASE,
            json={"url": url, "event_types": ["*"], "notify_email": "drift@example.se"},
            headers=bearer(ADMIN_TOKEN),
        )
        assert response.status == 400
        body: dict[str, Any] = await response.json(content_type="application/problem+json")
        [error] = body["errors"]
        assert error["loc"] == ["url"] and words in error["msg"]
        assert url.split("//", 1)[1] not in str(body)
        assert await service.runtime.pool.fetchval("select count(*) from webhook_subscriptions") == 0


async def test_a_public_https_url_is_accepted(database_url: str, tmp_path: Path) -> None:
    async with started(service_settings(database_url, tmp_path)) as service:
        created = await subscribe(service, "https://hooks.example.se/sipvakt")
        assert created["url"] == "https://hooks.example.se/sipvakt"


async def test_every_delivery_checks_the_address_it_connects_to(database_url: str, tmp_path: Path) -> None:
    """Subscriptions made while private addresses were allowed get nothing once they are not: neither a
    live receiver by address nor one by a name that resolves to loopback. A closed port and an open one
    leave the same reason in the deliveries view, so the view cannot be used to scan ports."""
    closed_port = free_port()
    async with receiving() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        async with started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as before:
            ids = [
                (await subscribe(before, url))["subscription_id"]
                for url in (receiver.url, by_name, f"http://127.0.0.1:{closed_port}/hook")
            ]
        async with started(service_settings(database_url, tmp_path)) as service:
            assert (await service.push(samples.case_opened())).status == 202
            await service.settle()
            assert receiver.receipts == []
            reasons = []
            for subscription_id in ids:
                [delivery] = await deliveries(service, subscription_id)
                assert delivery["state"] == "pending" and delivery["last_status"] is None
                reasons.append(delivery["last_error"])
            assert reasons == [UNREACHABLE] * 3

        # The same subscriptions, allowed again, do reach the live receiver: the check is what stopped them.
        async with started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as after:
            for subscription_id in ids:
                await after.runtime.pool.execute(
                    "update webhook_deliveries set next_attempt_at = $2 where subscription_id = $1",
                    subscription_id,
                    await after.runtime.clock.now(),
                )
            await after.runtime.pool.execute("select pg_notify($1, '')", WEBHOOKS_CHANNEL)
            await after.settle()
            assert len(receiver.delivered()) == 2
            [closed] = await deliveries(after, ids[2])
            assert closed["last_error"] == UNREACHABLE


async def test_a_url_that_cannot_even_be_sent_to_fails_only_its_own_delivery(
    database_url: str, tmp_path: Path
) -> None:
    """A stored URL the HTTP client cannot parse (from before hosts were checked) leaves its delivery pending
    with the usual reason, and the delivery beside it in the same batch goes out; nothing waits for a
    claim's lease to run out."""
    async with (
        started(service_settings(database_url, tmp_path, **ALLOW_PRIVATE)) as service,
        receiving() as receiver,
    ):
        broken = (await subscribe(service, "https://hooks.example.se/hook"))["subscription_id"]
        await service.runtime.pool.execute(
            "update webhook_subscriptions set url = 'https://../hook' where subscription_id = $1", broken
        )
        await subscribe(service, receiver.url)
        assert (await service.push(samples.case_opened())).status == 202
        await service.settle()
        assert len(receiver.delivered()) == 1
        [delivery] = await deliveries(service, broken)
        assert delivery["state"] == "pending" and delivery["last_error"] == UNREACHABLE


async def test_the_resolver_refuses_names_of_this_machine() -> None:
    resolver = PublicOnlyResolver()
    try:
        for name in ("localhost", socket.gethostname()):
            with pytest.raises(NotPublicAddress):
                await resolver.resolve(name, 443)
    finally:
        await resolver.close()


class _Rebinding(AbstractResolver):
    """Stands in for a DNS server under a subscriber's control (none can be run here): it answers a public
    and a private address for the same name, as a rebinding attack does."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        def answer(address: str) -> ResolveResult:
            return ResolveResult(
                hostname=host, host=address, port=port, family=family, proto=0, flags=socket.AI_NUMERICHOST
            )

        return [answer("10.1.2.3"), answer("93.184.215.14"), answer("169.254.169.254")]

    async def close(self) -> None:
        return None


async def test_only_the_public_answers_of_a_name_are_connected_to() -> None:
    found = await PublicOnlyResolver(_Rebinding()).resolve("hooks.example.se", 443)
    assert [result["host"] for result in found] == ["93.184.215.14"]
