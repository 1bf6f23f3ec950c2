"""A running sipvakt (real PostgreSQL, real HTTP) for tests, and a signing client for its intake."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from standardwebhooks import Webhook

from config.settings import Settings, load_settings
from service import access
from service.context import Runtime
from service.http.app import build_app
from service.http.http_server import ApiRunner
from service.http.signatures import key_from_secret, sign
from service.http.testclock import settle
from service.server import running
from service.storage.secrets import new_webhook_secret
from service.workers.processor import EventProcessor

ADMIN_TOKEN = "test-admin-token-" + "x" * 16


class ApiTestServer(TestServer):
    """The application behind the same runner as `sipvakt serve`, so malformed requests meet it too."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return ApiRunner(self.app, **kwargs)


@dataclass
class Service:
    client: TestClient[Any, Any]
    runtime: Runtime
    processor: EventProcessor
    secret: str

    async def push(
        self,
        body: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        timestamp: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        message_id = webhook_id or "msg_" + secrets.token_hex(8)
        moment = timestamp or datetime.now(UTC)
        signing_secret = secret or self.secret
        try:
            # The reference implementation signs: intake is tested against the standard, not against itself.
            signature = Webhook(signing_secret).sign(message_id, moment, raw.decode("utf-8"))
        except UnicodeDecodeError:
            # The reference implementation cannot sign bytes that are not UTF-8; the scheme itself can.
            signature = sign(key_from_secret(signing_secret), message_id, int(moment.timestamp()), raw)
        sent = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature,
        }
        sent.update(headers or {})
        return await self.client.post("/v1/events", data=raw, headers=sent)

    async def settle(self) -> None:
        """Wait until the service's workers have done everything due at the current (test) time."""
        left = await settle(self.runtime.pool, await self.runtime.clock.now(), seconds=30)
        assert left.empty, left

    async def token(self, role: access.Role, regions: list[str], organisations: list[str]) -> str:
        """A new bearer token with this role and scope."""
        async with self.runtime.pool.acquire() as connection:
            issued = await access.create_token(
                connection,
                role=role,
                regions=regions,
                organisations=organisations,
                integration_id=None,
                label="test",
                now=datetime.now(UTC),
            )
        return issued.token

    async def post_letters(self, token: str = ADMIN_TOKEN) -> list[str]:
        """Mark every letter in the print queue posted, as a coordinator does after printing them."""
        headers = {"Authorization": f"Bearer {token}"}
        listing = await (await self.client.get("/v1/letters?state=queued", headers=headers)).json()
        posted = []
        for letter in listing["letters"]:
            response = await self.client.post(f"/v1/letters/{letter['letter_id']}/sent", headers=headers)
            assert response.status == 200, await response.text()
            posted.append(letter["letter_id"])
        return posted

    async def other_integration(self, name: str = "annat-system") -> tuple[access.IssuedSecret, str]:
        """A further integration: its webhook secret, and an integration token of it scoped to everything."""
        now = datetime.now(UTC)
        async with self.runtime.pool.acquire() as connection:
            issued = await access.create_integration(connection, self.runtime.cipher, name, now)
            token = await access.create_token(
                connection,
                role="integration",
                regions=["*"],
                organisations=["*"],
                integration_id=issued.integration_id,
                label="",
                now=now,
            )
        return issued, token.token

    async def case(self, case_id: str, token: str = ADMIN_TOKEN) -> ClientResponse:
        return await self.client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})


def service_settings(database_url: str, data_dir: Path, **overrides: str) -> Settings:
    environ = {
        "SIPVAKT_DATABASE_URL": database_url,
        "SIPVAKT_DATA_DIR": str(data_dir),
        "SIPVAKT_WEBHOOK_SECRET": new_webhook_secret(),
        "SIPVAKT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SIPVAKT_TEST_CLOCK": "2026-11-23T09:00:00+01:00",
    }
    environ.update(overrides)
    return load_settings(environ)


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Service]:
    async with running(settings) as (runtime, processor):
        client = TestClient(ApiTestServer(build_app(runtime)))
        await client.start_server()
        try:
            assert settings.webhook_secret is not None
            yield Service(client, runtime, processor, settings.webhook_secret)
        finally:
            await client.close()
