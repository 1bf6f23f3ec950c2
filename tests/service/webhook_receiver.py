"""A real HTTP endpoint on loopback that receives sipvakt's webhooks, and helpers to subscribe it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook

from tests.service.harness import ADMIN_TOKEN, Service


@dataclass(frozen=True)
class Receipt:
    """One POST as it arrived, and what the receiver answered."""

    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded

    def verified(self, secret: str) -> dict[str, Any]:
        """The event, after the reference implementation of Standard Webhooks checked its signature."""
        event: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return event


@dataclass
class Receiver:
    """Answers 500 to the first `failures` attempts of each webhook-id, then 200."""

    url: str = ""
    failures: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    _seen: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        self._seen[webhook_id] += 1
        answer = 500 if self._seen[webhook_id] <= self.failures else 200
        self.receipts.append(Receipt(headers, await request.read(), answer))
        return web.Response(status=answer, text="ok" if answer == 200 else "not now")

    def delivered(self) -> list[Receipt]:
        return [receipt for receipt in self.receipts if 200 <= receipt.answered < 300]

    def event(self, webhook_id: str) -> dict[str, Any]:
        """The event delivered under this webhook-id."""
        [receipt] = [receipt for receipt in self.delivered() if receipt.webhook_id == webhook_id]
        return receipt.event

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The events that were answered with 2xx, in arrival order (retries and parallel sends make that
        differ from the order the events happened in)."""
        found = [receipt.event for receipt in self.delivered()]
        return [event for event in found if event_type is None or event["type"] == event_type]


@asynccontextmanager
async def receiving(port: int = 0, failures: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(failures=failures)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{bound}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def subscribe(
    service: Service,
    url: str,
    *,
    token: str = ADMIN_TOKEN,
    event_types: list[str] | None = None,
    notify_email: str = "drift@example.se",
) -> dict[str, Any]:
    """Create a subscription through the API; return the answer (with the secret)."""
    response = await service.client.post(
        "/v1/webhook-subscriptions",
        json={"url": url, "event_types": event_types or ["*"], "notify_email": notify_email},
        headers=bearer(token),
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def move_clock(service: Service, moment: str) -> None:
    """Move the test clock; the answer comes when every delivery due by then has been attempted."""
    response = await service.client.post("/v1/test-clock", json={"now": moment})
    assert response.status == 200, await response.text()


async def deliveries(
    service: Service, subscription_id: str, token: str = ADMIN_TOKEN
) -> list[dict[str, Any]]:
    response = await service.client.get(
        f"/v1/webhook-subscriptions/{subscription_id}/deliveries?limit=500", headers=bearer(token)
    )
    assert response.status == 200, await response.text()
    found: list[dict[str, Any]] = (await response.json())["deliveries"]
    return found


async def newest(service: Service, subscription_id: str, event_type: str) -> str:
    """The webhook-id of the subscription's most recent event of this type."""
    rows = await deliveries(service, subscription_id)
    webhook_id: str = next(row["webhook_id"] for row in rows if row["event_type"] == event_type)
    return webhook_id


# The receivers listen on loopback, which an installation must allow explicitly.
ALLOW_PRIVATE = {"SIPVAKT_WEBHOOK_ALLOW_PRIVATE": "true"}
